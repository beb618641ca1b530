/**
 * Producing a batch of records in one call into the Kafka client's binding
 * (`produceBatch`, added by patches/kafka-javascript-1.10.1-produce-batch.patch).
 *
 * The client's own `send` makes, per record, a promise, an opaque object
 * kept as a persistent handle, a produce call that looks the topic up by
 * name, and then a delivery report that becomes a JavaScript object and an
 * event: a large share of the main thread's time and garbage
 * (docs/decisions/2026-12-04-produce-batch-patch.md). Here a batch is one
 * Buffer of keys and values, two typed arrays and one call; the binding
 * counts the delivery reports and calls back once, when the last one is in.
 * The records and their order per partition are the same; so are the
 * idempotent producer, the partitioner (`partition` -1 runs the one
 * configured) and transactions.
 *
 * An unpatched binding has no `produceBatch`: `NativeBatchProducer.of`
 * returns undefined and the sink uses the client's `send`.
 */

/** The binding's method, as the patch defines it. */
interface BatchProducingBinding {
  produceBatch(
    topic: string, partitions: Int32Array, data: Buffer, lengths: Int32Array,
    done: (code: number | null, message: string | null, firstOffsets: number[]) => void,
  ): number;
}

/** An error from the binding, with librdkafka's code (as the client's own errors carry it). */
export class ProduceBatchError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = 'ProduceBatchError';
  }
}

/**
 * Records packed as the binding takes them: key and value of each record one
 * after the other in `data`, their byte lengths in `lengths` (2 per record;
 * -1: null), every record to the partition the partitioner picks by key.
 */
export interface PackedRecords {
  count: number;
  data: Uint8Array;
  lengths: Int32Array;
}

export interface BatchRecord {
  key: string | Uint8Array | null;
  value: string | Uint8Array | null;
  partition?: number;
}

export class NativeBatchProducer {
  private constructor(private readonly binding: BatchProducingBinding) {}

  /** The batch path of a connected producer of the client, if its binding has it. */
  static of(producer: unknown): NativeBatchProducer | undefined {
    const internal = (producer as { _getInternalClient?: () => { _client?: unknown } | null })._getInternalClient?.();
    const binding = internal?._client as Partial<BatchProducingBinding> | undefined;
    return typeof binding?.produceBatch === 'function' ? new NativeBatchProducer(binding as BatchProducingBinding) : undefined;
  }

  /**
   * Resolves when the broker acknowledged every record, with the offset of
   * the first record of each partition written to; rejects with the first
   * failure (a record that could not be queued or was not acknowledged).
   */
  send(topic: string, records: readonly BatchRecord[]): Promise<Map<number, bigint>> {
    const n = records.length;
    const lengths = new Int32Array(2 * n);
    const partitions = new Int32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const r = records[i]!;
      const k = byteLength(r.key);
      const v = byteLength(r.value);
      lengths[2 * i] = k;
      lengths[2 * i + 1] = v;
      partitions[i] = r.partition ?? -1;
      total += Math.max(k, 0) + Math.max(v, 0);
    }
    const data = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const r = records[i]!;
      at = put(data, at, r.key, lengths[2 * i]!);
      at = put(data, at, r.value, lengths[2 * i + 1]!);
    }
    return this.produce(topic, partitions, data, lengths);
  }

  /** Records already packed (runtime/packed-output.ts), each to the partition its key picks. */
  sendPacked(topic: string, records: PackedRecords): Promise<Map<number, bigint>> {
    const data = Buffer.from(records.data.buffer, records.data.byteOffset, records.data.byteLength);
    return this.produce(topic, new Int32Array(records.count).fill(-1), data, records.lengths);
  }

  private produce(topic: string, partitions: Int32Array, data: Buffer, lengths: Int32Array): Promise<Map<number, bigint>> {
    return new Promise((resolve, reject) => {
      this.binding.produceBatch(topic, partitions, data, lengths, (code, message, firstOffsets) => {
        if (code !== null) {
          reject(new ProduceBatchError(code, message ?? `librdkafka error ${code}`));
          return;
        }
        const firsts = new Map<number, bigint>();
        for (let i = 0; i < firstOffsets.length; i += 2) firsts.set(firstOffsets[i]!, BigInt(firstOffsets[i + 1]!));
        resolve(firsts);
      });
    });
  }
}

/** UTF-8 bytes of a key or value; -1 for null. */
function byteLength(x: string | Uint8Array | null): number {
  if (x === null) return -1;
  return typeof x === 'string' ? Buffer.byteLength(x) : x.length;
}

function put(data: Buffer, at: number, x: string | Uint8Array | null, length: number): number {
  if (x === null) return at;
  if (typeof x === 'string') data.write(x, at, length);
  else data.set(x, at);
  return at + length;
}
