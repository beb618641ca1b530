/**
 * Rename a trait, a score or an audience across the files of the rule set.
 * Events and fields are not renamed: their names are in the data (the event
 * type field, the record's keys), so a rename here would silently stop
 * matching records.
 */
import { ResponseError, ErrorCodes, type Range, type TextEdit, type WorkspaceEdit } from 'vscode-languageserver';
import { KEYWORDS } from '../dsl/lexer.js';
import { spanToRange } from './positions.js';
import type { RuleSetAnalysis } from './rule-set.js';
import { nameKey, occurrenceAt, occurrencesOf, type Occurrence } from './symbol-index.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The declared trait, score or audience under the offset, if any. */
function renameable(analysis: RuleSetAnalysis, path: string, offset: number): Occurrence | undefined {
  const o = occurrenceAt(analysis.symbols, path, offset);
  if (!o || !o.key.startsWith('name:')) return undefined;
  return occurrencesOf(analysis.symbols, o.key).some((x) => x.declaration) ? o : undefined;
}

export function prepareRename(analysis: RuleSetAnalysis, path: string, offset: number): { range: Range; placeholder: string } | null {
  const o = renameable(analysis, path, offset);
  return o ? { range: spanToRange(o.span), placeholder: o.key.slice('name:'.length) } : null;
}

export function rename(analysis: RuleSetAnalysis, path: string, offset: number, newName: string, uriOf: (path: string) => string): WorkspaceEdit | ResponseError<void> {
  const o = renameable(analysis, path, offset);
  if (!o) return new ResponseError(ErrorCodes.InvalidRequest, 'only a trait, a score or an audience can be renamed');
  if (!NAME.test(newName) || KEYWORDS.includes(newName)) {
    return new ResponseError(ErrorCodes.InvalidParams, `"${newName}" is not a name: use letters, digits and _, not starting with a digit, and no keyword`);
  }
  if (occurrencesOf(analysis.symbols, nameKey(newName)).some((x) => x.declaration)) {
    return new ResponseError(ErrorCodes.InvalidParams, `"${newName}" is already declared: traits, scores and audiences share one namespace`);
  }
  const changes: Record<string, TextEdit[]> = {};
  for (const x of occurrencesOf(analysis.symbols, o.key)) {
    (changes[uriOf(x.span.file)] ??= []).push({ range: spanToRange(x.span), newText: newName });
  }
  return { changes };
}
