/** The outline of one file: its source, output, events (with fields), traits, scores, audiences, offers and decisions, in file order. */
import { SymbolKind, type DocumentSymbol } from 'vscode-languageserver';
import type { Identifier, RuleFile } from '../dsl/ast.js';
import type { Span } from '../dsl/diagnostics.js';
import { spanToRange } from './positions.js';

export function documentSymbols(file: RuleFile): DocumentSymbol[] {
  const symbols: DocumentSymbol[] = [];
  const add = (name: string, detail: string, kind: SymbolKind, span: Span, selection: Span, children?: DocumentSymbol[]): void => {
    if (name === '') return;
    symbols.push({ name, detail, kind, range: spanToRange(span), selectionRange: spanToRange(selection), ...(children ? { children } : {}) });
  };
  const named = (i: Identifier) => i.name;
  if (file.source) add(file.source.topic, 'source', SymbolKind.Module, file.source.span, file.source.topicSpan);
  for (const o of file.outputs) add(o.topic, 'output', SymbolKind.Module, o.span, o.span);
  for (const e of file.events) {
    const fields = e.fields.filter((f) => f.name.name !== '').map((f): DocumentSymbol => ({
      name: named(f.name), detail: f.type.name, kind: SymbolKind.Field, range: spanToRange(f.span), selectionRange: spanToRange(f.name.span),
    }));
    add(named(e.name), 'event', SymbolKind.Struct, e.span, e.name.span, fields);
  }
  for (const t of file.traits) add(named(t.name), t.kind, t.kind === 'score' ? SymbolKind.Number : SymbolKind.Variable, t.span, t.name.span);
  for (const a of file.audiences) add(named(a.name), a.description ? `audience: ${a.description}` : 'audience', SymbolKind.Class, a.span, a.name.span);
  for (const o of file.offers) add(named(o.name), o.description ? `offer: ${o.description}` : 'offer', SymbolKind.Constant, o.span, o.name.span);
  for (const d of file.decisions) add(named(d.name), d.description ? `decision: ${d.description}` : 'decision', SymbolKind.Function, d.span, d.name.span);
  return symbols.sort((x, y) => x.range.start.line - y.range.start.line || x.range.start.character - y.range.start.character);
}
