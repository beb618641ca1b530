/**
 * The state of a windowed `distinct`: each value once, with its latest event.
 *
 * A value counts in `distinct(x) over W` while the bucket of its latest
 * event is in the window, so that event is all `distinct` needs of it: how
 * many events a value had, and in which older buckets, never changes the
 * answer. The state is one flat list, sorted by latest event (time, then
 * arrival), least recent first:
 *
 *     [value, latest time, latest seq, value, latest time, latest seq, ...]
 *
 * Values by their JSON text, as in tally.ts, so that 1 and "1" differ. A
 * customer who visits six pages every minute keeps six entries whatever the
 * window's length, where a list per bucket (tally.ts, what `top` needs)
 * would keep six per active minute; and the state is encoded at every
 * commit that changes it.
 *
 * Sorted by recency, the list leaves the window from the front (a value's
 * bucket is a function of its time), and past `max` values the value seen
 * least recently, the first, is dropped: what tally.ts does for `top`, so
 * the two agree on which values a bounded state keeps. States written by
 * earlier versions as tally bucket lists are converted on first read.
 */
import type { Value } from '../dsl/plan.js';
import { tallyBucketsOf } from './tally.js';

export type LatestValues = unknown[];

/** Elements per value in the list. */
const ENTRY = 3;

/** In memory only: the values of a list, so that adding a new one is not a search. */
const members = new WeakMap<LatestValues, Set<string>>();

function membersOf(list: LatestValues): Set<string> {
  let set = members.get(list);
  if (set === undefined) {
    set = new Set();
    for (let i = 0; i < list.length; i += ENTRY) set.add(list[i] as string);
    members.set(list, set);
  }
  return set;
}

/**
 * The state as a latest-values list, whichever way it was stored: a tally
 * bucket list of an earlier version (any of tally.ts's forms) is converted,
 * once; the converted list is what is kept and stored from then on.
 */
export function latestValuesOf(state: unknown): LatestValues | undefined {
  const list = state as unknown[] | undefined;
  if (list === undefined || list.length === 0 || typeof list[0] === 'string') return list;
  const tuples = tallyBucketsOf(list)!;
  const latest = new Map<string, [number, number]>();
  for (let i = 0; i < tuples.length; i += 5) {
    const key = tuples[i + 1] as string;
    const t = (tuples[i] as number) + (tuples[i + 3] as number);
    const seq = tuples[i + 4] as number;
    const prev = latest.get(key);
    if (prev === undefined || t > prev[0] || (t === prev[0] && seq > prev[1])) latest.set(key, [t, seq]);
  }
  const entries = [...latest].sort((a, b) => a[1][0] - b[1][0] || a[1][1] - b[1][1]);
  const out: LatestValues = [];
  for (const [key, [t, seq]] of entries) out.push(key, t, seq);
  return out;
}

/** Is (t, seq) later than entry i's latest event? */
function laterThan(list: LatestValues, i: number, t: number, seq: number): boolean {
  const time = list[i + 1] as number;
  return t > time || (t === time && seq > (list[i + 2] as number));
}

/** Value `v` seen at `t` (arrival `seq`), in place; at most `max` values, the least recent dropped. */
export function latestValuesAdd(list: LatestValues, v: Value, t: number, seq: number, max: number): LatestValues {
  const key = JSON.stringify(v);
  const set = membersOf(list);
  if (set.has(key)) {
    let i = list.length - ENTRY;
    while (list[i] !== key) i -= ENTRY;
    if (!laterThan(list, i, t, seq)) return list;
    list.splice(i, ENTRY);
  } else {
    set.add(key);
  }
  // Its place by recency: nearly always the end.
  let at = list.length;
  while (at > 0 && !laterThan(list, at - ENTRY, t, seq)) at -= ENTRY;
  if (at === list.length) list.push(key, t, seq); else list.splice(at, 0, key, t, seq);
  while (list.length > max * ENTRY) dropFirst(list, set);
  return list;
}

/** Drop the values whose latest event's bucket (of width `bucketMs`) started at or before `cut`, in place. */
export function latestValuesExpire(list: LatestValues, cut: number, bucketMs: number): void {
  if (list.length === 0 || bucketOf(list[1] as number, bucketMs) > cut) return;
  const set = membersOf(list);
  while (list.length > 0 && bucketOf(list[1] as number, bucketMs) <= cut) dropFirst(list, set);
}

/** The front entry out: shifted, which V8 does by trimming the array's start in place. */
function dropFirst(list: LatestValues, set: Set<string>): void {
  set.delete(list[0] as string);
  list.shift(); list.shift(); list.shift();
}

function bucketOf(t: number, bucketMs: number): number {
  return Math.floor(t / bucketMs) * bucketMs;
}

/** How many values: `distinct`. */
export function latestValuesCount(list: LatestValues | undefined): number {
  return list === undefined ? 0 : list.length / ENTRY;
}

/** The start of the bucket that leaves first (the least recent value's), or undefined for an empty list. */
export function latestValuesOldestBucket(list: LatestValues, bucketMs: number): number | undefined {
  return list.length === 0 ? undefined : bucketOf(list[1] as number, bucketMs);
}

/**
 * The first bucket start, oldest first, whose leaving makes `flips` true of
 * the count then left, or undefined. Counted from the newest values back:
 * once the buckets up to some bucket have left, what is left is the values
 * whose latest event is later. `ordered`: `flips` is a threshold on the
 * count, which only falls as buckets leave, so it flips at all only if it
 * flips with nothing left, and the scan stops at the first bucket whose
 * leaving no longer flips it: a thousand values under `distinct(...) >= 50`
 * look at their newest fifty.
 */
export function latestValuesFlipBucket(list: LatestValues, bucketMs: number, flips: (value: Value) => boolean, ordered: boolean): number | undefined {
  if (list.length === 0) return undefined;
  if (ordered && !flips(0)) return undefined;
  let found: number | undefined;
  let later = 0;
  let i = list.length - ENTRY;
  while (i >= 0) {
    const start = bucketOf(list[i + 1] as number, bucketMs);
    // `later`: the count once this bucket and all before it have left.
    if (flips(later)) found = start;
    else if (ordered) break;
    for (; i >= 0 && bucketOf(list[i + 1] as number, bucketMs) === start; i -= ENTRY) later++;
  }
  return found;
}

/**
 * Two lists as one (identity/merge-customers.ts): each value once, with the
 * later of its latest events; `b`'s arrival numbers shifted by `shift`, so
 * that its events of an instant come after `a`'s. Past `max` values the
 * least recent are dropped. A new list.
 */
export function latestValuesMerge(a: LatestValues | undefined, b: LatestValues | undefined, shift: number, max: number): LatestValues | undefined {
  if (b === undefined || b.length === 0) return a;
  const latest = new Map<string, [number, number]>();
  const add = (list: LatestValues, by: number): void => {
    for (let i = 0; i < list.length; i += ENTRY) {
      const key = list[i] as string;
      const t = list[i + 1] as number;
      const seq = (list[i + 2] as number) + by;
      const prev = latest.get(key);
      if (!prev || t > prev[0] || (t === prev[0] && seq > prev[1])) latest.set(key, [t, seq]);
    }
  };
  add(a ?? [], 0);
  add(b, shift);
  const entries = [...latest].sort((x, y) => x[1][0] - y[1][0] || x[1][1] - y[1][1]);
  const out: LatestValues = [];
  for (const [key, [t, seq]] of entries.slice(Math.max(0, entries.length - max))) out.push(key, t, seq);
  return out;
}
