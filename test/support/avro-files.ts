/**
 * Avro object container files for tests, written with avsc itself (not with
 * aud's code), as a user's tooling would write them.
 */
import { createWriteStream } from 'node:fs';
import avro from 'avsc';

/**
 * The fields of the shop events the Avro tests write: the retail event mix's
 * purchase and page view, nullable where an event type leaves them out.
 */
export const SHOP_EVENT_FIELDS = [
  { name: 'customer_id', type: ['null', 'string'], default: null },
  { name: 'type', type: 'string' },
  { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
  { name: 'amount', type: ['null', 'double'], default: null },
  { name: 'channel', type: ['null', 'string'], default: null },
  { name: 'url', type: ['null', 'string'], default: null },
];

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
