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
import type { Logger } from './log.js';
import { selectRecords, valueAt, type RecordBatch } from './record-batch.js';

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
 * `process(batch)` with the values decoded first (no decoder: unchanged):
 * the decoded objects ride in the batch beside the bytes read. Bad records
 * are reported by their position in `batch`: decoding failures and the
 * rules' own, in input order, so that the caller dead-letters the bytes it
 * read, not the decoded object.
 */
export async function decodeThenProcess<R extends { bad: { index: number; reason: string; clock?: boolean }[] }>(
  decoder: ValueDecoder | undefined,
  batch: RecordBatch,
  process: (batch: RecordBatch) => Promise<R>,
  log: Logger,
  retry: DecodeRetry = DEFAULT_RETRY,
): Promise<R> {
  if (!decoder) return process(batch);
  const decoded = await untilDecoded(decoder, batch, log, retry);
  const objects = new Array<Record<string, unknown> | undefined>(batch.count);
  /** The records that go to the rules, by position in `batch`. */
  const positions: number[] = [];
  const bad: { index: number; reason: string; clock?: boolean }[] = [];
  decoded.forEach((d, i) => {
    if (d !== null && 'bad' in d) { bad.push({ index: i, reason: d.bad }); return; }
    if (d !== null) objects[i] = d.value;
    positions.push(i);
  });
  const good = positions.length === batch.count ? { ...batch } : selectRecords(batch, positions);
  good.objects = positions.length === batch.count ? objects : positions.map((p) => objects[p]);
  const result = await process(good);
  // The rules' refusals keep what they say (a clock refusal is counted as one).
  for (const b of result.bad) bad.push({ ...b, index: positions[b.index]! });
  bad.sort((a, b) => a.index - b.index);
  return { ...result, bad };
}

/** Per record: the decoded value, or null for a record with no bytes (the task reports it). */
async function untilDecoded(decoder: ValueDecoder, batch: RecordBatch, log: Logger, retry: DecodeRetry): Promise<(DecodedValue | null)[]> {
  const values: (Uint8Array | null)[] = [];
  for (let i = 0; i < batch.count; i++) values.push(valueAt(batch, i));
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
