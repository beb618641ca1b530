/**
 * The dashboard's sizes over time: points per minute written to the state
 * directory and read back by the next process, a restart within a minute
 * carrying that minute on, a torn line passed over, and the file bounded to
 * 24 hours of points however long the engine runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../engine/log.js';
import { KEEP_POINTS, MINUTE_MS, SizeHistory } from '../../runtime/size-history.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const T0 = Date.parse('2026-12-04T10:00:00Z');

/** A history on a clock the test moves, over sizes the test sets. */
function history(file: string, clock: { now: number }, sizes: Record<string, number>): SizeHistory {
  return new SizeHistory(file, () => ({ ...sizes }), quiet, () => clock.now);
}

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'aud-sizes-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('points written by one process are read back by the next: the file survives a restart', () => withDir(async (dir) => {
  const file = join(dir, 'dashboard', 'sizes.jsonl');
  const clock = { now: T0 + 5_000 };
  const sizes = { vip: 3, churn_risk: 0 };
  const first = history(file, clock, sizes);
  await first.load();
  first.start();
  first.count('vip', 3, 0);
  clock.now = T0 + MINUTE_MS + 1_000;
  sizes.vip = 2;
  first.roll();
  first.count('vip', 0, 1);
  clock.now = T0 + 2 * MINUTE_MS + 1_000;
  first.roll();
  await first.stop();
  const before = first.points();

  const second = history(file, clock, sizes);
  await second.load();
  assert.deepEqual(second.points(), before);
  assert.deepEqual(second.points().map((p) => [p.t - T0, p.sizes.vip, p.enters.vip ?? 0, p.leaves.vip ?? 0]), [
    [0, 2, 3, 0],
    [MINUTE_MS, 2, 0, 1],
    [2 * MINUTE_MS, 2, 0, 0],
  ]);
}));

test('a restart within the same minute carries that minute\'s counts on; a torn last line is passed over', () => withDir(async (dir) => {
  const file = join(dir, 'sizes.jsonl');
  const clock = { now: T0 + 10_000 };
  const first = history(file, clock, { vip: 1 });
  await first.load();
  first.start();
  first.count('vip', 2, 1);
  await first.stop();
  await appendFile(file, '{"t":12'); // a crash mid-write
  clock.now = T0 + 40_000;
  const second = history(file, clock, { vip: 1 });
  await second.load();
  second.start();
  second.count('vip', 1, 0);
  await second.stop();
  const third = history(file, clock, { vip: 1 });
  await third.load();
  assert.deepEqual(third.points(), [{ t: T0, sizes: { vip: 1 }, enters: { vip: 3 }, leaves: { vip: 1 } }]);
}));

test('24 hours of points are kept and the file is compacted: bounded however long the engine runs', () => withDir(async (dir) => {
  const file = join(dir, 'sizes.jsonl');
  const clock = { now: T0 };
  const h = history(file, clock, { vip: 7 });
  await h.load();
  const minutes = 2 * KEEP_POINTS + 100;
  for (let m = 1; m <= minutes; m++) {
    h.count('vip', 1, 0);
    clock.now = T0 + m * MINUTE_MS;
    h.roll();
  }
  await h.flushed();
  const points = h.points();
  assert.equal(points.length, KEEP_POINTS + 1, 'a day of closed minutes and the live one');
  assert.equal(points[0]!.t, T0 + (minutes - KEEP_POINTS) * MINUTE_MS);
  const lines = (await readFile(file, 'utf8')).trim().split('\n');
  assert.ok(lines.length <= 2 * KEEP_POINTS, `${lines.length} lines in the file`);
  // A day later, the next process keeps only the last day too.
  const next = history(file, clock, { vip: 7 });
  await next.load();
  assert.deepEqual(next.points().slice(0, -1), points.slice(0, -1));
  clock.now += 2 * KEEP_POINTS * MINUTE_MS;
  const muchLater = history(file, clock, { vip: 7 });
  await muchLater.load();
  assert.equal(muchLater.points().length, 1, 'points older than a day are dropped on load: only the live one');
}));

test('points since a minute: the live point last, its sizes as of now', () => withDir(async (dir) => {
  const clock = { now: T0 };
  const sizes = { vip: 1 };
  const h = history(join(dir, 'sizes.jsonl'), clock, sizes);
  await h.load();
  for (let m = 1; m <= 5; m++) { clock.now = T0 + m * MINUTE_MS; h.roll(); }
  sizes.vip = 9;
  const since = h.points(T0 + 3 * MINUTE_MS);
  assert.deepEqual(since.map((p) => (p.t - T0) / MINUTE_MS), [3, 4, 5]);
  assert.equal(since.at(-1)!.sizes.vip, 9);
  await h.flushed();
}));
