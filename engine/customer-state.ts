/**
 * Everything the engine keeps about one customer, as one value.
 *
 * One read and one write per customer per batch, whatever number of
 * aggregates and audiences the rules have. Slot states are keyed by the
 * slot's stable id (a hash of its canonical text), so a customer's
 * `count(purchase) over 90 days` survives a rule change that keeps it.
 *
 * Stored under the key `c/<customer id>` as JSON:
 *
 *     { "s": { slotId: state }, "m": { audience: [inside 0|1, version] },
 *       "w": { audience: next time-driven re-evaluation }, "t": timer|null, "n": events applied }
 */
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCustomerState(state: CustomerState): Uint8Array {
  return encoder.encode(JSON.stringify(state));
}

export function decodeCustomerState(bytes: Uint8Array): CustomerState {
  const parsed = JSON.parse(decoder.decode(bytes)) as Partial<CustomerState>;
  return { s: parsed.s ?? {}, m: parsed.m ?? {}, w: parsed.w ?? {}, t: parsed.t ?? null, n: parsed.n ?? 0 };
}
