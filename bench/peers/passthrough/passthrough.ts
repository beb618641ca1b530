/**
 * The passthrough limit: what the Kafka client alone can do on this machine.
 * A consumer group member that reads the input topic and, for every batch,
 * produces one output record per input record (same key, same value bytes),
 * waits for the acknowledgement and commits the batch's offsets: aud's
 * at-least-once commit order without rules or state. It uses aud's own
 * KafkaSource and KafkaSink, so the client, consumer settings and producer
 * settings are exactly the engine's.
 *
 *   node dist/bench/peers/passthrough/passthrough.js --brokers B --input T --output T2 --group G
 *
 * Stops cleanly (finishes the batch, commits, leaves the group) on SIGTERM/SIGINT.
 */
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { KafkaSink } from '../../../connectors/kafka/sink.js';
import { KafkaSource } from '../../../connectors/kafka/source.js';
import { keyAt, valueAt } from '../../../engine/record-batch.js';

/** Bytes of a batch as a Buffer view, for the sink. */
function bufferOf(bytes: Uint8Array | null): Buffer | null {
  return bytes && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export async function main(argv: string[]): Promise<void> {
  const args = await yargs(argv)
    .option('brokers', { type: 'string', default: '127.0.0.1:9092' })
    .option('input', { type: 'string', demandOption: true })
    .option('output', { type: 'string', demandOption: true })
    .option('group', { type: 'string', demandOption: true })
    .strict()
    .parseAsync();
  const kafka = { brokers: args.brokers, clientId: 'aud-bench-passthrough' };
  // As the engine reads its input (no headers): the same client path.
  const source = new KafkaSource({ ...kafka, groupId: args.group, topics: [args.input], headers: false });
  const sink = new KafkaSink(kafka);
  let records = 0;
  await sink.connect();
  let stopping = false;
  const stop = (): void => {
    if (stopping) process.kill(process.pid, 'SIGKILL');
    stopping = true;
    source.stop().then(() => sink.disconnect()).then(() => {
      process.stderr.write(`passthrough stopped after ${records} records\n`);
      process.exit(0);
    }, (err: unknown) => { process.stderr.write(`passthrough: ${(err as Error).message}\n`); process.exit(1); });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await source.start({
    onAssign: async () => undefined,
    onRevoke: async () => undefined,
    onBatch: async (batch) => {
      const read = batch.records;
      const out = [];
      for (let i = 0; i < read.count; i++) out.push({ topic: args.output, key: bufferOf(keyAt(read, i)), value: bufferOf(valueAt(read, i)) });
      await sink.send(out);
      await source.commit([{ topic: batch.topic, partition: batch.partition, nextOffset: BigInt(read.offsets[read.count - 1]!) + 1n }]);
      records += read.count;
    },
  });
  process.stderr.write(`passthrough started: ${args.input} → ${args.output}, group ${args.group}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main(hideBin(process.argv));
