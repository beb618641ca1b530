/**
 * `aud forget ID --brokers ...`: ask the running engine to erase a customer
 * (customer-lifecycle.md, section 3) by writing an `aud.forget` record to
 * the input topic, where the engine meets it in order with the customer's
 * events: everything before it is erased, everything after it starts a new
 * customer. The engine logs the erasure receipt when it applies it.
 */
import type { CommandModule } from 'yargs';
import type { PartitionerName } from '../../connectors/kafka/partitioner.js';
import { FORGET_TYPE } from '../../engine/input-record.js';
import { kafkaSettings } from '../kafka-settings.js';
import { loadPlan } from '../rules.js';

interface ForgetArgs {
  files: string[];
  id: string;
  brokers: string;
  topic?: string;
  field?: string;
  partitioner: PartitionerName;
  kafka: string[];
}

export const forgetCommand: CommandModule<object, ForgetArgs> = {
  command: 'forget <id> <files..>',
  describe: 'Erase a customer (the right to be forgotten): write an aud.forget record for the running engine to apply in order',
  builder: (y) => y
    .positional('id', { type: 'string', demandOption: true, describe: 'the customer: its key, or (identity sources) any of its identifiers' })
    .positional('files', { type: 'string', array: true, demandOption: true, describe: 'the .aud rule files the engine runs (they name the topic and the customer fields)' })
    .option('brokers', { type: 'string', demandOption: 'give --brokers (or AUD_BROKERS)', describe: 'Kafka bootstrap servers, HOST:PORT[,HOST:PORT]' })
    .option('topic', { type: 'string', describe: 'input topic (default: the source block\'s)' })
    .option('field', { type: 'string', describe: 'identity sources: the identifier field ID is a value of (default: every identity field)' })
    .option('partitioner', { choices: ['murmur2', 'crc32'] as const, default: 'murmur2' as const, describe: 'how the input\'s producers partition by customer: murmur2 (Java clients, Kafka Streams) or crc32 (librdkafka\'s default)' })
    .option('kafka', { type: 'string', array: true, default: [], describe: 'librdkafka setting key=value, repeatable' }) as never,
  handler: async (args) => {
    const fail = (message: string): void => { process.stderr.write(`error: ${message}\n`); process.exitCode = 1; };
    const plan = await loadPlan(args.files);
    if (!plan) { process.exitCode = 1; return; }
    const topic = args.topic ?? plan.source.topic;
    if (!topic) return fail('no input topic: declare source "topic" { ... } or pass --topic');
    if (args.id === '') return fail('the customer id is empty');
    const src = plan.source;
    const value: Record<string, unknown> = { [src.typeField]: FORGET_TYPE, [src.timeField]: new Date().toISOString() };
    if (src.identity) {
      const fields = src.identity.fields.map((f) => f.name);
      if (args.field !== undefined && !fields.includes(args.field)) return fail(`--field ${args.field} is not an identity field; the source's are ${fields.join(', ')}`);
      for (const f of args.field !== undefined ? [args.field] : fields) value[f] = args.id;
    } else if (src.keyField !== undefined) {
      if (args.field !== undefined && args.field !== src.keyField) return fail(`--field ${args.field}: the source names customers by its key field ${src.keyField} only`);
      value[src.keyField] = args.id;
    } else if (args.field !== undefined) {
      return fail('--field: the source names customers by the Kafka message key, not a field');
    }
    let kafkaConfig: Record<string, string>;
    try { kafkaConfig = kafkaSettings(args.kafka); } catch (err) { return fail((err as Error).message); }
    const kafka = { brokers: args.brokers, clientId: 'aud-forget', kafkaConfig };
    const { partitionCount } = await import('../../connectors/kafka/admin.js');
    const { partitionFor } = await import('../../connectors/kafka/partitioner.js');
    const { KafkaSink } = await import('../../connectors/kafka/sink.js');
    let sink: InstanceType<typeof KafkaSink> | undefined;
    try {
      const partitions = await partitionCount(kafka, topic);
      // The partition the customer's events go to, as their producers choose it: the engine meets the record in order with them.
      const partition = partitionFor(args.partitioner, args.id, partitions);
      sink = new KafkaSink(kafka);
      await sink.connect();
      await sink.send([{ topic, key: args.id, value: JSON.stringify(value), partition }]);
      process.stdout.write(`erasure requested: an ${FORGET_TYPE} record on ${topic} partition ${partition}. ` +
        'The engine erases the customer when it reaches the record, and logs an "erasure receipt" then.\n');
    } catch (err) {
      return fail((err as Error).message);
    } finally {
      await sink?.disconnect().catch(() => undefined);
    }
  },
};
