/**
 * Whether the installed Kafka client carries aud's patches
 * (patches/README.md). aud works the same without them, only more slowly,
 * so an unpatched client is told at start-up (a log line and the metric
 * aud_kafka_client_patched), not refused. What is probed is what the engine
 * calls: the consumer's `consumePacked` (the consume-packed patch, built on
 * consume-arena) and the producer binding's `produceBatch` (produce-batch).
 */
import { createRequire } from 'node:module';
import kafkaJavascript from '@confluentinc/kafka-javascript';

/** Each patch the engine calls, by its name in patches/, and whether the loaded client has it. */
export interface ClientPatches {
  /** Consumed batches come as columns in one buffer (built on consume-arena). */
  'consume-packed': boolean;
  /** Records are produced in batches through one binding call. */
  'produce-batch': boolean;
}

const require = createRequire(import.meta.url);

export function clientPatches(): ClientPatches {
  const consumer = (kafkaJavascript as unknown as { KafkaConsumer: { prototype: { consumePacked?: unknown } } }).KafkaConsumer;
  // The binding's producer class, from the module the client loads it through
  // (the client's own Producer makes one per instance, once connected).
  let produceBatch = false;
  try {
    const binding = require('@confluentinc/kafka-javascript/librdkafka.js') as { Producer?: { prototype: { produceBatch?: unknown } } };
    produceBatch = typeof binding.Producer?.prototype.produceBatch === 'function';
  } catch {
    produceBatch = false;
  }
  return { 'consume-packed': typeof consumer.prototype.consumePacked === 'function', 'produce-batch': produceBatch };
}

/** The names of the patches the loaded client lacks. */
export function missingPatches(): string[] {
  return Object.entries(clientPatches()).filter(([, has]) => !has).map(([name]) => name);
}
