/**
 * One error class for everything the Kafka connectors report. `retriable`
 * says whether trying again may succeed (a broker that is down) or not (a
 * topic that does not exist, bad options).
 */
export type KafkaErrorCode = 'bad-options' | 'no-topic' | 'admin' | 'produce' | 'consume' | 'commit'
  /** This process's transactional producer was fenced: another instance owns its partition now. */
  | 'fenced';

/** librdkafka's codes for a producer fenced by a newer instance with the same transactional.id. */
const FENCED_CODES = new Set([-144 /* ERR__FENCED */, 90 /* ERR_PRODUCER_FENCED */, 47 /* ERR_INVALID_PRODUCER_EPOCH */]);

/** Whether an error from the Kafka client says that this producer was fenced. */
export function isFencedError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && FENCED_CODES.has(code);
}

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
