/**
 * PartitionStore in memory: for replay, `aud test` and fast tests. Behaves as
 * the RocksDB store does, down to key order: keys sort by their UTF-8 bytes
 * (not by JavaScript's UTF-16 string order, which differs beyond the BMP).
 */
import type { PartitionStore, StoreWrite } from './store.js';

/** The order of keys in a store: bytewise over their UTF-8, as RocksDB sorts them. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export class MemoryStore implements PartitionStore {
  private readonly map = new Map<string, Uint8Array>();
  private closed = false;

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    this.assertOpen();
    return keys.map((k) => this.map.get(k));
  }

  async write(batch: readonly StoreWrite[]): Promise<void> {
    this.assertOpen();
    for (const w of batch) {
      if (w.type === 'put') this.map.set(w.key, w.value); else this.map.delete(w.key);
    }
  }

  async *scan(prefix: string): AsyncIterable<[string, Uint8Array]> {
    this.assertOpen();
    const keys = [...this.map.keys()].filter((k) => k.startsWith(prefix)).sort(compareUtf8);
    for (const k of keys) {
      const v = this.map.get(k);
      if (v !== undefined) yield [k, v];
    }
  }

  async approximateSize(): Promise<number> { return 0; }

  async close(): Promise<void> { this.closed = true; }

  private assertOpen(): void {
    if (this.closed) throw new Error('memory store used after close');
  }
}
