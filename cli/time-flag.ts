/**
 * A time given on the command line (`--until`, `--at`, `--deploy TIME=...`):
 * ISO-8601, or epoch milliseconds written as digits. Undefined when it is
 * neither; the command says which flag and what to give.
 */
import { parseTime } from '../engine/input-record.js';

export function timeFlag(text: string): number | undefined {
  return parseTime(/^\d+$/.test(text) ? Number(text) : text);
}
