/**
 * How fast aud's consumer (connectors/kafka/source.ts) hands a topic to its
 * handler, with nothing else running: a fresh group reads the topic from the
 * start, and the handler takes `--work-us` microseconds per record (0: does
 * nothing), standing in for the rules. It waits that long rather than spin,
 * as the engine's main thread waits for a worker thread: the consumer can
 * fetch meanwhile (`--spin` makes it spin instead, blocking the thread).
 * Reports records/s from the first batch to the last, and every pause of
 * more than 100 ms between batches.
 *
 *   node dist/bench/consumer-read.js --topic T [--work-us 12] [--spin] [--kafka key=value ...]
 *
 * docs/decisions/2026-12-04-own-fetch-loop.md has the figures that chose the consumer.
 */
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { endOffsets } from '../connectors/kafka/admin.js';
import { KafkaSource } from '../connectors/kafka/source.js';

export async function main(argv: string[]): Promise<void> {
  const args = await yargs(argv)
    .option('brokers', { type: 'string', default: '127.0.0.1:9092' })
    .option('topic', { type: 'string', demandOption: true })
    .option('work-us', { type: 'number', default: 0, describe: 'microseconds per record the handler takes' })
    .option('spin', { type: 'boolean', default: false, describe: 'spend them spinning in this thread instead of waiting' })
    .option('kafka', { type: 'array', string: true, default: [] as string[], describe: 'librdkafka setting key=value, repeatable' })
    .strict()
    .parseAsync();
  const kafkaConfig: Record<string, string> = {};
  for (const kv of args.kafka) {
    const at = kv.indexOf('=');
    if (at <= 0) throw new Error(`--kafka ${kv}: expected key=value`);
    kafkaConfig[kv.slice(0, at)] = kv.slice(at + 1);
  }
  const kafka = { brokers: args.brokers, clientId: 'aud-bench-consumer-read', kafkaConfig };
  const total = [...(await endOffsets(kafka, args.topic)).values()].reduce((a, b) => a + Number(b), 0);
  if (total === 0) throw new Error(`topic ${args.topic} is empty: produce something first`);
  const source = new KafkaSource({ ...kafka, groupId: `aud-bench-read-${Date.now().toString(36)}`, topics: [args.topic] });
  let records = 0;
  let first = 0;
  let last = 0;
  const gaps: string[] = [];
  let done: () => void = () => undefined;
  const finished = new Promise<void>((res) => { done = res; });
  const progress = setInterval(() => process.stderr.write(`  ${records}/${total} records\n`), 2000);
  await source.start({
    onAssign: async () => undefined,
    onRevoke: async () => undefined,
    onBatch: async (batch) => {
      const now = performance.now();
      if (first === 0) first = now;
      if (last !== 0 && now - last > 100) gaps.push(`${((last - first) / 1000).toFixed(2)} s +${(now - last).toFixed(0)} ms`);
      const workMs = batch.records.count * args['work-us'] / 1000;
      if (args.spin) {
        const until = now + workMs;
        while (performance.now() < until) { /* the rules' stand-in, in this thread */ }
      } else if (workMs > 0) {
        await new Promise((res) => setTimeout(res, workMs));
      }
      records += batch.records.count;
      last = performance.now();
      if (records >= total) done();
    },
  });
  await finished;
  clearInterval(progress);
  await source.stop();
  const seconds = (last - first) / 1000;
  process.stdout.write(`${records} records in ${seconds.toFixed(2)} s: ${Math.round(records / seconds)} records/s, ` +
    `handler busy ${(records * args['work-us'] / 1e6).toFixed(2)} s; pauses over 100 ms: ${gaps.length === 0 ? 'none' : gaps.join(', ')}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main(hideBin(process.argv));
