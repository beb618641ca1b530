/**
 * The lines of a source text, found once, for printing them.
 *
 * A line ends at `\r\n`, `\n` or a lone `\r`. Printing the diagnostics of a
 * large file looks up each one's line here instead of splitting the whole
 * text again for every diagnostic.
 */
const LINE_BREAK = /\r\n|\r|\n/g;

export class SourceLines {
  /** Offset of the first character of each line. */
  private readonly starts: number[] = [0];
  /** Offset just past the last character of each line, before its line break. */
  private readonly ends: number[] = [];

  constructor(private readonly text: string) {
    for (const m of text.matchAll(LINE_BREAK)) {
      this.ends.push(m.index);
      this.starts.push(m.index + m[0].length);
    }
    this.ends.push(text.length);
  }

  /** How many lines the text has: one more than its line breaks. */
  get count(): number {
    return this.starts.length;
  }

  /** Line `n` (1-based) without its line break; '' for a line the text does not have. */
  line(n: number): string {
    if (!(n >= 1 && n <= this.starts.length)) return '';
    return this.text.slice(this.starts[n - 1], this.ends[n - 1]);
  }
}
