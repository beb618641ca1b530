/**
 * Go to definition and find references, across the files of the rule set,
 * for events, fields, traits, scores and audiences (symbol-index.ts).
 */
import type { Location } from 'vscode-languageserver';
import { spanToRange } from './positions.js';
import type { RuleSetAnalysis } from './rule-set.js';
import { occurrenceAt, occurrencesOf, type Occurrence } from './symbol-index.js';

export function definition(analysis: RuleSetAnalysis, path: string, offset: number, uriOf: (path: string) => string): Location[] {
  const o = occurrenceAt(analysis.symbols, path, offset);
  if (!o) return [];
  return occurrencesOf(analysis.symbols, o.key).filter((x) => x.declaration).map((x) => location(x, uriOf));
}

export function references(analysis: RuleSetAnalysis, path: string, offset: number, includeDeclaration: boolean, uriOf: (path: string) => string): Location[] {
  const o = occurrenceAt(analysis.symbols, path, offset);
  if (!o) return [];
  return occurrencesOf(analysis.symbols, o.key).filter((x) => includeDeclaration || !x.declaration).map((x) => location(x, uriOf));
}

function location(o: Occurrence, uriOf: (path: string) => string): Location {
  return { uri: uriOf(o.span.file), range: spanToRange(o.span) };
}
