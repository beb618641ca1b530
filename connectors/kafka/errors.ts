/**
 * One error class for everything the Kafka connectors report. `retriable`
 * says whether trying again may succeed (a broker that is down) or not (a
 * topic that does not exist, bad options).
 */
export type KafkaErrorCode = 'bad-options' | 'no-topic' | 'admin' | 'produce' | 'consume' | 'commit';

export class KafkaConnectorError extends Error {
  readonly code: KafkaErrorCode;
  readonly retriable: boolean;

  constructor(code: KafkaErrorCode, message: string, opts: { cause?: unknown; retriable: boolean }) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'KafkaConnectorError';
    this.code = code;
    this.retriable = opts.retriable;
  }
}
