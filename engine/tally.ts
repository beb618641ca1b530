/**
 * The state of `distinct` and `top`, and a running summary of it.
 *
 * What is stored (RocksDB, changelog) is what it always was: all-time, one
 * tally; windowed, a bucket list `[bucketStart, tally, ...]`, oldest first.
 * A tally maps each value (its JSON text, so that 1 and "1" differ) to
 * [count, latest event time, arrival seq of that event].
 *
 * Beside each state object, in memory only, a summary: the tally of the
 * whole window (the merge of the buckets), its number of values
 * (`distinct`) and its most frequent value (`top`: ties to the value seen
 * latest, by event time, then arrival). It is kept up to date as events are
 * added and as buckets leave, so reading either is one field and adding an
 * event touches one entry, whether a customer has seen ten values or a
 * hundred thousand (a crawler with a new URL on every page view). Merging
 * every bucket at each read, as the other aggregates do, made such a
 * customer's cost grow with the square of its values. A state read back from
 * the store has no summary yet; the first use builds it, once.
 *
 * Subtracting the oldest bucket leaves every remaining value's latest time
 * right: its latest event is in a newer bucket, whose times are all later.
 * States are changed in place, like the other windows' bucket lists.
 */
import type { Value } from '../dsl/plan.js';

export type TallyEntry = [count: number, time: number, seq: number];
export type Tally = Record<string, TallyEntry>;
/** [bucketStart, Tally, bucketStart, Tally, ...], oldest first. */
export type TallyBuckets = unknown[];

interface Summary {
  /** The window's tally (for an all-time state: the state itself). */
  all: Tally;
  n: number;
  best: string | null;
}

const summaries = new WeakMap<object, Summary>();

/** Does entry a rank before entry b for `top`? */
function beats(a: TallyEntry, b: TallyEntry): boolean {
  return a[0] > b[0] || (a[0] === b[0] && (a[1] > b[1] || (a[1] === b[1] && a[2] > b[2])));
}

function bump(tally: Tally, key: string, count: number, t: number, seq: number): TallyEntry {
  const prev = tally[key];
  if (prev === undefined) {
    const entry: TallyEntry = [count, t, seq];
    tally[key] = entry;
    return entry;
  }
  prev[0] += count;
  if (t > prev[1]) { prev[1] = t; prev[2] = seq; } else if (t === prev[1] && seq > prev[2]) prev[2] = seq;
  return prev;
}

function rankBest(s: Summary): void {
  let best: string | null = null;
  let bestEntry: TallyEntry | undefined;
  for (const key in s.all) {
    const entry = s.all[key]!;
    if (bestEntry === undefined || beats(entry, bestEntry)) { best = key; bestEntry = entry; }
  }
  s.best = best;
}

/** The summary of an all-time tally or a bucket list, built on first use. */
function summaryOf(state: Tally | TallyBuckets): Summary {
  let s = summaries.get(state);
  if (s !== undefined) return s;
  if (Array.isArray(state)) {
    s = { all: {}, n: 0, best: null };
    for (let i = 1; i < state.length; i += 2) {
      const bucket = state[i] as Tally;
      for (const key in bucket) {
        const [c, t, q] = bucket[key]!;
        if (s.all[key] === undefined) s.n++;
        bump(s.all, key, c, t, q);
      }
    }
  } else {
    s = { all: state, n: Object.keys(state).length, best: null };
  }
  rankBest(s);
  summaries.set(state, s);
  return s;
}

function count(s: Summary, key: string, t: number, seq: number): void {
  if (s.all[key] === undefined) s.n++;
  const entry = bump(s.all, key, 1, t, seq);
  // Only this value's count grew: it is the new best, or the old one stays.
  if (s.best === null || s.best === key || beats(entry, s.all[s.best]!)) s.best = key;
}

/** An all-time tally with value `v` seen at `t` (arrival `seq`) counted, in place. */
export function tallyAdd(state: Tally | undefined, v: Value, t: number, seq: number): Tally {
  const tally = state ?? {};
  const s = summaryOf(tally);
  // The summary's tally is the state itself: counting there counts in both.
  count(s, JSON.stringify(v), t, seq);
  return tally;
}

/** A bucket list with value `v` counted in the bucket starting at `start`, in place. */
export function tallyAddToBucket(buckets: TallyBuckets, v: Value, t: number, seq: number, start: number): TallyBuckets {
  const s = summaryOf(buckets);
  const key = JSON.stringify(v);
  count(s, key, t, seq);
  let i = buckets.length - 2;
  while (i >= 0 && (buckets[i] as number) > start) i -= 2;
  if (i >= 0 && buckets[i] === start) bump(buckets[i + 1] as Tally, key, 1, t, seq);
  else buckets.splice(i + 2, 0, start, { [key]: [1, t, seq] });
  return buckets;
}

/** Drop the buckets that started at or before `cut` (in place), subtracting them from the summary. */
export function tallyExpire(buckets: TallyBuckets, cut: number): void {
  if (buckets.length === 0 || (buckets[0] as number) > cut) return;
  const s = summaryOf(buckets);
  let i = 0;
  let bestLost = false;
  for (; i < buckets.length && (buckets[i] as number) <= cut; i += 2) {
    const bucket = buckets[i + 1] as Tally;
    for (const key in bucket) {
      const entry = s.all[key]!;
      entry[0] -= bucket[key]![0];
      if (key === s.best) bestLost = true;
      if (entry[0] <= 0) { delete s.all[key]; s.n--; }
    }
  }
  buckets.splice(0, i);
  // The others' counts only fell: the best changes only if its own count did.
  if (bestLost) rankBest(s);
}

/** How many values: `distinct`. */
export function tallyDistinct(state: Tally | TallyBuckets | undefined): number {
  return state === undefined ? 0 : summaryOf(state).n;
}

/** The most frequent value: `top`. */
export function tallyTop(state: Tally | TallyBuckets | undefined): Value {
  const best = state === undefined ? null : summaryOf(state).best;
  return best === null ? null : (JSON.parse(best) as Value);
}

/** How many values the window holds, for the caller's choice of search. */
export function tallySize(state: Tally | TallyBuckets): number {
  return summaryOf(state).n;
}

/**
 * What `distinct` or `top` reads after each bucket in turn has left, oldest
 * first: for the flip-instant search. It works on a copy, in time linear in
 * the window's values and events, so callers keep it to small states.
 */
export function* tallyAfterLeaving(buckets: TallyBuckets, fn: 'distinct' | 'top'): Generator<Value> {
  const copy = buckets.slice();
  const s = summaryOf(buckets);
  const all: Tally = {};
  for (const key in s.all) all[key] = [...s.all[key]!];
  summaries.set(copy, { all, n: s.n, best: s.best });
  while (copy.length > 0) {
    tallyExpire(copy, copy[0] as number);
    yield fn === 'distinct' ? tallyDistinct(copy) : tallyTop(copy);
  }
}
