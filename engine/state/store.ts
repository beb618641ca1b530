/**
 * The state store of one input partition: an ordered key-value map.
 *
 * Two backends implement it with the same behaviour: RocksDB (rocksdb-store.ts,
 * the only file that imports a RocksDB binding) for `aud run`, and memory
 * (memory-store.ts) for `aud replay`, `aud test` and fast tests. One test suite
 * runs against both.
 *
 * The engine reads in bulk (getMany for every customer of a batch), keeps the
 * values it changes in memory, and writes them back as one atomic batch per
 * commit. So the store needs no transactions of its own: a write batch is
 * applied whole or not at all.
 *
 * Keys are UTF-8 strings and sort bytewise; values are opaque bytes.
 */
export type StoreWrite =
  | { type: 'put'; key: string; value: Uint8Array }
  | { type: 'del'; key: string };

export interface PartitionStore {
  /** Values for keys, in order; `undefined` where a key is absent. */
  getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]>;
  /** Apply every write atomically, in order (a later write to a key wins). */
  write(batch: readonly StoreWrite[]): Promise<void>;
  /** Every entry whose key starts with `prefix`, in key order. */
  scan(prefix: string): AsyncIterable<[string, Uint8Array]>;
  /** Approximate bytes on disk (0 for memory). */
  approximateSize(): Promise<number>;
  close(): Promise<void>;
}

/** Opens the store of one partition. `dir` is unique per partition (RocksDB) or ignored (memory). */
export type StoreFactory = (dir: string) => Promise<PartitionStore>;
