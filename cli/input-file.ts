/**
 * A file of events as input records: JSON Lines (`-` for stdin) or an Avro
 * object container (`.avro`), each record with its line (or index) as its
 * cause. What `aud replay` and `aud diff --input` read.
 */
import { extname } from 'node:path';
import type { InputRecord } from '../engine/input-record.js';

export async function* inputRecords(path: string): AsyncGenerator<InputRecord> {
  const { readAvroContainer } = await import('../connectors/file/avro-container.js');
  const { readJsonLines } = await import('../connectors/file/jsonl.js');
  if (extname(path) === '.avro') {
    for await (const { index, value } of readAvroContainer(path)) yield { value, cause: { line: index } };
    return;
  }
  for await (const { line, text } of readJsonLines(path)) yield { value: text, cause: { line } };
}
