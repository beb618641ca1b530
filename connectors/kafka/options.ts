/**
 * Options shared by every Kafka client of aud, with validated defaults.
 * `kafkaConfig` passes librdkafka settings through untouched (SASL, SSL,
 * timeouts); aud's own settings are applied last only where correctness
 * depends on them (manual commits, idempotence).
 */
import { KafkaConnectorError } from './errors.js';

export interface KafkaOptions {
  /** Bootstrap servers, `host:port[,host:port]`. */
  brokers: string;
  clientId?: string;
  kafkaConfig?: Record<string, string | number | boolean>;
}

/** The librdkafka settings common to every client. */
export function baseConfig(opts: KafkaOptions): Record<string, string | number | boolean> {
  if (!opts.brokers || !/^[^\s,]+:\d+(,[^\s,]+:\d+)*$/.test(opts.brokers)) {
    throw new KafkaConnectorError('bad-options', `brokers "${opts.brokers}" is not host:port[,host:port]`, { retriable: false });
  }
  return {
    'bootstrap.servers': opts.brokers,
    'client.id': opts.clientId ?? 'aud',
    // Connection failures are logged by the client and retried; keep them visible but not noisy.
    'reconnect.backoff.ms': 100,
    'reconnect.backoff.max.ms': 10_000,
    ...(opts.kafkaConfig ?? {}),
  };
}
