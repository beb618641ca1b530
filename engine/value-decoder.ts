/**
 * Values that are not JSON text (Avro on Kafka): decoded per batch, before
 * the PartitionTask sees them, by a decoder the CLI builds from the source's
 * format (connectors/avro/value-decoder.ts). The engine knows no format.
 *
 * Two kinds of failure, kept apart:
 * - a value that does not decode is a bad record, like a line that is not
 *   JSON: it goes into the batch result's `bad`, so it is counted, logged and
 *   dead-lettered with its reason by the same code, and the partition goes on;
 * - a decoder that cannot work now (a schema registry that does not answer)
 *   is no fault of the records: the batch is retried with backoff, and after
 *   a while given back to the consumer (which delivers it again), never
 *   dead-lettered.
 *
 * Dead letters keep the bytes that were read, not the decoded object, so that
 * whoever repairs them gets what the producer wrote.
 */
import type { InputRecord } from './input-record.js';
import type { Logger } from './log.js';
import type { BadRecord, BatchResult } from './partition-task.js';

export type DecodedValue = { value: Record<string, unknown> } | { bad: string };

export interface ValueDecoder {
  /** For logs: `avro (schema retail.avsc)`. */
  readonly description: string;
  /**
   * Make every value of the batch decodable without waiting (load unknown
   * writer schemas). Rejects when that cannot be done now; the batch is retried.
   */
  prepare(values: readonly (Uint8Array | null)[]): Promise<void>;
  /** One value, after prepare: the record's object, or why the record is bad. Throws when it cannot tell now. */
  decode(value: Uint8Array): DecodedValue;
}

/** The decoder could not work for the whole of the retry window; the batch goes back to the consumer. */
export class ValueDecoderUnavailableError extends Error {
  readonly retriable = true;
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'ValueDecoderUnavailableError';
  }
}

export interface DecodeRetry {
  /** Waits between attempts, in ms; after the last, ValueDecoderUnavailableError. */
  delaysMs: readonly number[];
}

const DEFAULT_RETRY: DecodeRetry = { delaysMs: [500, 1000, 2000, 4000, 8000] };

/**
 * `process(records)` with the values decoded first (no decoder: unchanged).
 * Decoding failures join the result's bad records, in input order.
 */
export async function decodeThenProcess(
  decoder: ValueDecoder | undefined,
  records: InputRecord[],
  process: (records: InputRecord[]) => Promise<BatchResult>,
  log: Logger,
  retry: DecodeRetry = DEFAULT_RETRY,
): Promise<BatchResult> {
  if (!decoder) return process(records);
  const decoded = await untilDecoded(decoder, records, log, retry);
  const raw = new Map<InputRecord, InputRecord>();
  const order = new Map<InputRecord, number>();
  const good: InputRecord[] = [];
  const undecodable: BadRecord[] = [];
  records.forEach((record, i) => {
    const d = decoded[i]!;
    order.set(record, i);
    if (d === null) { good.push(record); return; }
    if ('bad' in d) { undecodable.push({ record, reason: d.bad }); return; }
    const object = { ...record, value: d.value };
    raw.set(object, record);
    order.set(object, i);
    good.push(object);
  });
  const result = await process(good);
  const bad = [...undecodable, ...result.bad.map((b) => ({ record: raw.get(b.record) ?? b.record, reason: b.reason }))];
  bad.sort((a, b) => (order.get(a.record) ?? 0) - (order.get(b.record) ?? 0));
  return { ...result, bad };
}

/** Per record: the decoded value, or null for a record with no bytes (the task reports it). */
async function untilDecoded(decoder: ValueDecoder, records: InputRecord[], log: Logger, retry: DecodeRetry): Promise<(DecodedValue | null)[]> {
  const values = records.map((r) => (r.value instanceof Uint8Array ? r.value : null));
  for (let attempt = 0; ; attempt++) {
    try {
      await decoder.prepare(values);
      return values.map((v) => (v === null ? null : decoder.decode(v)));
    } catch (err) {
      const delay = retry.delaysMs[attempt];
      if (delay === undefined) {
        throw new ValueDecoderUnavailableError(`cannot decode ${decoder.description} values: ${(err as Error).message}; ` +
          'the batch is given back to the consumer and read again', { cause: err });
      }
      log.warn(`cannot decode ${decoder.description} values now; retrying the batch in ${delay / 1000} s (records are not dead-lettered for this)`,
        { error: (err as Error).message, attempt: attempt + 1 });
      await new Promise((res) => setTimeout(res, delay));
    }
  }
}
