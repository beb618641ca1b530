/**
 * Checks that the Avro variant of the workload means what the JSON variant
 * means: bench-event.avsc passes aud's start-up schema check against
 * bench/rules/bench.aud (connectors/avro), and every generated event decodes
 * to the same engine event from Avro as from JSON.
 *
 *   node dist/bench/workload/check-avro-variant.js [--events 20000]   → "equal: N events", exit 0
 */
import { fileURLToPath } from 'node:url';
import { loadPlan } from '../../cli/rules.js';
import { openAvroInput } from '../../connectors/avro/index.js';
import { RecordDecoder } from '../../engine/input-record.js';
import { avroSchemaPath, eventEncoder } from './event-encoding.js';
import { workloadEvents } from './retail-workload.js';

export async function checkAvroVariant(events: number): Promise<{ events: number; differing: number; warnings: string[] }> {
  const plan = await loadPlan([fileURLToPath(new URL('../../../bench/rules/bench.aud', import.meta.url))]);
  if (!plan) throw new Error('bench/rules/bench.aud does not compile');
  const { decoder, warnings } = await openAvroInput(plan, { schemaFile: avroSchemaPath() });
  const avro = eventEncoder('avro');
  const json = eventEncoder('json');
  const records = new RecordDecoder(plan);
  let differing = 0;
  for (const e of workloadEvents({ customers: 1000, events, days: 30, seed: 3, start: new Date('2026-01-01T00:00:00Z'), zipf: 0.8 })) {
    const fromAvro = records.decode(await decoder.decode(avro(e)));
    const fromJson = records.decode(json(e));
    if (JSON.stringify(fromAvro) !== JSON.stringify(fromJson)) {
      if (differing++ < 3) process.stderr.write(`differs: ${JSON.stringify(fromAvro)} vs ${JSON.stringify(fromJson)}\n`);
    }
  }
  return { events, differing, warnings };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--events');
  const r = await checkAvroVariant(i > 0 ? Number(process.argv[i + 1]) : 20_000);
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  if (r.differing > 0) { process.stdout.write(`different: ${r.differing} of ${r.events} events\n`); process.exitCode = 1; }
  else process.stdout.write(`equal: ${r.events} events\n`);
}
