/**
 * Everything the engine keeps about one customer, as one value.
 *
 * One read and one write per customer per batch, whatever number of
 * aggregates and audiences the rules have. Slot states are keyed by the
 * slot's stable id (a hash of its canonical text), so a customer's
 * `count(purchase) over 90 days` survives a rule change that keeps it.
 *
 * Stored under the key `c/<customer id>`, encoded as:
 *
 *     byte 0       0xA1, the format (a JSON value, written before it, starts with '{')
 *     bytes 1..8   t, the customer's timer, float64 big-endian; NaN for none
 *     bytes 9..    MessagePack of { s, m, w, n }
 *
 * The timer comes first and fixed so that rebuilding the timer index after a
 * restore (runtime/changelog.ts) reads nine bytes per customer instead of
 * decoding every state. MessagePack rather than JSON: encoding a state is the
 * largest cost of a commit, and MessagePack is faster to encode and smaller
 * (docs/decisions/2026-12-04-messagepack-customer-state.md). Values written
 * as JSON by earlier versions are still read.
 */
import { Packr } from 'msgpackr';

export interface CustomerState {
  /** Operator state per slot id. */
  s: Record<string, unknown>;
  /** Membership per audience: [1 inside | 0 outside, version of the last enter/leave]. */
  m: Record<string, [0 | 1, number]>;
  /** Per audience, the next instant its value may change by time alone (absent: never). */
  w: Record<string, number>;
  /** The earliest of `w`: when this customer's timer fires; null when none is due. */
  t: number | null;
  /** Events applied to this customer: orders events of equal time by arrival. */
  n: number;
}

export function emptyCustomerState(): CustomerState {
  return { s: {}, m: {}, w: {}, t: null, n: 0 };
}

const FORMAT_V1 = 0xa1;
const HEADER_BYTES = 9;
/** Plain MessagePack: no shared record structures, so every value decodes on its own. */
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });
const jsonDecoder = new TextDecoder();

export function encodeCustomerState(state: CustomerState): Uint8Array {
  const body = packr.pack({ s: state.s, m: state.m, w: state.w, n: state.n });
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out[0] = FORMAT_V1;
  out.writeDoubleBE(state.t ?? Number.NaN, 1);
  body.copy(out, HEADER_BYTES);
  return out;
}

export function decodeCustomerState(bytes: Uint8Array): CustomerState {
  if (bytes[0] !== FORMAT_V1) return decodeJson(bytes);
  const body = packr.unpack(bytes.subarray(HEADER_BYTES)) as Partial<CustomerState>;
  return { s: body.s ?? {}, m: body.m ?? {}, w: body.w ?? {}, t: customerTimer(bytes), n: body.n ?? 0 };
}

/** The customer's timer without decoding the rest of the state. */
export function customerTimer(bytes: Uint8Array): number | null {
  if (bytes[0] !== FORMAT_V1) return decodeJson(bytes).t;
  const t = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(1);
  return Number.isNaN(t) ? null : t;
}

function decodeJson(bytes: Uint8Array): CustomerState {
  const parsed = JSON.parse(jsonDecoder.decode(bytes)) as Partial<CustomerState>;
  return { s: parsed.s ?? {}, m: parsed.m ?? {}, w: parsed.w ?? {}, t: parsed.t ?? null, n: parsed.n ?? 0 };
}
