/** An aud log written with `--log-format json`: one object per line (other lines, and a line being written, are passed over). */
import { readFileSync } from 'node:fs';

export interface AudLogLine {
  msg?: string;
  [field: string]: unknown;
}

export function jsonLogLines(file: string): AudLogLine[] {
  const out: AudLogLine[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try { out.push(JSON.parse(line) as AudLogLine); } catch { /* a partial line */ }
  }
  return out;
}
