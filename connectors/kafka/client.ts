/**
 * The one place that constructs the Kafka client library's objects.
 * Uses the client's promise API (KafkaJS-compatible) with librdkafka
 * property names throughout, so that settings passed with `--kafka` mean
 * exactly what librdkafka's documentation says.
 */
import { KafkaJS } from '@confluentinc/kafka-javascript';
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

export function createConsumer(opts: KafkaOptions, extra: Record<string, unknown>): Consumer {
  return kafka().consumer({ ...baseConfig(opts), ...extra, kafkaJS: { logger } } as unknown as KafkaJS.ConsumerConstructorConfig);
}

export function createProducer(opts: KafkaOptions, extra: Record<string, unknown>): Producer {
  return kafka().producer({ ...baseConfig(opts), ...extra, kafkaJS: { logger } } as unknown as KafkaJS.ProducerConstructorConfig);
}
