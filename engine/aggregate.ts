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
 * the list is one array of doubles to V8 (a pair per bucket was an object
 * per bucket to allocate, collect and encode at every commit). States written
 * by earlier versions as [[bucketStart, partial], ...] are read too.
 *
 * An event at time t belongs to the bucket starting at floor(t / B) * B, and
 * counts in `over W` while `now - W < bucketStart`. So it leaves the window
 * at most one bucket (B: a minute up to two-day windows, an hour beyond)
 * before its exact time would, never after. State per customer and slot is
 * at most W / B buckets, and in practice one per active bucket.
 */
import type { AggregateSlot, Value } from '../dsl/plan.js';

type Partial = unknown;

interface Monoid {
  /** Add one value seen at event time `t`; `seq` orders events of one customer by arrival. */
  add(p: Partial | undefined, v: Value, t: number, seq: number): Partial;
  merge(a: Partial, b: Partial): Partial;
  result(p: Partial | undefined): Value;
}

/** value → [count, last event time, last arrival seq]; keys are JSON texts so that 1 and "1" differ. */
type Tally = Record<string, [number, number, number]>;

function addTally(p: Tally | undefined, v: Value, t: number, seq: number): Tally {
  const out: Tally = p ? { ...p } : {};
  const key = JSON.stringify(v);
  const prev = out[key];
  out[key] = prev
    ? [prev[0] + 1, Math.max(prev[1], t), t >= prev[1] ? seq : prev[2]]
    : [1, t, seq];
  return out;
}

function mergeTally(a: Tally, b: Tally): Tally {
  const out: Tally = { ...a };
  for (const [k, [n, t, s]] of Object.entries(b)) {
    const prev = out[k];
    out[k] = prev
      ? [prev[0] + n, Math.max(prev[1], t), t > prev[1] ? s : t < prev[1] ? prev[2] : Math.max(prev[2], s)]
      : [n, t, s];
  }
  return out;
}

/** [time, arrival seq, value] of the earliest (first) or latest (last) event. */
type Stamped = [number, number, Value];

function earlier(a: Stamped, b: Stamped): Stamped {
  return b[0] < a[0] || (b[0] === a[0] && b[1] < a[1]) ? b : a;
}
function later(a: Stamped, b: Stamped): Stamped {
  return b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a;
}

const MONOIDS: Record<AggregateSlot['fn'], Monoid> = {
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
  distinct: {
    add: (p, v, t, seq) => addTally(p as Tally | undefined, v, t, seq),
    merge: (a, b) => mergeTally(a as Tally, b as Tally),
    result: (p) => (p ? Object.keys(p as Tally).length : 0),
  },
  top: {
    add: (p, v, t, seq) => addTally(p as Tally | undefined, v, t, seq),
    merge: (a, b) => mergeTally(a as Tally, b as Tally),
    result: (p) => {
      if (!p) return null;
      let best: [string, [number, number, number]] | undefined;
      for (const entry of Object.entries(p as Tally)) {
        const [, [n, t, s]] = entry;
        if (!best) { best = entry; continue; }
        const [bn, bt, bs] = best[1];
        // Most frequent; ties go to the value seen most recently (event time, then arrival).
        if (n > bn || (n === bn && (t > bt || (t === bt && s > bs)))) best = entry;
      }
      return best ? (JSON.parse(best[0]) as Value) : null;
    },
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
 * Add an event's contribution; returns the state, or UNCHANGED for an event
 * too old for the window. A windowed state's bucket list is changed in place
 * (copying it for every event was the engine's largest source of garbage);
 * an all-time partial is a new value, equal to the old where the value did
 * not change (`max` of something smaller).
 */
export function addToAggregate(slot: AggregateSlot, state: unknown, v: Value, t: number, seq: number, now: number): unknown {
  const m = MONOIDS[slot.fn];
  if (slot.windowMs === undefined) return m.add(state, v, t, seq);
  const width = slot.bucketMs!;
  const start = Math.floor(t / width) * width;
  if (start <= now - slot.windowMs) return UNCHANGED;
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

export function aggregateValue(slot: AggregateSlot, state: unknown, now: number): Value {
  const m = MONOIDS[slot.fn];
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
  const buckets = bucketsOf(state)!;
  if (slot.fn === 'count') return additiveFlipTime(buckets as number[], slot.windowMs, now, flips, value as number | undefined, ordered);
  if (slot.fn === 'sum') {
    const flip = additiveFlipTime(buckets as number[], slot.windowMs, now, flips, undefined, ordered);
    if (flip !== NOT_INTEGERS) return flip;
  }
  const m = MONOIDS[slot.fn];
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
 * buckets or so, where the scan from the oldest went through a busy
 * customer's hundred (on the bench rules, 13 buckets a call on average).
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
