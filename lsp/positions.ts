/**
 * Spans (1-based lines and columns, end exclusive) as LSP ranges (0-based,
 * end exclusive). Both count columns in UTF-16 code units, the LSP default.
 */
import type { Range } from 'vscode-languageserver';
import type { Span } from '../dsl/diagnostics.js';

export function spanToRange(span: Span): Range {
  return {
    start: { line: span.line - 1, character: span.column - 1 },
    end: { line: span.endLine - 1, character: span.endColumn - 1 },
  };
}
