/**
 * PartitionStore on RocksDB, through @nxtedition/rocksdb (the maintained fork
 * of Level/rocksdb; docs/decisions/2026-12-04-rocksdb-binding.md says why).
 * The only file of aud that imports a RocksDB binding.
 *
 * One database per input partition. Reads are bulk (`getMany`), writes are
 * one atomic write batch per commit, scans are bounded iterators.
 */
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { SCRUB_KEY } from '../state-keys.js';
import { RocksLevel } from '@nxtedition/rocksdb';
import { StateStoreError } from './errors.js';
import type { PartitionStore, StoreWrite } from './store.js';

interface Level {
  open(options?: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
  getMany(keys: string[]): Promise<(Uint8Array | undefined)[]>;
  /** A chained batch: write() applies it atomically and then releases it. */
  batch(): ChainedBatch;
  iterator(options: { gte?: string; lt?: string }): AsyncIterable<[string, Uint8Array]>;
}

interface ChainedBatch {
  put(key: string, value: Uint8Array): void;
  del(key: string): void;
  write(): Promise<void>;
  close(): Promise<void>;
}

/** The first key after every key that starts with `prefix` (bytewise). */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/**
 * RocksDB's defaults give each database two 64 MiB memtables, and a process
 * holds one database per partition: 16 partitions could pin 2 GiB in
 * memtables alone while the engine rewrites its hot customers. A 16 MiB
 * budget per store (4 MiB write buffers, level compaction tuned for it by the
 * binding, zstd below level 1) keeps the worst case near 24 MiB per
 * partition; the engine's own record cache already absorbs repeated writes.
 */
const MEMORY_BOUNDS = { compaction: 'level', memtableMemoryBudget: 16 * 1024 * 1024 };

export class RocksStore implements PartitionStore {
  private constructor(private readonly db: Level, private readonly dir: string) {}

  /**
   * Open the store of `dir`, first rewritten when a customer was erased
   * since its files were last written whole (SCRUB_KEY).
   *
   * A deleted key stays in RocksDB's files (its log and tables) until a
   * compaction rewrites them, and this binding cannot ask for one. An
   * erased customer must be gone from the disk, so the store is copied,
   * live keys only, into fresh files, and the old ones removed. Each step
   * can be cut by a kill: `dir.scrub` is a copy being made (dropped, and
   * made again from `dir`, which still has the marker), a `dir.scrub`
   * without `dir` is a finished copy (it becomes `dir`), and `dir.erased`
   * is the old files (removed).
   */
  static async open(dir: string): Promise<RocksStore> {
    const copy = `${dir}.scrub`;
    const old = `${dir}.erased`;
    if (!(await exists(dir)) && (await exists(copy))) await rename(copy, dir);
    await rm(copy, { recursive: true, force: true });
    await rm(old, { recursive: true, force: true });
    const store = await RocksStore.openDir(dir);
    const [marker] = await store.getMany([SCRUB_KEY]);
    if (!marker) return store;
    const fresh = await RocksStore.openDir(copy);
    let batch: StoreWrite[] = [];
    for await (const [key, value] of store.scan('')) {
      if (key === SCRUB_KEY) continue;
      // A copy: the iterator may reuse the memory of the values it gave.
      batch.push({ type: 'put', key, value: value.slice() });
      if (batch.length >= 10_000) { await fresh.write(batch); batch = []; }
    }
    await fresh.write(batch);
    await fresh.close();
    await store.close();
    await rename(dir, old);
    await rename(copy, dir);
    await rm(old, { recursive: true, force: true });
    return RocksStore.openDir(dir);
  }

  private static async openDir(dir: string): Promise<RocksStore> {
    await mkdir(dir, { recursive: true });
    const db = new RocksLevel(dir, { keyEncoding: 'utf8', valueEncoding: 'view' }) as unknown as Level;
    try {
      await db.open({ createIfMissing: true, infoLogLevel: 'warn', ...MEMORY_BOUNDS });
    } catch (err) {
      const text = `${(err as Error).message} ${String(((err as Error).cause as Error | undefined)?.message ?? '')}`;
      if (/lock/i.test(text)) {
        throw new StateStoreError('locked', `state store ${dir} is locked: another aud process (or a stale one) holds it. ` +
          'Stop the other process, or give this one its own --state-dir.', { cause: err, fatal: true });
      }
      throw new StateStoreError('open', `cannot open state store ${dir}: ${text.trim()}. If it is corrupt, move it away: ` +
        'the partition then starts from empty state.', { cause: err, fatal: true });
    }
    return new RocksStore(db, dir);
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    if (keys.length === 0) return [];
    try {
      return await this.db.getMany([...keys]);
    } catch (err) {
      throw new StateStoreError('read', `reading ${keys.length} keys from ${this.dir} failed: ${(err as Error).message}`, { cause: err, fatal: false });
    }
  }

  /**
   * One chained batch per write, never the array form `db.batch(ops)`: in
   * @nxtedition/rocksdb 12.2.12 the array form attaches the chained batch it
   * makes to the database as a resource and never detaches it, so every
   * write batch, with a copy of every key and value written, stays in
   * memory until the store closes
   * (docs/decisions/2026-12-04-rocksdb-chained-write-batches.md). A chained
   * batch detaches and clears itself once written.
   */
  async write(batch: readonly StoreWrite[]): Promise<void> {
    if (batch.length === 0) return;
    const chained = this.db.batch();
    try {
      for (const w of batch) {
        if (w.type === 'put') chained.put(w.key, w.value); else chained.del(w.key);
      }
      await chained.write();
    } catch (err) {
      await chained.close().catch(() => undefined); // released already if write() got that far
      throw new StateStoreError('write', `writing ${batch.length} changes to ${this.dir} failed: ${(err as Error).message}`, { cause: err, fatal: false });
    }
  }

  async *scan(prefix: string): AsyncIterable<[string, Uint8Array]> {
    const range = prefix === '' ? {} : { gte: prefix, lt: prefixEnd(prefix) };
    for await (const entry of this.db.iterator(range)) yield entry;
  }

  async approximateSize(): Promise<number> {
    let bytes = 0;
    for await (const [k, v] of this.scan('')) bytes += k.length + v.length;
    return bytes;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

export function openRocksStore(dir: string): Promise<PartitionStore> {
  return RocksStore.open(dir);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
