/**
 * The benchmark's workload generator, on its own: create the topic (8
 * partitions by default) and produce the retail workload into it.
 *
 *   node dist/bench/generate-workload.js --brokers 127.0.0.1:9092 --topic bench.x.events \
 *        [--customers 1000000] [--events 10000000] [--days 90] [--zipf 0.8] [--seed 1] [--format json|avro]
 *
 * bench/run.ts calls the same code (workload/produce-workload.ts).
 */
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ensureTopics } from '../connectors/kafka/admin.js';
import { produceWorkload } from './workload/produce-workload.js';

export async function main(argv: string[]): Promise<void> {
  const args = await yargs(argv)
    .option('brokers', { type: 'string', default: '127.0.0.1:9092' })
    .option('topic', { type: 'string', demandOption: true })
    .option('partitions', { type: 'number', default: 8 })
    .option('customers', { type: 'number', default: 1_000_000 })
    .option('events', { type: 'number', default: 10_000_000 })
    .option('days', { type: 'number', default: 90, describe: 'the event times span this many days' })
    .option('zipf', { type: 'number', default: 0.8, describe: 'Zipf exponent of customer activity' })
    .option('seed', { type: 'number', default: 1 })
    .option('start', { type: 'string', default: '2026-01-01T00:00:00Z' })
    .option('format', { choices: ['json', 'avro'] as const, default: 'json' as const })
    .strict()
    .parseAsync();
  await ensureTopics({ brokers: args.brokers }, [{ topic: args.topic, partitions: args.partitions }]);
  const done = await produceWorkload({
    brokers: args.brokers, topic: args.topic, format: args.format, customers: args.customers, events: args.events,
    days: args.days, zipf: args.zipf, seed: args.seed, start: new Date(args.start),
    onProgress: (p) => process.stderr.write(`produced ${p.produced}/${p.total} (${p.eventsPerSecond} events/s, ${(p.bytes / 1e6).toFixed(1)} MB)\n`),
  });
  process.stderr.write(`done: ${done.produced} events, ${(done.bytes / 1e6).toFixed(1)} MB in ${done.seconds.toFixed(1)} s\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main(hideBin(process.argv));
