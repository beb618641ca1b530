/**
 * Diagnostics: the errors a rule file can have, as values.
 *
 * Parsing and checking never throw on user input. Every phase appends to a
 * list of diagnostics; the CLI prints them all at once, each as
 * `file:line:col: message` followed by the offending line and a caret.
 */
import { SourceLines } from './source-lines.js';

/** A position range in one file. Lines and columns are 1-based; offsets are 0-based, end exclusive. */
export interface Span {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  offset: number;
  endOffset: number;
}

export type DiagnosticCode =
  | 'lex'              // a character the language does not know
  | 'syntax'           // the parser expected something else
  | 'unknown-event'
  | 'unknown-field'
  | 'unknown-name'     // an identifier that is no trait, score or field in scope
  | 'unknown-audience'
  | 'unknown-function'
  | 'duplicate-name'
  | 'type-mismatch'
  | 'audience-cycle'
  | 'trait-cycle'
  | 'foreign-field'    // a `where` that refers to another event's field
  | 'time-dependent'   // something that changes with time alone in a form the engine cannot schedule
  | 'bad-duration'
  | 'bad-declaration'  // source/output/event declarations that make no sense
  | 'beyond-bound'     // a threshold on distinct past the values it keeps
  | 'arity'
  | 'bad-clause'       // a steady audience's, offer's or decision's clauses: unknown, twice, missing, or a cap of 0
  | 'bad-time';        // a time of day, a send window or a time zone that is none

export interface Diagnostic {
  code: DiagnosticCode;
  message: string;
  span: Span;
  /** A likely fix, printed after the message: `did you mean "purchase"?` */
  suggestion?: string;
}

/**
 * `file:line:col: message; suggestion` + the source line + a caret under the span.
 * `source` is the whole file the span points into, as text or as its lines
 * (for many diagnostics of one file, so that it is split once).
 */
export function formatDiagnostic(d: Diagnostic, source: string | SourceLines): string {
  const lines = typeof source === 'string' ? new SourceLines(source) : source;
  const lineText = lines.line(d.span.line);
  const head = `${d.span.file}:${d.span.line}:${d.span.column}: ${d.message}` +
    (d.suggestion ? `; ${d.suggestion}` : '');
  const width = d.span.endLine === d.span.line
    ? Math.max(1, d.span.endColumn - d.span.column)
    : Math.max(1, lineText.length - d.span.column + 1);
  const pad = lineText.slice(0, d.span.column - 1).replace(/[^\t]/g, ' ');
  return `${head}\n  ${lineText}\n  ${pad}${'^'.repeat(width)}`;
}

/** Sort diagnostics by file, then position, so that output is stable. */
export function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) =>
    a.span.file < b.span.file ? -1 : a.span.file > b.span.file ? 1 : a.span.offset - b.span.offset);
}
