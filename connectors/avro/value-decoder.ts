/**
 * AvroInputDecoder as the engine's ValueDecoder (engine/value-decoder.ts):
 * AvroDecodeError makes a bad record with its one-line reason; a registry
 * that does not answer, or a writer schema still not loaded, rejects, and the
 * engine retries the batch.
 */
import type { DecodedValue, ValueDecoder } from '../../engine/value-decoder.js';
import type { AvroInputDecoder } from './avro-codec.js';
import { AvroDecodeError, RegistryError } from './errors.js';

export class AvroValueDecoder implements ValueDecoder {
  constructor(private readonly avro: AvroInputDecoder, readonly description: string) {}

  prepare(values: readonly (Uint8Array | null)[]): Promise<void> {
    return this.avro.prefetch(values);
  }

  decode(value: Uint8Array): DecodedValue {
    let decoded: Record<string, unknown> | undefined;
    try {
      decoded = this.avro.decodeSync(value);
    } catch (err) {
      if (err instanceof AvroDecodeError) return { bad: err.reason };
      throw err;
    }
    if (decoded === undefined) {
      // prefetch loaded the batch's ids; one can only be missing if its cache entry expired in between.
      throw new RegistryError('not-found', 'a writer schema of the batch is not loaded yet', { retriable: true });
    }
    return { value: decoded };
  }
}
