/**
 * Avro object container files (`.avro`): the schema travels in the file
 * header, so no registry is needed. Records come out as plain objects.
 */
import avro from 'avsc';

export async function* readAvroContainer(path: string): AsyncGenerator<{ index: number; value: Record<string, unknown> }> {
  const decoder = avro.createFileDecoder(path);
  let index = 0;
  for await (const value of decoder as AsyncIterable<Record<string, unknown>>) {
    index++;
    yield { index, value: { ...value } };
  }
}
