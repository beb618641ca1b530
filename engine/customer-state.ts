/**
 * Everything the engine keeps about one customer, as one value.
 *
 * One read and one write per customer per batch, whatever number of
 * aggregates and audiences the rules have. Slot states are keyed by the
 * slot's stable id (a hash of its canonical text), so a customer's
 * `count(purchase) over 90 days` survives a rule change that keeps it.
 * Memberships and wakes are arrays in the order of the rules' audiences
 * (audience-list.ts), so that evaluating an audience reads and writes an
 * array cell rather than a property named after it.
 *
 * Stored under the key `c/<customer id>`, encoded as:
 *
 *     byte 0       0xA2, the format
 *     bytes 1..8   t, the customer's timer, float64 big-endian; NaN for none
 *     bytes 9..    MessagePack of { s, l, m, w, n }
 *
 *     l   the id of the audience list m and w are indexed by
 *     m   [index, version, ...] for each audience entered at least once;
 *         the version of its last enter/leave, negative when outside
 *     w   [index, instant, ...] for each audience that may change by time alone
 *
 * The timer comes first and fixed so that rebuilding the timer index after a
 * restore (runtime/changelog.ts) reads nine bytes per customer instead of
 * decoding every state. MessagePack rather than JSON: encoding a state is the
 * largest cost of a commit, and MessagePack is faster to encode and smaller
 * (docs/decisions/2026-12-04-messagepack-customer-state.md). States written
 * by earlier versions (0xA1: MessagePack with memberships keyed by audience
 * name; JSON before that) are still read.
 */
import { Packr } from 'msgpackr';
import type { AudienceLists } from './audience-list.js';

export interface CustomerState {
  /** Operator state per slot id. */
  s: Record<string, unknown>;
  /**
   * Per audience, in the rules' order: the version of its last enter/leave,
   * positive while inside, negative once left; 0: never entered.
   */
  m: Float64Array;
  /** Per audience: the next instant its value may change by time alone; Infinity: never. */
  w: Float64Array;
  /** The earliest of `w`: when this customer's timer fires; null when none is due. */
  t: number | null;
  /** Events applied to this customer: orders events of equal time by arrival. */
  n: number;
}

export function emptyCustomerState(audiences: number): CustomerState {
  return { s: {}, m: new Float64Array(audiences), w: new Float64Array(audiences).fill(Infinity), t: null, n: 0 };
}

/** Whether the customer is inside audience `i`. */
export function isMember(state: CustomerState, i: number): boolean {
  return state.m[i]! > 0;
}

/** The version of audience `i`'s last enter or leave; 0: never entered. */
export function membershipVersion(state: CustomerState, i: number): number {
  return Math.abs(state.m[i]!);
}

const FORMAT_V1 = 0xa1;
const FORMAT_V2 = 0xa2;
const HEADER_BYTES = 9;
/** Plain MessagePack: no shared record structures, so every value decodes on its own. */
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });
const jsonDecoder = new TextDecoder();

interface EncodedBody {
  s?: Record<string, unknown>;
  l?: string;
  m?: number[];
  w?: number[];
  n?: number;
}

/** Customer states of one partition's rules: arrays indexed by `lists.current`. */
export class CustomerStateCodec {
  constructor(private readonly lists: AudienceLists) {}

  get audiences(): number { return this.lists.current.names.length; }

  empty(): CustomerState { return emptyCustomerState(this.audiences); }

  encode(state: CustomerState): Uint8Array {
    const m: number[] = [];
    const w: number[] = [];
    for (let i = 0; i < state.m.length; i++) {
      if (state.m[i] !== 0) m.push(i, state.m[i]!);
      if (state.w[i] !== Infinity) w.push(i, state.w[i]!);
    }
    const body = packr.pack({ s: state.s, l: this.lists.current.id, m, w, n: state.n });
    const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
    out[0] = FORMAT_V2;
    out.writeDoubleBE(state.t ?? Number.NaN, 1);
    body.copy(out, HEADER_BYTES);
    return out;
  }

  decode(bytes: Uint8Array): CustomerState {
    if (bytes[0] === FORMAT_V2) return this.decodeV2(bytes);
    const old = bytes[0] === FORMAT_V1 ? packr.unpack(bytes.subarray(HEADER_BYTES)) as NamedState : JSON.parse(jsonDecoder.decode(bytes)) as NamedState;
    return this.fromNamed(old, customerTimer(bytes));
  }

  private decodeV2(bytes: Uint8Array): CustomerState {
    const body = packr.unpack(bytes.subarray(HEADER_BYTES)) as EncodedBody;
    const state = this.empty();
    state.s = body.s ?? {};
    state.n = body.n ?? 0;
    state.t = customerTimer(bytes);
    const current = this.lists.current.id;
    const map = body.l === undefined || body.l === current ? undefined : this.lists.mapping(body.l);
    const m = body.m ?? [];
    for (let k = 0; k < m.length; k += 2) {
      const i = map ? map[m[k]!]! : m[k]!;
      if (i >= 0) state.m[i] = m[k + 1]!;
    }
    const w = body.w ?? [];
    for (let k = 0; k < w.length; k += 2) {
      const i = map ? map[w[k]!]! : w[k]!;
      if (i >= 0) state.w[i] = w[k + 1]!;
    }
    return state;
  }

  /** A state of the earlier formats, keyed by audience name. */
  private fromNamed(old: NamedState, t: number | null): CustomerState {
    const state = this.empty();
    state.s = old.s ?? {};
    state.n = old.n ?? 0;
    state.t = t;
    const index = this.lists.current.index;
    for (const [name, [inside, version]] of Object.entries(old.m ?? {})) {
      const i = index.get(name);
      if (i !== undefined && version > 0) state.m[i] = inside === 1 ? version : -version;
    }
    for (const [name, wake] of Object.entries(old.w ?? {})) {
      const i = index.get(name);
      if (i !== undefined) state.w[i] = wake;
    }
    return state;
  }
}

/** The 0xA1 and JSON forms: memberships as [1 inside | 0 outside, version] and wakes, by audience name. */
interface NamedState {
  s?: Record<string, unknown>;
  m?: Record<string, [0 | 1, number]>;
  w?: Record<string, number>;
  t?: number | null;
  n?: number;
}

/** The customer's timer without decoding the rest of the state. */
export function customerTimer(bytes: Uint8Array): number | null {
  if (bytes[0] !== FORMAT_V1 && bytes[0] !== FORMAT_V2) return (JSON.parse(jsonDecoder.decode(bytes)) as NamedState).t ?? null;
  const t = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(1);
  return Number.isNaN(t) ? null : t;
}
