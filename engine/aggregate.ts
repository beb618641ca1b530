/**
 * Aggregate operators: count, sum, avg, min, max, distinct, top, first, last,
 * all-time or over a sliding window.
 *
 * Each function is a small monoid over a JSON-friendly "partial": add one
 * value, merge two partials, read the result. An all-time aggregate keeps one
 * partial. A windowed one keeps one partial per time bucket, in bucket order,
 * in one flat list:
 *
 *     [bucketStart, partial, bucketStart, partial, ...]
 *
 * Flat, because a busy customer has hundreds of buckets: for counts and sums
 * the list is one array of doubles to V8, where a pair per bucket would be an
 * object per bucket to allocate, collect and encode at every commit
 * (docs/decisions/2026-12-04-flat-bucket-lists.md). States written by earlier
 * versions as [[bucketStart, partial], ...] are read too.
 *
 * An event at time t belongs to the bucket starting at floor(t / B) * B, and
 * counts in `over W` while `now - W < bucketStart`. So it leaves the window
 * at most one bucket (B: a minute up to two-day windows, an hour beyond)
 * before its exact time would, never after. State per customer and slot is
 * at most W / B buckets, and in practice one per active bucket.
 */
import { MAX_TALLY_VALUES, type AggregateSlot, type Value } from '../dsl/plan.js';
import { tallyAdd, tallyAddToBucket, tallyAtBound, tallyBucketsMerge, tallyBucketsOf, tallyDistinct, tallyExpire, tallyFlipBucket, tallyMerge, tallySize, tallyTop, type Tally, type TallyBuckets } from './tally.js';
import { latestValuesAdd, latestValuesCount, latestValuesExpire, latestValuesFlipBucket, latestValuesMerge, latestValuesOf, latestValuesOldestBucket, type LatestValues } from './latest-values.js';

type TallyFn = 'distinct' | 'top';

function isTally(slot: AggregateSlot): slot is AggregateSlot & { fn: TallyFn } {
  return slot.fn === 'distinct' || slot.fn === 'top';
}

/**
 * Above this many values, the instant at which `distinct` or `top` next
 * changes the outcome is not searched for (that means replaying the window's
 * leaving buckets on a copy): the customer is re-evaluated when its oldest
 * bucket leaves instead, which gives the same output with a wake-up per
 * bucket rather than a search per evaluation.
 */
const FLIP_SEARCH_VALUES = 64;

/**
 * A distinct/top state as it reads at `now`: a windowed one with the buckets
 * that left the window dropped (in place: reading does what expiry would).
 */
function liveTally(slot: AggregateSlot, state: unknown, now: number): Tally | TallyBuckets | undefined {
  if (state === undefined || slot.windowMs === undefined) return state as Tally | undefined;
  const buckets = tallyBucketsOf(state)!;
  tallyExpire(buckets, now - slot.windowMs);
  return buckets.length === 0 ? undefined : buckets;
}

/** A windowed `distinct`'s state as it reads at `now` (latest-values.ts), in place. */
function liveLatest(slot: AggregateSlot, state: unknown, now: number): LatestValues | undefined {
  if (state === undefined) return undefined;
  const list = latestValuesOf(state)!;
  latestValuesExpire(list, now - slot.windowMs!, slot.bucketMs!);
  return list.length === 0 ? undefined : list;
}

/**
 * Does reading the state change it? A windowed `distinct` or `top` drops
 * what left the window as it is read (liveTally, liveLatest): its list only
 * ever gets shorter that way, so a reader that finds it shorter afterwards
 * knows its encoded bytes are out of date.
 */
export function aggregateChangesWhenRead(slot: AggregateSlot): boolean {
  return isTally(slot) && slot.windowMs !== undefined;
}

/** Is this a windowed `distinct`, kept as latest values rather than a tally per bucket? */
function isWindowedDistinct(slot: AggregateSlot): boolean {
  return slot.fn === 'distinct' && slot.windowMs !== undefined;
}

function tallyResult(slot: AggregateSlot, state: Tally | TallyBuckets | undefined): Value {
  return slot.fn === 'distinct' ? tallyDistinct(state) : tallyTop(state);
}

type Partial = unknown;

interface Monoid {
  /** Add one value seen at event time `t`; `seq` orders events of one customer by arrival. */
  add(p: Partial | undefined, v: Value, t: number, seq: number): Partial;
  merge(a: Partial, b: Partial): Partial;
  result(p: Partial | undefined): Value;
}

/** [time, arrival seq, value] of the earliest (first) or latest (last) event. */
type Stamped = [number, number, Value];

function earlier(a: Stamped, b: Stamped): Stamped {
  return b[0] < a[0] || (b[0] === a[0] && b[1] < a[1]) ? b : a;
}
function later(a: Stamped, b: Stamped): Stamped {
  return b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a;
}

/** The aggregates kept as merged partials; `distinct` and `top` keep a running tally (tally.ts). */
const MONOIDS: Record<Exclude<AggregateSlot['fn'], TallyFn>, Monoid> = {
  count: {
    add: (p) => ((p as number | undefined) ?? 0) + 1,
    merge: (a, b) => (a as number) + (b as number),
    result: (p) => (p as number | undefined) ?? 0,
  },
  sum: {
    add: (p, v) => ((p as number | undefined) ?? 0) + (v as number),
    merge: (a, b) => (a as number) + (b as number),
    result: (p) => (p as number | undefined) ?? 0,
  },
  avg: {
    add: (p, v) => {
      const [s, n] = (p as [number, number] | undefined) ?? [0, 0];
      return [s + (v as number), n + 1];
    },
    merge: (a, b) => {
      const [s1, n1] = a as [number, number];
      const [s2, n2] = b as [number, number];
      return [s1 + s2, n1 + n2];
    },
    result: (p) => {
      const x = p as [number, number] | undefined;
      return x && x[1] > 0 ? x[0] / x[1] : null;
    },
  },
  min: {
    add: (p, v) => (p === undefined ? v : Math.min(p as number, v as number)),
    merge: (a, b) => Math.min(a as number, b as number),
    result: (p) => (p as number | undefined) ?? null,
  },
  max: {
    add: (p, v) => (p === undefined ? v : Math.max(p as number, v as number)),
    merge: (a, b) => Math.max(a as number, b as number),
    result: (p) => (p as number | undefined) ?? null,
  },
  first: {
    add: (p, v, t, seq) => (p === undefined ? [t, seq, v] : earlier(p as Stamped, [t, seq, v])),
    merge: (a, b) => earlier(a as Stamped, b as Stamped),
    result: (p) => (p === undefined ? null : (p as Stamped)[2]),
  },
  last: {
    add: (p, v, t, seq) => (p === undefined ? [t, seq, v] : later(p as Stamped, [t, seq, v])),
    merge: (a, b) => later(a as Stamped, b as Stamped),
    result: (p) => (p === undefined ? null : (p as Stamped)[2]),
  },
};

/** The monoid of an aggregate that is not a tally (callers have dealt with distinct and top). */
function monoidOf(slot: AggregateSlot): Monoid {
  return MONOIDS[slot.fn as Exclude<AggregateSlot['fn'], TallyFn>];
}

/** [bucketStart, partial, bucketStart, partial, ...], oldest first. */
type Buckets = Partial[];

/** A windowed state as a flat bucket list, whichever way it was stored. */
function bucketsOf(state: unknown): Buckets | undefined {
  const list = state as Buckets | undefined;
  if (list === undefined || list.length === 0 || !Array.isArray(list[0])) return list;
  return (list as [number, Partial][]).flat(1);
}

/**
 * The value an event contributes, or `undefined` when it contributes nothing
 * (a null field: SQL semantics, `sum` skips it, `count(E.f)` does not count it).
 */
export function contribution(slot: AggregateSlot, fields: Record<string, Value>, time: number): Value | undefined {
  if (slot.field === undefined) return slot.fn === 'first' || slot.fn === 'last' ? time : null;
  const v = fields[slot.field];
  return v === null || v === undefined ? undefined : v;
}

/** What addToAggregate returns for an event too old for the window: nothing changed. */
export const UNCHANGED: unique symbol = Symbol('unchanged');

/**
 * Add an event's contribution; returns the state, or UNCHANGED when the
 * state did not change (an event too old for the window; an all-time `max`
 * of something smaller). A windowed state's bucket list, and a distinct/top
 * tally, are changed in place (a copy per event would be garbage per event,
 * and a busy customer's list is long): the state returned may be the one given.
 */
export function addToAggregate(slot: AggregateSlot, state: unknown, v: Value, t: number, seq: number, now: number): unknown {
  if (slot.windowMs === undefined) {
    if (isTally(slot)) return tallyAdd(state as Tally | undefined, v, t, seq, slot.maxValues ?? MAX_TALLY_VALUES);
    const next = monoidOf(slot).add(state, v, t, seq);
    return next === state ? UNCHANGED : next;
  }
  const width = slot.bucketMs!;
  const start = Math.floor(t / width) * width;
  if (start <= now - slot.windowMs) return UNCHANGED;
  if (isWindowedDistinct(slot)) return latestValuesAdd(latestValuesOf(state) ?? [], v, t, seq, slot.maxValues ?? MAX_TALLY_VALUES);
  if (isTally(slot)) return tallyAddToBucket(tallyBucketsOf(state) ?? [], v, t, seq, start, slot.maxValues ?? MAX_TALLY_VALUES);
  const m = monoidOf(slot);
  const buckets = bucketsOf(state) ?? [];
  // Events arrive nearly in time order: search from the newest bucket.
  let i = buckets.length - 2;
  while (i >= 0 && (buckets[i] as number) > start) i -= 2;
  if (i >= 0 && buckets[i] === start) {
    buckets[i + 1] = m.add(buckets[i + 1], v, t, seq);
  } else if (i === buckets.length - 2) {
    buckets.push(start, m.add(undefined, v, t, seq));
  } else {
    buckets.splice(i + 2, 0, start, m.add(undefined, v, t, seq));
  }
  return buckets;
}

/**
 * Is the value approximate: a `distinct` or `top` state holding its most
 * values (tally.ts), so that `distinct` is a lower bound and `top` ranks the
 * most recently seen values only?
 */
export function aggregateAtBound(slot: AggregateSlot, state: unknown, now: number): boolean {
  if (isWindowedDistinct(slot)) return latestValuesCount(liveLatest(slot, state, now)) >= (slot.maxValues ?? MAX_TALLY_VALUES);
  return isTally(slot) && tallyAtBound(liveTally(slot, state, now), slot.maxValues ?? MAX_TALLY_VALUES);
}

export function aggregateValue(slot: AggregateSlot, state: unknown, now: number): Value {
  if (isWindowedDistinct(slot)) return latestValuesCount(liveLatest(slot, state, now));
  if (isTally(slot)) return tallyResult(slot, liveTally(slot, state, now));
  const m = monoidOf(slot);
  if (slot.windowMs === undefined) return m.result(state);
  const buckets = bucketsOf(state);
  if (buckets === undefined) return m.result(undefined);
  const cut = now - slot.windowMs;
  let i = 0;
  while (i < buckets.length && (buckets[i] as number) <= cut) i += 2;
  if (i >= buckets.length) return m.result(undefined);
  if (slot.fn === 'count' || slot.fn === 'sum') {
    // The merge below, without a call per bucket.
    let acc = buckets[i + 1] as number;
    for (let j = i + 3; j < buckets.length; j += 2) acc += buckets[j] as number;
    return acc;
  }
  let acc: Partial = buckets[i + 1];
  for (let j = i + 3; j < buckets.length; j += 2) acc = m.merge(acc, buckets[j]);
  return m.result(acc);
}

/** Drop buckets that left the window (in place); `undefined` when nothing is left. */
export function expireAggregate(slot: AggregateSlot, state: unknown, now: number): unknown {
  if (slot.windowMs === undefined || state === undefined) return state;
  if (isWindowedDistinct(slot)) return liveLatest(slot, state, now);
  if (isTally(slot)) return liveTally(slot, state, now);
  const buckets = bucketsOf(state)!;
  const cut = now - slot.windowMs;
  let i = 0;
  while (i < buckets.length && (buckets[i] as number) <= cut) i += 2;
  if (i === 0) return buckets;
  if (i >= buckets.length) return undefined;
  buckets.splice(0, i);
  return buckets;
}

/** The next instant after `now` at which the value changes by time alone, or Infinity. */
export function aggregateNextChange(slot: AggregateSlot, state: unknown, now: number): number {
  if (slot.windowMs === undefined || state === undefined) return Infinity;
  if (isWindowedDistinct(slot)) {
    const live = liveLatest(slot, state, now);
    return live === undefined ? Infinity : latestValuesOldestBucket(live, slot.bucketMs!)! + slot.windowMs;
  }
  if (isTally(slot)) {
    const live = liveTally(slot, state, now) as TallyBuckets | undefined;
    return live === undefined ? Infinity : (live[0] as number) + slot.windowMs;
  }
  const buckets = bucketsOf(state)!;
  for (let i = 0; i < buckets.length; i += 2) {
    const leaves = (buckets[i] as number) + slot.windowMs;
    if (leaves > now) return leaves;
  }
  return Infinity;
}

/**
 * The first instant after `now` at which the value, changed by time alone,
 * satisfies `flips` (in practice: makes a comparison come out otherwise than
 * it does now), or Infinity. The value can only change when a bucket leaves
 * the window, so it is tried at each of those instants, oldest first, as the
 * merge of the buckets that remain then.
 *
 * This is what lets `count(page_view) over 1 day >= 5` wake a customer once,
 * when the count falls below 5, instead of at every bucket that leaves.
 *
 * `ordered`: `flips` comes from an ordered comparison with a constant
 * (`<`, `<=`, `>`, `>=`: a threshold), so that it changes at most once as
 * a value only falls; counts and sums of non-negative integers then find
 * the flip from the newest buckets (below).
 */
export function aggregateFlipTime(slot: AggregateSlot, state: unknown, now: number, flips: (value: Value) => boolean, value?: Value, ordered = false): number {
  if (slot.windowMs === undefined || state === undefined) return Infinity;
  if (isWindowedDistinct(slot)) {
    const live = liveLatest(slot, state, now);
    if (live === undefined) return Infinity;
    if (!ordered && latestValuesCount(live) > FLIP_SEARCH_VALUES) return latestValuesOldestBucket(live, slot.bucketMs!)! + slot.windowMs;
    const start = latestValuesFlipBucket(live, slot.bucketMs!, flips, ordered);
    return start === undefined ? Infinity : start + slot.windowMs;
  }
  if (isTally(slot)) {
    const live = liveTally(slot, state, now) as TallyBuckets | undefined;
    if (live === undefined) return Infinity;
    if (tallySize(live) > FLIP_SEARCH_VALUES) return (live[0] as number) + slot.windowMs;
    const start = tallyFlipBucket(live, flips);
    return start === undefined ? Infinity : start + slot.windowMs;
  }
  const buckets = bucketsOf(state)!;
  if (slot.fn === 'count') return additiveFlipTime(buckets as number[], slot.windowMs, now, flips, value as number | undefined, ordered);
  if (slot.fn === 'sum') {
    const flip = additiveFlipTime(buckets as number[], slot.windowMs, now, flips, undefined, ordered);
    if (flip !== NOT_INTEGERS) return flip;
  }
  const m = monoidOf(slot);
  const starts: number[] = [];
  const partials: Partial[] = [];
  for (let i = 0; i < buckets.length; i += 2) {
    if ((buckets[i] as number) + slot.windowMs > now) { starts.push(buckets[i] as number); partials.push(buckets[i + 1]); }
  }
  // remaining[i]: the merge of buckets i.. (what is left once the ones before i have left).
  const remaining: (Partial | undefined)[] = new Array(starts.length + 1);
  remaining[starts.length] = undefined;
  for (let i = starts.length - 1; i >= 0; i--) {
    const after = remaining[i + 1];
    remaining[i] = after === undefined ? partials[i] : m.merge(partials[i], after);
  }
  for (let i = 0; i < starts.length; i++) {
    if (flips(m.result(remaining[i + 1]))) return starts[i]! + slot.windowMs;
  }
  return Infinity;
}

/** What additiveFlipTime returns for a sum that is not all integers. */
const NOT_INTEGERS = -1;

/**
 * aggregateFlipTime for counts and integer sums: what is left after the
 * oldest buckets leave is the total less what they held, so one pass (none
 * for a count, whose total is given) to total the window, one to find the
 * flip, and nothing allocated (this runs at every evaluation of such a
 * comparison). Only for integers: with fractions, total-minus-prefix can
 * round otherwise than the sum aggregateValue computes, and the wake would
 * be off by a bucket; a fraction among a sum's buckets returns NOT_INTEGERS.
 *
 * With an `ordered` comparison and no negative bucket (every count; a sum
 * of amounts with no refund), what is left only falls as buckets leave, so
 * the comparison changes at most once, and it has changed by the end exactly
 * when it differs at 0 (nothing left). The instant is then found from the
 * newest buckets back: `count(x) over 90 days >= 3` looks at the last three
 * buckets or so, where a scan from the oldest goes through a busy
 * customer's hundreds (docs/decisions/2026-12-04-flip-search-from-newest.md).
 */
function additiveFlipTime(buckets: number[], windowMs: number, now: number, flips: (value: Value) => boolean, total: number | undefined, ordered: boolean): number {
  let left = 0;
  let falling = true; // no negative bucket in the window
  if (total !== undefined) left = total;
  else {
    for (let i = 0; i < buckets.length; i += 2) {
      if (!Number.isInteger(buckets[i + 1])) return NOT_INTEGERS;
      if (buckets[i]! + windowMs > now) {
        left += buckets[i + 1]!;
        if (buckets[i + 1]! < 0) falling = false;
      }
    }
  }
  if (ordered && falling) {
    let oldest = 0;
    while (oldest < buckets.length && buckets[oldest]! + windowMs <= now) oldest += 2;
    if (oldest >= buckets.length || !flips(0)) return Infinity;
    // `after`: what is left once bucket j has left (0 for the newest).
    let j = buckets.length - 2;
    let after = 0;
    while (j > oldest) {
      const before = after + buckets[j + 1]!;
      if (!flips(before)) break;
      after = before;
      j -= 2;
    }
    return buckets[j]! + windowMs;
  }
  for (let i = 0; i < buckets.length; i += 2) {
    if (buckets[i]! + windowMs <= now) continue;
    left -= buckets[i + 1]!;
    if (flips(left)) return buckets[i]! + windowMs;
  }
  return Infinity;
}

/**
 * Two customers' states of one aggregate as one (identity/merge-customers.ts):
 * what the aggregate would hold had it seen both customers' events. A
 * window's buckets combine bucket by bucket; first and last take the
 * earlier or later event; distinct and top combine value by value. `b`'s
 * arrival numbers are shifted by `shift`, so that its events of an instant
 * come after `a`'s. Returns a new state, or one of the two when the other
 * is empty.
 */
export function mergeAggregate(slot: AggregateSlot, a: unknown, b: unknown, shift: number): unknown {
  if (b === undefined) return a;
  const max = slot.maxValues ?? MAX_TALLY_VALUES;
  if (isWindowedDistinct(slot)) return latestValuesMerge(latestValuesOf(a), latestValuesOf(b), shift, max);
  if (isTally(slot)) {
    return slot.windowMs === undefined
      ? tallyMerge(a as Tally | undefined, b as Tally, shift, max)
      : tallyBucketsMerge(tallyBucketsOf(a), tallyBucketsOf(b), shift, max);
  }
  const m = monoidOf(slot);
  const stamped = slot.fn === 'first' || slot.fn === 'last';
  const shifted = (p: Partial): Partial => (stamped ? [(p as Stamped)[0], (p as Stamped)[1] + shift, (p as Stamped)[2]] : p);
  if (slot.windowMs === undefined) return a === undefined ? shifted(b) : m.merge(a, shifted(b));
  const x = bucketsOf(a) ?? [];
  const y = bucketsOf(b)!;
  const out: Buckets = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    const sx = i < x.length ? x[i] as number : Infinity;
    const sy = j < y.length ? y[j] as number : Infinity;
    if (sx < sy) { out.push(sx, x[i + 1]); i += 2; }
    else if (sy < sx) { out.push(sy, shifted(y[j + 1])); j += 2; }
    else { out.push(sx, m.merge(x[i + 1], shifted(y[j + 1]))); i += 2; j += 2; }
  }
  return out;
}
