/**
 * The one place that constructs the Kafka client library's objects.
 * Admin and producer use the client's promise API (KafkaJS-compatible); the
 * consumers (the group's, source.ts, which says why, and the restore's,
 * partition-reader.ts) use its librdkafka-level API.
 * librdkafka property names throughout, so that settings passed with
 * `--kafka` mean exactly what librdkafka's documentation says.
 */
import kafkaJavascript, { KafkaJS, type KafkaConsumer } from '@confluentinc/kafka-javascript';

// A CommonJS module: its librdkafka-level classes are reached through the default export.
const { KafkaConsumer: LowLevelConsumer } = kafkaJavascript;
import { baseConfig, type KafkaOptions } from './options.js';

export type Admin = KafkaJS.Admin;
export type Consumer = KafkaJS.Consumer;
export type Producer = KafkaJS.Producer;

// The client's own logger writes warnings and errors through this; route them to stderr, briefly.
const logger: KafkaJS.Logger = {
  info: () => undefined,
  debug: () => undefined,
  warn: (msg: string) => process.stderr.write(`kafka warn: ${msg}\n`),
  error: (msg: string) => process.stderr.write(`kafka error: ${msg}\n`),
  namespace: () => logger,
  setLogLevel: () => undefined,
};

function kafka(): KafkaJS.Kafka {
  return new KafkaJS.Kafka({});
}

export function createAdmin(opts: KafkaOptions): Admin {
  return kafka().admin({ ...baseConfig(opts), kafkaJS: { logger } } as KafkaJS.AdminConstructorConfig);
}

/**
 * The librdkafka-level methods the group consumer uses that the client's
 * type declarations leave out (they are in its lib/kafka-consumer.js).
 */
export interface GroupConsumer extends KafkaConsumer {
  incrementalAssign(assignments: { topic: string; partition: number }[]): this;
  incrementalUnassign(assignments: { topic: string; partition: number }[]): this;
  assignmentLost(): boolean;
  setDefaultIsTimeoutOnlyForFirstMessage(only: boolean): void;
}

/**
 * A group consumer on librdkafka's own API, with `config` over the common
 * settings. `auto.offset.reset` is a topic setting at this level: it is
 * moved there (librdkafka ignores it among the global ones).
 */
export function createGroupConsumer(opts: KafkaOptions, config: Record<string, unknown>): GroupConsumer {
  const { 'auto.offset.reset': reset, ...global } = { ...baseConfig(opts), ...config };
  const consumer = new LowLevelConsumer(global as never, reset === undefined ? {} : { 'auto.offset.reset': reset } as never) as GroupConsumer;
  consumer.on('event.error', (err: { message: string }) => { process.stderr.write(`kafka error: ${err.message}\n`); });
  return consumer;
}

export function createProducer(opts: KafkaOptions, extra: Record<string, unknown>): Producer {
  return kafka().producer({ ...baseConfig(opts), ...extra, kafkaJS: { logger } } as unknown as KafkaJS.ProducerConstructorConfig);
}
