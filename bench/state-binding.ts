/**
 * Which RocksDB binding: `rocksdb` (Level/rocksdb, discontinued in December
 * 2024, bundles RocksDB 6) or `@nxtedition/rocksdb` (its maintained fork,
 * current RocksDB). Measured on the engine's own access pattern, in one run:
 *
 *   a store of N customers with ~300-byte values; then cycles of
 *   - one bulk read (getMany) of 500 Zipf-chosen customers, some absent,
 *   - one atomic write batch: 500 customer values + 100 timer-index puts/deletes;
 *   and a prefix scan.
 *
 * Each binding runs on the main thread and inside a worker thread (the engine
 * will run partitions in workers). Progress on stderr, a table on stdout.
 *
 *   node dist/bench/state-binding.js [--keys 200000] [--cycles 400]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

interface Db {
  open(): Promise<void>;
  getMany(keys: string[]): Promise<unknown[]>;
  batch(ops: { type: 'put' | 'del'; key: string; value?: Buffer }[]): Promise<void>;
  scan(gte: string, lt: string): Promise<number>;
  close(): Promise<void>;
}

function promisify<T>(fn: (cb: (err: Error | null, v?: T) => void) => void): Promise<T> {
  return new Promise((res, rej) => fn((err, v) => (err ? rej(err) : res(v as T))));
}

function openBinding(name: string, dir: string): Db {
  if (name === 'rocksdb') {
    const leveldown = require('rocksdb') as (dir: string) => {
      open(o: object, cb: (e: Error | null) => void): void;
      getMany(k: string[], o: object, cb: (e: Error | null, v?: unknown[]) => void): void;
      batch(ops: object[], cb: (e: Error | null) => void): void;
      iterator(o: object): { next(cb: (e: Error | null, k?: unknown, v?: unknown) => void): void; end(cb: (e: Error | null) => void): void };
      close(cb: (e: Error | null) => void): void;
    };
    const db = leveldown(dir);
    return {
      open: () => promisify<void>((cb) => db.open({ createIfMissing: true }, cb)),
      getMany: (keys) => promisify<unknown[]>((cb) => db.getMany(keys, { asBuffer: true }, cb)),
      batch: (ops) => promisify<void>((cb) => db.batch(ops, cb)),
      scan: async (gte, lt) => {
        const it = db.iterator({ gte, lt, keyAsBuffer: false, valueAsBuffer: true });
        let n = 0;
        for (;;) {
          const key = await new Promise<unknown>((res, rej) => it.next((e, k) => (e ? rej(e) : res(k))));
          if (key === undefined) break;
          n++;
        }
        await promisify<void>((cb) => it.end(cb));
        return n;
      },
      close: () => promisify<void>((cb) => db.close(cb)),
    };
  }
  const { RocksLevel } = require('@nxtedition/rocksdb') as { RocksLevel: new (dir: string, o: object) => {
    open(o: object): Promise<void>; getMany(k: string[]): Promise<unknown[]>;
    batch(): { put(k: string, v: unknown): void; del(k: string): void; write(): Promise<void> };
    iterator(o: object): AsyncIterable<unknown>; close(): Promise<void>;
  } };
  const db = new RocksLevel(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  return {
    open: () => db.open({ createIfMissing: true }),
    getMany: (keys) => db.getMany(keys),
    // The chained form, as engine/state/rocksdb-store.ts writes (its array form keeps every batch in memory).
    batch: async (ops) => {
      const b = db.batch();
      for (const op of ops as { type: string; key: string; value?: unknown }[]) {
        if (op.type === 'put') b.put(op.key, op.value); else b.del(op.key);
      }
      await b.write();
    },
    scan: async (gte, lt) => { let n = 0; for await (const _ of db.iterator({ gte, lt })) n++; return n; },
    close: () => db.close(),
  };
}

interface Result {
  binding: string; thread: string; openMs: number; loadKeysPerS: number; cyclesPerS: number;
  readsPerS: number; writesPerS: number; p50Ms: number; p99Ms: number; scanPerS: number;
}

function zipf(n: number, rand: () => number): number {
  // Inverse-CDF approximation of Zipf(s≈1): many draws on a few hot keys.
  return Math.min(n - 1, Math.floor(Math.exp(rand() * Math.log(n + 1)) - 1));
}

async function measure(binding: string, keys: number, cycles: number, thread: string): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), `aud-bench-${binding.replace(/\W/g, '')}-`));
  let seed = 1;
  const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const value = Buffer.alloc(300, 7);
  const key = (i: number) => `c/${String(i).padStart(8, '0')}`;
  try {
    const t0 = performance.now();
    const db = openBinding(binding, dir);
    await db.open();
    const openMs = performance.now() - t0;

    const l0 = performance.now();
    for (let i = 0; i < keys; i += 5000) {
      const ops: { type: 'put'; key: string; value: Buffer }[] = [];
      for (let j = i; j < Math.min(keys, i + 5000); j++) ops.push({ type: 'put', key: key(j), value });
      await db.batch(ops);
    }
    const loadKeysPerS = keys / ((performance.now() - l0) / 1000);

    const lat: number[] = [];
    const c0 = performance.now();
    for (let c = 0; c < cycles; c++) {
      const s = performance.now();
      const batchKeys = Array.from({ length: 500 }, () => key(zipf(keys * 1.05, rand)));
      await db.getMany(batchKeys);
      const ops: { type: 'put' | 'del'; key: string; value?: Buffer }[] = batchKeys.map((k) => ({ type: 'put', key: k, value }));
      for (let t = 0; t < 100; t++) {
        const due = String(1_700_000_000_000 + Math.floor(rand() * 1e9)).padStart(15, '0');
        ops.push(t % 2 === 0 ? { type: 'put', key: `t/${due}/${batchKeys[t]}`, value: Buffer.alloc(0) } : { type: 'del', key: `t/${due}/${batchKeys[t]}` });
      }
      await db.batch(ops);
      lat.push(performance.now() - s);
      if (c % 100 === 0 && isMainThread) process.stderr.write(`\r${binding} ${thread}: cycle ${c}/${cycles}   `);
    }
    const secs = (performance.now() - c0) / 1000;
    lat.sort((a, b) => a - b);
    const s0 = performance.now();
    const scanned = await db.scan('c/', 'c0');
    const scanPerS = scanned / ((performance.now() - s0) / 1000);
    await db.close();
    return {
      binding, thread, openMs, loadKeysPerS, cyclesPerS: cycles / secs, readsPerS: (cycles * 500) / secs, writesPerS: (cycles * 600) / secs,
      p50Ms: lat[Math.floor(lat.length * 0.5)]!, p99Ms: lat[Math.floor(lat.length * 0.99)]!, scanPerS,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function inWorker(binding: string, keys: number, cycles: number): Promise<Result> {
  return new Promise((res, rej) => {
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: { binding, keys, cycles } });
    w.once('message', res);
    w.once('error', rej);
  });
}

if (!isMainThread) {
  const { binding, keys, cycles } = workerData as { binding: string; keys: number; cycles: number };
  parentPort!.postMessage(await measure(binding, keys, cycles, 'worker'));
} else {
  const arg = (name: string, def: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  const keys = arg('keys', 200_000);
  const cycles = arg('cycles', 400);
  const results: Result[] = [];
  for (const binding of ['rocksdb', '@nxtedition/rocksdb']) {
    results.push(await measure(binding, keys, cycles, 'main'));
    results.push(await inWorker(binding, keys, cycles));
  }
  process.stderr.write('\n');
  const f = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));
  console.log(`keys ${keys}, ${cycles} cycles of getMany(500) + batch(500 puts + 100 timer puts/dels)\n`);
  console.log('| binding | thread | open ms | load keys/s | cycles/s | reads/s | writes/s | cycle p50 ms | cycle p99 ms | scan keys/s |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.binding} | ${r.thread} | ${f(r.openMs)} | ${f(r.loadKeysPerS)} | ${f(r.cyclesPerS)} | ${f(r.readsPerS)} | ${f(r.writesPerS)} | ${f(r.p50Ms)} | ${f(r.p99Ms)} | ${f(r.scanPerS)} |`);
  }
}
