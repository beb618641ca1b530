/** One suite, both backends: the memory store must behave as RocksDB does. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { StateStoreError } from '../../../engine/state/errors.js';
import { MemoryStore } from '../../../engine/state/memory-store.js';
import { RocksStore } from '../../../engine/state/rocksdb-store.js';
import type { PartitionStore } from '../../../engine/state/store.js';
import { SCRUB_KEY } from '../../../engine/state-keys.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

async function keys(store: PartitionStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const [k] of store.scan(prefix)) out.push(k);
  return out;
}

const backends: [string, () => Promise<{ store: PartitionStore; dir: string }>][] = [
  ['memory', async () => ({ store: new MemoryStore(), dir: '' })],
  ['rocksdb', async () => { const dir = mkdtempSync(join(tmpdir(), 'aud-store-')); return { store: await RocksStore.open(dir), dir }; }],
];

for (const [name, open] of backends) {
  describe(`${name} store`, () => {
    test('write batches: puts, deletes, the later write to a key wins', async () => {
      const { store, dir } = await open();
      await store.write([{ type: 'put', key: 'c/1', value: enc('a') }, { type: 'put', key: 'c/2', value: enc('b') }]);
      await store.write([{ type: 'put', key: 'c/1', value: enc('x') }, { type: 'del', key: 'c/2' }, { type: 'put', key: 'c/1', value: enc('y') }]);
      assert.deepEqual((await store.getMany(['c/1', 'c/2', 'c/3'])).map(dec), ['y', undefined, undefined]);
      await store.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('scan: prefix bounds and bytewise order, non-ASCII included', async () => {
      const { store, dir } = await open();
      const all = ['c/10', 'c/1', 'c/2', 'd/1', 'c', 'c0', 'c/é', 'c/z', 'c/😀', 't/000000000000005/a', 't/000000000000010/a'];
      await store.write(all.map((key) => ({ type: 'put' as const, key, value: enc(key) })));
      assert.deepEqual(await keys(store, 'c/'), ['c/1', 'c/10', 'c/2', 'c/z', 'c/é', 'c/😀']);
      assert.deepEqual(await keys(store, 't/'), ['t/000000000000005/a', 't/000000000000010/a']);
      await store.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });
  });
}

test('rocksdb: values survive close and reopen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aud-store-'));
  let store = await RocksStore.open(dir);
  await store.write([{ type: 'put', key: 'c/1', value: enc('kept') }]);
  await store.close();
  store = await RocksStore.open(dir);
  assert.deepEqual((await store.getMany(['c/1'])).map(dec), ['kept']);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('rocksdb: a store held by another handle fails with a message that says what to do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aud-store-'));
  const first = await RocksStore.open(dir);
  await assert.rejects(RocksStore.open(dir), (err: unknown) => {
    assert.ok(err instanceof StateStoreError);
    assert.equal(err.code, 'locked');
    assert.equal(err.fatal, true);
    assert.match(err.message, /is locked: another aud process .* holds it\. Stop the other process, or give this one its own --state-dir/);
    return true;
  });
  await first.close();
  rmSync(dir, { recursive: true, force: true });
});

test('rocksdb: a written batch is released, so memory stays flat however much the engine writes', async () => {
  // The engine writes a batch per commit for as long as it runs; a binding
  // that kept each batch (as @nxtedition/rocksdb's array form does) grew by
  // everything ever written. 240 MB go through here in 2,400 batches.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const settle = async (): Promise<number> => {
    gc();
    await new Promise((r) => setImmediate(r)); // native finalizers run after the collection
    gc();
    return process.memoryUsage().rss;
  };
  const dir = mkdtempSync(join(tmpdir(), 'aud-store-'));
  const store = await RocksStore.open(dir);
  const value = new Uint8Array(2000).fill(7);
  const write = (round: number) => store.write(Array.from({ length: 50 }, (_, i) => ({ type: 'put' as const, key: `c/${(round * 50 + i) % 5000}`, value })));
  for (let round = 0; round < 400; round++) await write(round); // warm: memtables, caches, allocator arenas
  const before = await settle();
  for (let round = 0; round < 2400; round++) {
    await write(round);
    if (round % 100 === 99) await settle();
  }
  const grownMb = ((await settle()) - before) / 1e6;
  assert.ok(grownMb < 100, `RSS grew by ${grownMb.toFixed(0)} MB over 240 MB of writes: write batches are being kept`);
  assert.deepEqual((await store.getMany(['c/4999'])).map((v) => v?.length), [2000]);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Whether any file under `dir` holds `text`. */
function filesHold(dir: string, text: string): boolean {
  const needle = Buffer.from(text);
  const walk = (d: string): boolean => readdirSync(d, { withFileTypes: true }).some((e) =>
    e.isDirectory() ? walk(join(d, e.name)) : readFileSync(join(d, e.name)).includes(needle));
  return walk(dir);
}

test('rocksdb: a store marked after an erasure is rewritten at its next open, and no file holds what was deleted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aud-scrub-'));
  try {
    let store = await RocksStore.open(dir);
    await store.write([{ type: 'put', key: 'c/erased-customer-42', value: enc('erased-value-42') }, { type: 'put', key: 'c/kept', value: enc('kept-value') }]);
    await store.write([{ type: 'del', key: 'c/erased-customer-42' }]);
    await store.close();
    // Deleted, but its files still hold it: that is what the marker is for.
    assert.ok(filesHold(dir, 'erased-customer-42'));
    store = await RocksStore.open(dir);
    await store.write([{ type: 'put', key: SCRUB_KEY, value: new Uint8Array(0) }]);
    await store.close();
    store = await RocksStore.open(dir);
    assert.deepEqual(await keys(store, ''), ['c/kept']);
    assert.equal(dec((await store.getMany(['c/kept']))[0]), 'kept-value');
    await store.close();
    assert.equal(filesHold(dir, 'erased-customer-42'), false);
    assert.equal(filesHold(dir, 'erased-value-42'), false);
    assert.deepEqual(readdirSync(join(dir, '..')).filter((n) => n.startsWith(basename(dir) + '.')), []);
    // A copy cut short by a kill (a half-made dir.scrub) is dropped and made again.
    mkdirSync(`${dir}.scrub`);
    writeFileSync(join(`${dir}.scrub`, 'junk'), 'x');
    store = await RocksStore.open(dir);
    assert.deepEqual(await keys(store, ''), ['c/kept']);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}.scrub`, { recursive: true, force: true });
  }
});
