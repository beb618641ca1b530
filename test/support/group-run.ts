/**
 * Helpers for tests that run several engines in one consumer group on a
 * partitioned topic: our own partitioning of the input (so that replay can
 * be run per partition, the way the engine's per-partition clock sees it),
 * the group's committed offsets, and per-customer comparison with replay.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAdmin } from '../../connectors/kafka/client.js';
import { KafkaSink } from '../../connectors/kafka/sink.js';
import { compileSources } from '../../dsl/compile.js';
import { replay } from '../../engine/replay.js';
import { readTopic, testBrokers } from './broker.js';
import { repo } from './examples.js';

export const retailRules = join(repo, 'examples/retail/retail.aud');

/** FNV-1a of the customer id, modulo the partition count. */
export function partitionOf(customer: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < customer.length; i++) h = Math.imul(h ^ customer.charCodeAt(i), 0x01000193) >>> 0;
  return h % partitions;
}

export async function produceEvents(topic: string, partitions: number, events: Record<string, unknown>[], keyOf: (e: Record<string, unknown>) => string = (e) => String(e['customer_id'])): Promise<void> {
  const sink = new KafkaSink({ brokers: testBrokers(), clientId: 'aud-test' });
  await sink.connect();
  try {
    for (let i = 0; i < events.length; i += 5000) {
      await sink.send(events.slice(i, i + 5000).map((e) => {
        const key = keyOf(e);
        return { topic, key, value: JSON.stringify(e), partition: partitionOf(key, partitions) };
      }));
    }
  } finally {
    await sink.disconnect();
  }
}

/** The group's committed next offset per partition (0 where none). */
export async function committedOffsets(group: string, topic: string): Promise<Map<number, bigint>> {
  const admin = createAdmin({ brokers: testBrokers() });
  await admin.connect();
  try {
    const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return new Map((offsets[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset) >= 0 ? BigInt(p.offset) : 0n]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Wait until the group committed every partition's end offset. Not while the
 * broker restarts: the client's fetchOffsets crashed the process (SIGSEGV)
 * while the group coordinator was still loading.
 */
export async function untilCommitted(group: string, topic: string, ends: Map<number, bigint>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const done = await committedOffsets(group, topic);
    if ([...ends].every(([p, end]) => (done.get(p) ?? 0n) >= end)) return;
    if (Date.now() > deadline) {
      throw new Error(`group ${group} did not commit the end of ${topic} in ${timeoutMs} ms: committed ${JSON.stringify([...done].map(([p, o]) => [p, o.toString()]))}, ends ${JSON.stringify([...ends].map(([p, o]) => [p, o.toString()]))}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Each customer's enter/leave events as `type audience at vVERSION reason`, in order. */
export type PerCustomer = Map<string, string[]>;

function line(o: { type: string; audience?: string; at: string; version: number; reason: string }): string {
  return `${o.type} ${o.audience} ${o.at} v${o.version} ${o.reason}`;
}

/** What the engine must emit: replay of each partition's events on its own clock. */
export async function expectedPerCustomer(rules: string, partitions: number, events: Record<string, unknown>[]): Promise<{ perCustomer: PerCustomer; total: number }> {
  const plan = compileSources(new Map([[rules, readFileSync(rules, 'utf8')]])).plan!;
  const perCustomer: PerCustomer = new Map();
  let total = 0;
  for (let p = 0; p < partitions; p++) {
    const mine = events.filter((e) => partitionOf(String(e.customer_id), partitions) === p);
    await replay(plan, mine.map((value) => ({ value })), {
      onOutput: (out) => {
        for (const o of out) {
          total++;
          const list = perCustomer.get(o.customer) ?? [];
          list.push(line(o));
          perCustomer.set(o.customer, list);
        }
      },
    });
  }
  return { perCustomer, total };
}

/** What the output topic holds (committed records only), per customer in offset order. */
export async function outputPerCustomer(topic: string, expected: number, timeoutMs = 60_000): Promise<{ perCustomer: PerCustomer; total: number }> {
  const records = await readTopic(topic, { expected, timeoutMs, settleMs: 1500 });
  const perCustomer: PerCustomer = new Map();
  for (const r of records) {
    const o = JSON.parse(String(r.value)) as { type: string; audience: string; customer: string; at: string; version: number; reason: string };
    const list = perCustomer.get(o.customer) ?? [];
    list.push(line(o));
    perCustomer.set(o.customer, list);
  }
  return { perCustomer, total: records.length };
}

/** Customers whose sequence differs, with both sequences, for an assertion message. */
export function differences(want: PerCustomer, got: PerCustomer, limit = 3): string[] {
  const out: string[] = [];
  for (const c of new Set([...want.keys(), ...got.keys()])) {
    const a = want.get(c) ?? [];
    const b = got.get(c) ?? [];
    if (a.length === b.length && a.every((x, i) => x === b[i])) continue;
    out.push(`${c}:\n  replay: ${a.join(' | ')}\n  topic:  ${b.join(' | ')}`);
    if (out.length >= limit) break;
  }
  return out;
}
