/**
 * The errors of the Avro connector, in the style of connectors/kafka/errors.ts:
 * one class per concern, a `code` to branch on, `retriable` where trying again
 * may help.
 *
 * - RegistryError: the schema registry said no, or could not be reached.
 *   `retriable` is true for network failures, time-outs, 429 and 5xx.
 * - AvroDecodeError: one input record cannot be read. Never retriable: the
 *   caller dead-letters the record with `reason` (short, one line, fit for a
 *   Kafka header) and goes on.
 * - AvroEncodeError: an output event does not fit the output schema (a bug).
 * - AvroSchemaError: at start-up, the schema is missing, unreadable, or does
 *   not fit the rules' declared events; `problems` lists every finding.
 */

export type RegistryErrorCode =
  /** No answer: connection refused, DNS, TLS, reset. */
  | 'unreachable'
  /** No answer within fetchTimeoutMs. */
  | 'timeout'
  /** 401 or 403: credentials missing or wrong. */
  | 'auth'
  /** 404: no such schema id, subject or version. */
  | 'not-found'
  /** 409: the schema is not compatible with the subject's earlier versions. */
  | 'incompatible'
  /** 422: the registry rejects the schema (or the request) as invalid. */
  | 'invalid'
  /** 5xx or 429. */
  | 'server'
  /** The answer is not what a Confluent-compatible registry sends. */
  | 'bad-response'
  /** The registry holds the schema, but it is not an Avro schema that parses. */
  | 'bad-schema'
  /** Options given to the client are wrong. */
  | 'bad-options'
  /** Any other HTTP status. */
  | 'http';

export class RegistryError extends Error {
  readonly code: RegistryErrorCode;
  /** HTTP status, when the registry answered. */
  readonly status?: number;
  /** The registry's own error code (`error_code`: 40403 schema not found, 40401 subject not found, …). */
  readonly errorCode?: number;
  readonly retriable: boolean;

  constructor(code: RegistryErrorCode, message: string, opts: { status?: number; errorCode?: number; retriable: boolean; cause?: unknown }) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'RegistryError';
    this.code = code;
    if (opts.status !== undefined) this.status = opts.status;
    if (opts.errorCode !== undefined) this.errorCode = opts.errorCode;
    this.retriable = opts.retriable;
  }
}

export type AvroDecodeErrorCode =
  /** Fewer than 5 bytes: no room for the magic byte and the schema id. */
  | 'short'
  /** The first byte is not the Confluent magic byte 0. */
  | 'bad-magic'
  /** The registry has no schema with the record's schema id. */
  | 'unknown-schema'
  /** The writer schema cannot be read as the reader schema (Avro schema resolution failed). */
  | 'incompatible-schema'
  /** The bytes do not decode with the schema (truncated, trailing bytes, bad union index, long beyond 2^53, …). */
  | 'bad-payload'
  /** It decoded, but not to a record (a string, null, …). */
  | 'not-a-record';

export class AvroDecodeError extends Error {
  readonly code: AvroDecodeErrorCode;
  /** One line for the dead-letter header, e.g. `Avro: not Confluent wire format: first byte is 0x7b ('{'), expected 0x00`. */
  readonly reason: string;
  readonly schemaId?: number;
  readonly retriable = false;

  constructor(code: AvroDecodeErrorCode, reason: string, opts: { schemaId?: number; cause?: unknown } = {}) {
    super(reason, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'AvroDecodeError';
    this.code = code;
    this.reason = reason;
    if (opts.schemaId !== undefined) this.schemaId = opts.schemaId;
  }
}

export class AvroEncodeError extends Error {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'AvroEncodeError';
  }
}

export type AvroSchemaErrorCode =
  /** `format avro` without a schema file or a registry. */
  | 'no-schema'
  /** The .avsc file cannot be read or is not a valid Avro schema. */
  | 'bad-schema'
  /** The schema does not fit the declared events or the source block. */
  | 'mismatch';

export class AvroSchemaError extends Error {
  readonly code: AvroSchemaErrorCode;
  /** Every finding, one human sentence each. */
  readonly problems: string[];
  readonly retriable = false;

  constructor(code: AvroSchemaErrorCode, message: string, opts: { problems?: string[]; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'AvroSchemaError';
    this.code = code;
    this.problems = opts.problems ?? [message];
  }
}
