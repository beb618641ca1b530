/**
 * Avro object container files for tests, written with avsc itself (not with
 * aud's code), as a user's tooling would write them.
 */
import { createWriteStream } from 'node:fs';
import avro from 'avsc';

/** Writes `records` with `schema`; resolves once the file is on disk (the file stream closed, not just the encoder). */
export async function writeAvroContainer(file: string, schema: avro.Type | avro.Schema, records: readonly unknown[]): Promise<void> {
  await new Promise<void>((res, rej) => {
    const out = createWriteStream(file).on('close', () => res()).on('error', rej);
    const encoder = new avro.streams.BlockEncoder(schema);
    encoder.pipe(out);
    for (const r of records) encoder.write(r);
    encoder.end();
  });
}
