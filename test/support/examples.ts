/** The examples' input files as Kafka records, for integration tests. */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** examples/thresholds/events.jsonl, keyed by customer id; malformed lines are kept, with no key. */
export async function thresholdsRecords(): Promise<{ key: string | null; value: string }[]> {
  const lines = (await readFile(join(repo, 'examples/thresholds/events.jsonl'), 'utf8')).trim().split('\n');
  return lines.map((value) => {
    let key: string | null = null;
    try { key = (JSON.parse(value) as { customer_id?: string }).customer_id ?? null; } catch { /* a bad record: no key */ }
    return { key, value };
  });
}
