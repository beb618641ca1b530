/**
 * The state of `top` and of an all-time `distinct`, and a running summary
 * of it. (A windowed `distinct` needs only each value's latest event:
 * latest-values.ts, which converts states this file wrote for it.)
 *
 * Values are counted by their JSON text, so that 1 and "1" differ. What is
 * stored (RocksDB, changelog):
 *
 *   - all-time: one tally, an object mapping each value to
 *     [count, latest event time, arrival seq of that event];
 *   - windowed: one flat list of 5-tuples
 *     `[bucketStart, value, count, latest time - bucketStart, latest seq, ...]`,
 *     oldest bucket first, a value at most once per bucket. Flat, like the
 *     other windows' bucket lists, because a state is encoded at every
 *     commit that changes it, and a list of strings and numbers encodes
 *     about twice as fast as an object per bucket with an array per value.
 *     The time within the bucket, not since the epoch: a small integer,
 *     which V8 keeps unboxed and MessagePack writes in 5 bytes instead of 9.
 *     Lists written as `[bucketStart, tally, ...]` by earlier versions are
 *     read too.
 *
 * Beside each state, in memory only, a summary: the tally of the whole
 * window, its number of values (`distinct`) and its most frequent value
 * (`top`: ties to the value seen latest, by event time, then arrival). It is
 * kept up to date as events are added and as buckets leave, so reading
 * either is one field and adding an event touches one entry, whether a
 * customer has seen ten values or a thousand. A state read back from the
 * store has no summary yet; the first use builds it, once.
 *
 * Subtracting the oldest bucket leaves every remaining value's latest time
 * right: its latest event is in a newer bucket, whose times are all later.
 * States are changed in place, like the other windows' bucket lists.
 *
 * A state keeps at most `max` values (the slot's maxValues). Adding a value
 * past it drops the value seen least recently (by latest event time, then
 * arrival) from the summary and from every bucket. The values kept are then
 * always the `max` most recently seen of the window, whatever the order of
 * additions and expiries: a dropped value is older than every kept one, so
 * it would have left the window first. So `distinct` reads
 * min(exact count, max), and `top` ranks the most recent values, a value
 * dropped and seen again counting from then. The order of recency is kept
 * (a Set in order of latest event) only once a state first fills up.
 */
import type { Value } from '../dsl/plan.js';

/** `left`: in a windowed state's summary only, what the flip search has left of `count` (never stored). */
export type TallyEntry = [count: number, time: number, seq: number, left?: number];
export type Tally = Record<string, TallyEntry>;
/** [bucketStart, value, count, time - bucketStart, seq, ...], oldest bucket first. */
export type TallyBuckets = unknown[];

/** Elements per (bucket, value) in a TallyBuckets list. */
const TUPLE = 5;

interface Summary {
  /** The window's tally (for an all-time state: the state itself). */
  all: Tally;
  n: number;
  best: string | null;
  /** The values, least recently seen first; built when the state first fills up. */
  recency: Set<string> | undefined;
  /** False once a late event has put `recency` out of order: the next drop sorts it again. */
  inOrder: boolean;
  /** [time, seq] of the latest event `recency` has placed last. */
  lastTime: number;
  lastSeq: number;
  /** A large newest bucket's values → tuple position + `shifted` (findInNewest). */
  newest: Map<string, number> | undefined;
  newestStart: number;
  /** Elements removed from the front of the list since the summary was made. */
  shifted: number;
}

const summaries = new WeakMap<object, Summary>();

function newSummary(all: Tally, n: number, best: string | null): Summary {
  return { all, n, best, recency: undefined, inOrder: true, lastTime: -Infinity, lastSeq: -1, newest: undefined, newestStart: Number.NaN, shifted: 0 };
}

/** Does entry a rank before entry b for `top`? */
function beats(a: TallyEntry, b: TallyEntry): boolean {
  return a[0] > b[0] || (a[0] === b[0] && recentFirst(a, b));
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

/**
 * A windowed state as a flat tuple list, whichever way it was stored: lists
 * of `[bucketStart, tally]` pairs and `[bucketStart, tally, ...]` lists of
 * earlier versions are converted (once: the converted list is what is kept
 * and stored from then on).
 */
export function tallyBucketsOf(state: unknown): TallyBuckets | undefined {
  const list = state as unknown[] | undefined;
  if (list === undefined || list.length === 0 || typeof list[1] === 'string') return list;
  const pairs = Array.isArray(list[0]) ? (list as [number, Tally][]).flat(1) : list;
  const out: TallyBuckets = [];
  for (let i = 0; i < pairs.length; i += 2) {
    const tally = pairs[i + 1] as Tally;
    for (const key in tally) {
      const [n, time, seq] = tally[key]!;
      out.push(pairs[i], key, n, time - (pairs[i] as number), seq);
    }
  }
  return out;
}

/** The summary of an all-time tally or a tuple list, built on first use. */
function summaryOf(state: Tally | TallyBuckets): Summary {
  let s = summaries.get(state);
  if (s !== undefined) return s;
  if (Array.isArray(state)) {
    s = newSummary({}, 0, null);
    for (let i = 0; i < state.length; i += TUPLE) {
      const key = state[i + 1] as string;
      if (s.all[key] === undefined) s.n++;
      bump(s.all, key, state[i + 2] as number, (state[i] as number) + (state[i + 3] as number), state[i + 4] as number);
    }
  } else {
    s = newSummary(state, Object.keys(state).length, null);
  }
  rankBest(s);
  summaries.set(state, s);
  return s;
}

function count(s: Summary, key: string, t: number, seq: number): void {
  if (s.all[key] === undefined) s.n++;
  const entry = bump(s.all, key, 1, t, seq);
  if (s.recency !== undefined && entry[1] === t && entry[2] === seq) placeLast(s, key, t, seq);
  // Only this value's count grew: it is the new best, or the old one stays.
  if (s.best === null || s.best === key || beats(entry, s.all[s.best]!)) s.best = key;
}

/** `key`'s latest event is now (t, seq): it moves to the recent end. */
function placeLast(s: Summary, key: string, t: number, seq: number): void {
  s.recency!.delete(key);
  s.recency!.add(key);
  if (t > s.lastTime || (t === s.lastTime && seq > s.lastSeq)) { s.lastTime = t; s.lastSeq = seq; } else s.inOrder = false;
}

/** The value seen least recently: by latest event time, then arrival. */
function leastRecent(s: Summary): string {
  if (s.recency === undefined || !s.inOrder) {
    const keys = Object.keys(s.all);
    keys.sort((a, b) => { const x = s.all[a]!; const y = s.all[b]!; return x[1] - y[1] || x[2] - y[2]; });
    s.recency = new Set(keys);
    s.inOrder = true;
    const last = s.all[keys[keys.length - 1]!]!;
    s.lastTime = last[1];
    s.lastSeq = last[2];
  }
  return s.recency.values().next().value as string;
}

/** Past `max` values, drop the least recently seen (from the buckets too, when windowed). */
function keepAtMost(s: Summary, max: number, buckets: TallyBuckets | undefined): void {
  while (s.n > max) {
    const key = leastRecent(s);
    let events = s.all[key]![0];
    delete s.all[key];
    s.n--;
    s.recency!.delete(key);
    // Its tuples hold all its events; being the least recent value, it is
    // nearly always in the first ones.
    for (let i = 0; buckets !== undefined && events > 0 && i < buckets.length;) {
      if (buckets[i + 1] !== key) { i += TUPLE; continue; }
      events -= buckets[i + 2] as number;
      removeTuple(s, buckets, i);
    }
    if (key === s.best) rankBest(s);
  }
}

/** Remove the tuple at `i`: from the front by shifting (V8 trims the array's start in place), elsewhere by splicing. */
function removeTuple(s: Summary, buckets: TallyBuckets, i: number): void {
  if (buckets[i] === s.newestStart) s.newest?.delete(buckets[i + 1] as string);
  if (i === 0) {
    for (let k = 0; k < TUPLE; k++) buckets.shift();
    s.shifted += TUPLE;
  } else {
    buckets.splice(i, TUPLE);
    s.newest = undefined;
  }
}

/**
 * Where value `key` is in the newest bucket (which starts at `start`), or
 * -1. A bucket of a few values is searched; a large one (a crawler's) is
 * indexed, the index kept while tuples are only added at the end and
 * removed from the front.
 */
function findInNewest(s: Summary, buckets: TallyBuckets, start: number, key: string): number {
  const idx = s.newest;
  if (idx !== undefined && s.newestStart === start) {
    const p = idx.get(key);
    return p === undefined ? -1 : p - s.shifted;
  }
  let i = buckets.length - TUPLE;
  let scanned = 0;
  for (; i >= 0 && buckets[i] === start; i -= TUPLE, scanned++) if (buckets[i + 1] === key) return i;
  if (scanned >= INDEX_FROM) {
    const index = new Map<string, number>();
    for (let j = i + TUPLE; j < buckets.length; j += TUPLE) index.set(buckets[j + 1] as string, j + s.shifted);
    s.newest = index;
    s.newestStart = start;
  }
  return -1;
}

/** Values in the newest bucket from which it is indexed rather than searched. */
const INDEX_FROM = 32;

/** An all-time tally with value `v` seen at `t` (arrival `seq`) counted, in place; at most `max` values. */
export function tallyAdd(state: Tally | undefined, v: Value, t: number, seq: number, max: number): Tally {
  const tally = state ?? {};
  const s = summaryOf(tally);
  // The summary's tally is the state itself: counting there counts in both.
  count(s, JSON.stringify(v), t, seq);
  keepAtMost(s, max, undefined);
  return tally;
}

/** A tuple list with value `v` counted in the bucket starting at `start`, in place; at most `max` values. */
export function tallyAddToBucket(buckets: TallyBuckets, v: Value, t: number, seq: number, start: number, max: number): TallyBuckets {
  const s = summaryOf(buckets);
  const key = JSON.stringify(v);
  count(s, key, t, seq);
  const n = buckets.length;
  if (n > 0 && buckets[n - TUPLE] === start) {
    // The newest bucket: where nearly every event goes.
    const i = findInNewest(s, buckets, start, key);
    if (i >= 0) countInTuple(buckets, i, t, seq);
    else {
      buckets.push(start, key, 1, t - start, seq);
      s.newest?.set(key, n + s.shifted);
    }
  } else {
    let i = n - TUPLE;
    while (i >= 0 && (buckets[i] as number) > start) i -= TUPLE;
    const after = i + TUPLE;
    while (i >= 0 && buckets[i] === start && buckets[i + 1] !== key) i -= TUPLE;
    if (i >= 0 && buckets[i] === start) countInTuple(buckets, i, t, seq);
    else {
      if (after < n) s.newest = undefined;
      buckets.splice(after, 0, start, key, 1, t - start, seq);
    }
  }
  keepAtMost(s, max, buckets);
  return buckets;
}

function countInTuple(buckets: TallyBuckets, i: number, t: number, seq: number): void {
  (buckets[i + 2] as number)++;
  const dt = t - (buckets[i] as number);
  if (dt > (buckets[i + 3] as number)) { buckets[i + 3] = dt; buckets[i + 4] = seq; } else if (dt === buckets[i + 3] && seq > (buckets[i + 4] as number)) buckets[i + 4] = seq;
}

/** Drop the buckets that started at or before `cut` (in place), subtracting them from the summary. */
export function tallyExpire(buckets: TallyBuckets, cut: number): void {
  if (buckets.length === 0 || (buckets[0] as number) > cut) return;
  const s = summaryOf(buckets);
  let i = 0;
  let bestLost = false;
  for (; i < buckets.length && (buckets[i] as number) <= cut; i += TUPLE) {
    if (subtract(s, buckets[i + 1] as string, buckets[i + 2] as number)) bestLost = true;
  }
  buckets.splice(0, i);
  s.shifted += i;
  if (s.newestStart <= cut) s.newest = undefined;
  // The others' counts only fell: the best changes only if its own count did.
  if (bestLost) rankBest(s);
}

/** Take one (bucket, value) count out of the summary; true when it was the best value's. */
function subtract(s: Summary, key: string, n: number): boolean {
  const entry = s.all[key]!;
  entry[0] -= n;
  if (entry[0] <= 0) { delete s.all[key]; s.n--; s.recency?.delete(key); }
  return key === s.best;
}

/** How many values: `distinct`. */
export function tallyDistinct(state: Tally | TallyBuckets | undefined): number {
  return state === undefined ? 0 : summaryOf(state).n;
}

/** The most frequent value: `top`. */
export function tallyTop(state: Tally | TallyBuckets | undefined): Value {
  const best = state === undefined ? null : summaryOf(state).best;
  return best === null ? null : valueOf(best);
}

/** Does the state hold `max` values, so that `distinct` is a lower bound and `top` ranks the most recent only? */
export function tallyAtBound(state: Tally | TallyBuckets | undefined, max: number): boolean {
  return state !== undefined && summaryOf(state).n >= max;
}

/** How many values the window holds, for the caller's choice of search. */
export function tallySize(state: Tally | TallyBuckets): number {
  return summaryOf(state).n;
}

/** When the oldest bucket started (it leaves first), or undefined for an empty list. */
export function tallyOldestBucket(buckets: TallyBuckets): number | undefined {
  return buckets.length === 0 ? undefined : (buckets[0] as number);
}

/**
 * The first bucket start, oldest first, whose leaving makes `flips` true of
 * what `top` then reads (the flip-instant search), or undefined. Nothing of
 * the state is copied but the counts: the buckets are subtracted in turn
 * from the summary's counts (a value's latest time does not change as older
 * buckets leave), ranking again only when the best value lost count. It
 * flips at all only if it flips for nothing left or for one of the values in
 * the window now. (A windowed `distinct` keeps latest values instead:
 * latest-values.ts.)
 */
export function tallyFlipBucket(buckets: TallyBuckets, flips: (value: Value) => boolean): number | undefined {
  if (buckets.length === 0) return undefined;
  return topFlipBucket(buckets, summaryOf(buckets), flips);
}

function topFlipBucket(buckets: TallyBuckets, s: Summary, flips: (value: Value) => boolean): number | undefined {
  if (!flips(null)) {
    // As buckets leave, `top` can only become one of the values there now.
    let some = false;
    for (const key in s.all) if (key !== s.best && flips(valueOf(key))) { some = true; break; }
    if (!some) return undefined;
  }
  // What is left of each value's count, in its summary entry (`left`).
  const all = s.all;
  for (const key in all) all[key]![3] = all[key]![0];
  let best = s.best;
  let bestLost = false;
  let lastTop: string | null | undefined;
  for (let i = 0; i < buckets.length; i += TUPLE) {
    const key = buckets[i + 1] as string;
    (all[key]![3] as number) -= buckets[i + 2] as number;
    if (key === best) bestLost = true;
    const start = buckets[i] as number;
    if (i + TUPLE < buckets.length && buckets[i + TUPLE] === start) continue;
    // The whole bucket has left: what `top` reads now. The others' counts
    // only fell: the best changes only if its own count did.
    if (bestLost) {
      best = null;
      let bestEntry: TallyEntry | undefined;
      for (const k in all) {
        const e = all[k]!;
        const n = e[3]!;
        if (n > 0 && (bestEntry === undefined || n > bestEntry[3]! || (n === bestEntry[3] && recentFirst(e, bestEntry)))) { best = k; bestEntry = e; }
      }
      bestLost = false;
    }
    // Tried again only when it changed.
    if (best === lastTop) continue;
    lastTop = best;
    if (flips(best === null ? null : valueOf(best))) return start;
  }
  return undefined;
}

/** A value from its JSON text; a plain string without parsing. */
function valueOf(key: string): Value {
  if (key.charCodeAt(0) === 34 && key.indexOf('\\') < 0) return key.slice(1, -1);
  return JSON.parse(key) as Value;
}

/** Between two values of equal count: is a's latest event later than b's? */
function recentFirst(a: TallyEntry, b: TallyEntry): boolean {
  return a[1] > b[1] || (a[1] === b[1] && a[2] > b[2]);
}

/** Keys of `tally` beyond the `max` most recently seen (by latest time, then arrival), least recent first. */
function leastRecentBeyond(latest: Map<string, [number, number]>, max: number): Set<string> {
  if (latest.size <= max) return new Set();
  const keys = [...latest.keys()].sort((a, b) => { const x = latest.get(a)!; const y = latest.get(b)!; return x[0] - y[0] || x[1] - y[1]; });
  return new Set(keys.slice(0, keys.length - max));
}

/**
 * Two all-time tallies as one (identity/merge-customers.ts): counts added,
 * each value's latest event the later; `b`'s arrival numbers shifted by
 * `shift`, so that its events of an instant come after `a`'s. Past `max`
 * values the least recently seen are dropped. A new object: its summary is
 * built on first use.
 */
export function tallyMerge(a: Tally | undefined, b: Tally | undefined, shift: number, max: number): Tally | undefined {
  if (b === undefined) return a;
  const out: Tally = {};
  for (const key in a) { const [n, t, seq] = a[key]!; out[key] = [n, t, seq]; }
  for (const key in b) { const [n, t, seq] = b[key]!; bump(out, key, n, t, seq + shift); }
  const latest = new Map<string, [number, number]>();
  for (const key in out) latest.set(key, [out[key]![1], out[key]![2]]);
  for (const key of leastRecentBeyond(latest, max)) delete out[key];
  return out;
}

/**
 * Two windowed tallies (tuple lists) as one, bucket by bucket: a value's
 * counts in one bucket added, its latest event there the later; `b`'s
 * arrival numbers shifted by `shift`. Past `max` values the least recently
 * seen are dropped from every bucket. A new list.
 */
export function tallyBucketsMerge(a: TallyBuckets | undefined, b: TallyBuckets | undefined, shift: number, max: number): TallyBuckets | undefined {
  if (b === undefined || b.length === 0) return a;
  const byBucket = new Map<number, Map<string, [number, number, number]>>();
  const add = (list: TallyBuckets, by: number): void => {
    for (let i = 0; i < list.length; i += TUPLE) {
      const start = list[i] as number;
      const key = list[i + 1] as string;
      const n = list[i + 2] as number;
      const dt = list[i + 3] as number;
      const seq = (list[i + 4] as number) + by;
      let bucket = byBucket.get(start);
      if (!bucket) byBucket.set(start, bucket = new Map());
      const prev = bucket.get(key);
      if (!prev) bucket.set(key, [n, dt, seq]);
      else {
        prev[0] += n;
        if (dt > prev[1] || (dt === prev[1] && seq > prev[2])) { prev[1] = dt; prev[2] = seq; }
      }
    }
  };
  add(a ?? [], 0);
  add(b, shift);
  const latest = new Map<string, [number, number]>();
  for (const [start, bucket] of byBucket) {
    for (const [key, [, dt, seq]] of bucket) {
      const prev = latest.get(key);
      const t = start + dt;
      if (!prev || t > prev[0] || (t === prev[0] && seq > prev[1])) latest.set(key, [t, seq]);
    }
  }
  const dropped = leastRecentBeyond(latest, max);
  const out: TallyBuckets = [];
  for (const start of [...byBucket.keys()].sort((x, y) => x - y)) {
    for (const [key, [n, dt, seq]] of byBucket.get(start)!) if (!dropped.has(key)) out.push(start, key, n, dt, seq);
  }
  return out;
}
