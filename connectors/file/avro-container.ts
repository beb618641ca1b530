/**
 * Avro object container files (`.avro`): the schema travels in the file
 * header, so no registry is needed. Records come out as plain objects, made
 * plain the way Avro on Kafka is (connectors/avro/avro-types.ts): a union of
 * records (one per event type) unwrapped, timestamps and dates as epoch ms,
 * decimals as numbers. So a file and a topic written with the same schema
 * give the rules the same values.
 */
import { createReadStream } from 'node:fs';
import avro from 'avsc';
import { parseAvroSchema, plainConverter, type AvroType } from '../avro/index.js';

/** The file cannot be read, or is not an Avro object container file. */
export class AvroContainerError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'AvroContainerError';
  }
}

export async function* readAvroContainer(path: string): AsyncGenerator<{ index: number; value: Record<string, unknown> }> {
  let convert: (v: unknown) => unknown = (v) => v;
  // avsc's decoder would parse the header's schema without aud's logical types: parse it here.
  const decoder = new avro.streams.BlockDecoder({ parseHook: (schema) => parseAvroSchema(schema as object) })
    .on('metadata', (type: AvroType) => { convert = plainConverter(type); });
  // pipe() does not pass on the file's errors (a missing file): without this the decoder would wait forever.
  const file = createReadStream(path).on('error', (err) => decoder.destroy(err));
  file.pipe(decoder);
  let index = 0;
  try {
    for await (const value of decoder as AsyncIterable<unknown>) {
      index++;
      yield { index, value: convert(value) as Record<string, unknown> };
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new AvroContainerError(e.code === 'ENOENT' ? `cannot read ${path}: no such file`
      : e.syscall !== undefined ? `cannot read ${path}: ${e.message}`
        : `${path} is not a readable Avro object container file (after ${index} records): ${e.message}`, { cause: err });
  } finally {
    file.destroy();
  }
}
