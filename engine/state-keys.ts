/**
 * The key layout of a partition's store. Keys sort bytewise, so the timer
 * index is in due order and a prefix scan of `t/` yields timers earliest first.
 *
 *     c/<customer>                 CustomerState (engine/customer-state.ts)
 *     t/<due, 15 digits>/<customer>  empty: the timer index
 *     m/partition                  PartitionMeta: clock, next offset, plan fingerprint
 *     m/changelog                  offset of the last changelog record this store holds
 *     m/plan                       the plan (JSON) that built the state: new rules started on it deploy (engine/deployment.ts)
 *     m/scrub                      empty: a customer was erased since the store's files were last rewritten (rocksdb-store.ts)
 *     a/<id>                       an audience list customer states are indexed by (audience-list.ts)
 *     p/<profile number>           an identity source's profile: its id and identifiers (identity/identity-graph.ts)
 *     x/<salted hash>              an erased customer's identifier, and the instant of the erasure (identity/erased-identifiers.ts)
 *
 * The changelog topic carries `c/`, `a/`, `p/`, `x/`, `m/partition` and `m/plan`: everything but the timer
 * index (derived from the customers' `t`: a restore moves each restored
 * customer's entry in the same write as the customer) and the
 * changelog checkpoint itself (a position in the changelog cannot be in it).
 */
export const CUSTOMER_PREFIX = 'c/';
export const AUDIENCE_LIST_PREFIX = 'a/';
export const TIMER_PREFIX = 't/';
export const META_KEY = 'm/partition';
export const CHANGELOG_CHECKPOINT_KEY = 'm/changelog';
export const PLAN_KEY = 'm/plan';
export const SCRUB_KEY = 'm/scrub';
export const PROFILE_PREFIX = 'p/';
export const ERASED_PREFIX = 'x/';

export function isLoggedKey(key: string): boolean {
  return key.startsWith(CUSTOMER_PREFIX) || key.startsWith(AUDIENCE_LIST_PREFIX) || key.startsWith(PROFILE_PREFIX) || key.startsWith(ERASED_PREFIX) || key === META_KEY || key === PLAN_KEY;
}

export function customerKey(customer: string): string {
  return CUSTOMER_PREFIX + customer;
}

export function timerKey(due: number, customer: string): string {
  return `${TIMER_PREFIX}${String(Math.max(0, Math.floor(due))).padStart(15, '0')}/${customer}`;
}

export function parseTimerKey(key: string): { due: number; customer: string } {
  const rest = key.slice(TIMER_PREFIX.length);
  const slash = rest.indexOf('/');
  return { due: Number(rest.slice(0, slash)), customer: rest.slice(slash + 1) };
}

export interface PartitionMeta {
  /** The partition's clock when the state was written. */
  now: number;
  /** Offset of the next input record to apply (Kafka); records below it are already in the state. */
  nextOffset?: string;
  /** Plan fingerprint the state was written under. */
  fingerprint: string;
  /** Members per audience in this partition (absent in stores written before it was kept: counted at open). */
  sizes?: Record<string, number>;
  /** The identity graph's counters (identity/identity-graph.ts); absent for a keyed source. */
  identity?: { arrivals: number; profiles: number };
  /** The salt of the erased identifiers' hashes, base64; absent until the first erasure. */
  erasureSalt?: string;
}
