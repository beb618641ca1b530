/**
 * Avro object container files (`.avro`): the schema travels in the file
 * header, so no registry is needed. Records come out as plain objects, made
 * plain the way Avro on Kafka is (connectors/avro/avro-types.ts): a union of
 * records (one per event type) unwrapped, timestamps and dates as epoch ms,
 * decimals as numbers. So a file and a topic written with the same schema
 * give the rules the same values.
 */
import avro from 'avsc';
import { parseAvroSchema, plainConverter, type AvroType } from '../avro/index.js';

export async function* readAvroContainer(path: string): AsyncGenerator<{ index: number; value: Record<string, unknown> }> {
  let convert: (v: unknown) => unknown = (v) => v;
  // avsc's decoder would parse the header's schema without aud's logical types: parse it here.
  const decoder = avro.createFileDecoder(path, { parseHook: (schema) => parseAvroSchema(schema as object) })
    .on('metadata', (type: AvroType) => { convert = plainConverter(type); });
  let index = 0;
  for await (const value of decoder as AsyncIterable<unknown>) {
    index++;
    yield { index, value: convert(value) as Record<string, unknown> };
  }
}
