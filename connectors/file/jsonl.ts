/**
 * JSON Lines files: one record per line. `-` means stdin / stdout.
 *
 * The reader yields raw lines with their line numbers and leaves parsing to
 * the engine, so that a line that is not JSON becomes a counted bad record
 * with its line number instead of an exception.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';

export interface Line {
  line: number;
  text: string;
}

export async function* readJsonLines(path: string): AsyncGenerator<Line> {
  const input = path === '-' ? process.stdin : createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    yield { line: n, text };
  }
}

/** Writes lines with backpressure; `close()` resolves when everything is flushed. */
export class JsonLinesWriter {
  private readonly out: Writable;
  private readonly ownsStream: boolean;

  constructor(path: string) {
    this.ownsStream = path !== '-';
    this.out = this.ownsStream ? createWriteStream(path, { encoding: 'utf8' }) : process.stdout;
  }

  async write(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    if (!this.out.write(lines.join('\n') + '\n')) await once(this.out, 'drain');
  }

  async close(): Promise<void> {
    if (!this.ownsStream) return;
    this.out.end();
    await once(this.out, 'finish');
  }
}
