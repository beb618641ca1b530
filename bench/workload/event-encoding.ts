/**
 * Workload events as Kafka record values: JSON (what bench.aud's `format
 * json` source reads; `ts` as an ISO-8601 string, as examples/retail writes
 * it) or plain Avro binary with bench-event.avsc (`ts` as timestamp-millis).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import type { WorkloadEvent } from './retail-workload.js';

export type WorkloadFormat = 'json' | 'avro';

/** The schema file, next to this module's source (dist/bench/workload → bench/workload). */
export function avroSchemaPath(): string {
  return fileURLToPath(new URL('../../../bench/workload/bench-event.avsc', import.meta.url));
}

const FIELDS = ['amount', 'category', 'sku', 'channel', 'url', 'brand', 'tier', 'email_opt_in', 'country'] as const;

export function eventEncoder(format: WorkloadFormat): (e: WorkloadEvent) => Buffer {
  if (format === 'json') {
    return (e) => Buffer.from(JSON.stringify({ ...e, ts: new Date(e.ts).toISOString() }));
  }
  const type = avro.Type.forSchema(JSON.parse(readFileSync(avroSchemaPath(), 'utf8')) as avro.Schema);
  return (e) => {
    const record: Record<string, unknown> = { customer_id: e.customer_id, type: e.type, ts: e.ts };
    // avsc's plain (unwrapped) unions take the value itself or null.
    for (const f of FIELDS) record[f] = e[f] ?? null;
    return type.toBuffer(record);
  };
}
