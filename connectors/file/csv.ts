/**
 * CSV files of events (for `aud backfill`): a header row names the fields,
 * one event per row. CSV has no types, so each value is read as the type
 * the rules declare for that field of that event type: `number` fields as
 * numbers, `bool` as true/false, the time field as epoch ms when it is all
 * digits (else as ISO-8601 text). An empty cell is an absent field. A value
 * that does not read as its type is left as text, so the engine reports the
 * record as bad with the field's name, like any other bad record.
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import type { Plan } from '../../dsl/plan.js';

export async function* readCsvEvents(path: string, plan: Plan): AsyncGenerator<{ line: number; value: Record<string, unknown> }> {
  const types = new Map(plan.events.map((e) => [e.name, new Map(e.fields.map((f) => [f.name, f.type]))]));
  const parser = createReadStream(path).pipe(parse({ columns: true, skip_empty_lines: true, trim: true, relax_column_count: true, info: true }));
  for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    const fields = types.get(record[plan.source.typeField] ?? '');
    const value: Record<string, unknown> = {};
    for (const [name, text] of Object.entries(record)) {
      if (text === '') continue;
      const type = name === plan.source.timeField ? 'time' : fields?.get(name);
      value[name] = typed(text, type);
    }
    yield { line: info.lines, value };
  }
}

function typed(text: string, type: string | undefined): unknown {
  if (type === 'number') {
    const n = Number(text);
    return Number.isFinite(n) ? n : text;
  }
  if (type === 'bool') return text === 'true' ? true : text === 'false' ? false : text;
  if (type === 'time') return /^\d+$/.test(text) ? Number(text) : text;
  return text;
}
