/**
 * Completion at a position, from the text before it and the rule set's
 * declarations:
 * - after `E.`: the fields of event E;
 * - after `in`: audiences; after `over` or `within`: durations;
 * - in a source block: its clauses (after `format`: json, avro); after `:` in
 *   an event block: the field types;
 * - inside `E where ...`: E's fields, then what an expression may hold;
 * - at the start of a line outside any declaration: the declaration keywords;
 * - at the start of a line in an audience's braces: the steady clauses
 *   (`enter when`, `stay at least`, ...), then what an expression may hold;
 * - elsewhere: keywords, aggregates, functions, traits, scores and events.
 */
import { CompletionItemKind, InsertTextFormat, type CompletionItem } from 'vscode-languageserver';
import type { IToken, TokenType } from 'chevrotain';
import { AGGREGATE_FNS, STEADY_CLAUSES, type EventDecl } from '../dsl/ast.js';
import { FUNCTIONS } from '../dsl/checker/check.js';
import * as T from '../dsl/lexer.js';
import { AGGREGATE_DOCS, FUNCTION_DOCS } from './builtins.js';
import type { RuleSetAnalysis } from './rule-set.js';

const DECLARATION_WORDS = ['source', 'output', 'event', 'trait', 'score', 'audience'];
const EXPRESSION_WORDS = ['and', 'or', 'not', 'in', 'over', 'where', 'then', 'within', 'sequence', 'contains', 'starts_with', 'ends_with', 'true', 'false', 'null'];
const SOURCE_CLAUSES = ['key', 'type', 'time', 'format'];
const FIELD_TYPES = ['number', 'string', 'bool', 'time'];
const DURATIONS = ['1 hour', '24 hours', '1 day', '7 days', '30 days', '90 days', '180 days', '365 days', '15 minutes', '2 weeks'];

export function complete(analysis: RuleSetAnalysis, text: string, offset: number): CompletionItem[] {
  const before = text.slice(0, offset);
  const events = new Map<string, EventDecl>();
  for (const f of analysis.files.values()) for (const e of f.file.events) if (!events.has(e.name.name)) events.set(e.name.name, e);

  const dotted = /([A-Za-z_][A-Za-z0-9_]*)\.[A-Za-z0-9_]*$/.exec(before);
  if (dotted) return fieldItems(events.get(dotted[1]!));

  // The tokens before the word being typed.
  const partial = /[A-Za-z_][A-Za-z0-9_]*$/.exec(before)?.[0] ?? '';
  const tokens = T.auLexer.tokenize(before.slice(0, before.length - partial.length)).tokens;
  const last = tokens[tokens.length - 1];
  const lastType = last?.tokenType;
  if (lastType === T.Over || lastType === T.Within) return DURATIONS.map((d) => ({ label: d, kind: CompletionItemKind.Unit }));
  if (lastType === T.In) return audienceItems(analysis);

  const { block, blockStart, parens } = enclosing(tokens);
  if (block === T.Source) {
    if (last?.image === 'format') return ['json', 'avro'].map((v) => ({ label: v, kind: CompletionItemKind.EnumMember }));
    const words = tokens.slice(blockStart + 1).filter((t) => t.tokenType === T.Identifier).length;
    return words % 2 === 0 ? SOURCE_CLAUSES.map((c) => ({ label: c, kind: CompletionItemKind.Keyword })) : [];
  }
  if (block === T.Event) return lastType === T.Colon ? FIELD_TYPES.map((t) => ({ label: t, kind: CompletionItemKind.TypeParameter })) : [];

  const filtered = filteredEvent(tokens);
  if (filtered !== undefined) return [...fieldItems(events.get(filtered)), ...expressionItems(analysis, events)];

  const lineStart = /(^|\n)[ \t]*[A-Za-z_]*$/.test(before);
  if (block === undefined && parens === 0 && lineStart && (lastType === undefined || endsDeclaration(tokens))) {
    return DECLARATION_WORDS.map((w) => ({ label: w, kind: CompletionItemKind.Keyword }));
  }
  if (block === T.Audience && parens === 0 && lineStart) {
    const clauses = Object.entries(STEADY_CLAUSES).map(([words, takes]): CompletionItem => ({
      label: words, kind: CompletionItemKind.Keyword, detail: `steady audience: ${words} ${takes === 'condition' ? 'CONDITION' : 'DURATION'}`,
      insertText: `${words} $1`, insertTextFormat: InsertTextFormat.Snippet,
    }));
    return [...clauses, ...expressionItems(analysis, events)];
  }
  return expressionItems(analysis, events);
}

function fieldItems(event: EventDecl | undefined): CompletionItem[] {
  return (event?.fields ?? []).map((f) => ({ label: f.name.name, kind: CompletionItemKind.Field, detail: f.type.name }));
}

function audienceItems(analysis: RuleSetAnalysis): CompletionItem[] {
  return [...analysis.files.values()].flatMap((f) => f.file.audiences)
    .filter((a) => a.name.name !== '')
    .map((a) => ({ label: a.name.name, kind: CompletionItemKind.Class, detail: 'audience', ...(a.description ? { documentation: a.description } : {}) }));
}

function expressionItems(analysis: RuleSetAnalysis, events: Map<string, EventDecl>): CompletionItem[] {
  const items: CompletionItem[] = EXPRESSION_WORDS.map((w) => ({ label: w, kind: CompletionItemKind.Keyword }));
  for (const fn of AGGREGATE_FNS) {
    items.push({ label: fn, kind: CompletionItemKind.Function, detail: AGGREGATE_DOCS[fn].signature, documentation: AGGREGATE_DOCS[fn].meaning,
      insertText: `${fn}($1)`, insertTextFormat: InsertTextFormat.Snippet });
  }
  for (const fn of Object.keys(FUNCTIONS)) {
    if ((AGGREGATE_FNS as readonly string[]).includes(fn)) continue;
    const doc = FUNCTION_DOCS[fn];
    items.push({ label: fn, kind: CompletionItemKind.Function, ...(doc ? { detail: doc.signature, documentation: doc.meaning } : {}),
      insertText: fn === 'now' ? 'now()' : `${fn}($1)`, insertTextFormat: InsertTextFormat.Snippet });
  }
  for (const f of analysis.files.values()) {
    for (const t of f.file.traits) {
      if (t.name.name === '') continue;
      const type = analysis.check.traitTypes.get(t.name.name);
      items.push({ label: t.name.name, kind: CompletionItemKind.Variable, detail: `${t.kind}${type && type !== 'error' ? `: ${type}` : ''}` });
    }
  }
  for (const e of events.keys()) items.push({ label: e, kind: CompletionItemKind.Struct, detail: 'event' });
  return items;
}

/** The innermost declaration block open at the end of the tokens, and how many parentheses are open. */
function enclosing(tokens: IToken[]): { block: TokenType | undefined; blockStart: number; parens: number } {
  let block: TokenType | undefined;
  let blockStart = -1;
  let declaration: TokenType | undefined;
  let parens = 0;
  tokens.forEach((t, i) => {
    if ([T.Source, T.Output, T.Event, T.Trait, T.Score, T.Audience].includes(t.tokenType) && block === undefined) declaration = t.tokenType;
    else if (t.tokenType === T.LCurly) { block = declaration; blockStart = i; }
    else if (t.tokenType === T.RCurly) { block = undefined; parens = 0; }
    else if (t.tokenType === T.LParen) parens++;
    else if (t.tokenType === T.RParen) parens = Math.max(0, parens - 1);
  });
  return { block, blockStart, parens };
}

/** Whether the tokens end where a declaration may end: after `}`, a trait's complete value, or an output topic. */
function endsDeclaration(tokens: IToken[]): boolean {
  const last = tokens[tokens.length - 1]!.tokenType;
  return last === T.RCurly || last === T.StringLiteral || last === T.Identifier || last === T.NumberLiteral || last === T.DurationLiteral || last === T.RParen
    || last === T.True || last === T.False || last === T.Null;
}

/** Inside `E where ...` (of an aggregate or a step) with no enclosing parenthesis closed since: E. */
function filteredEvent(tokens: IToken[]): string | undefined {
  let depth = 0;
  for (let i = tokens.length - 1; i >= 0; i--) {
    const t = tokens[i]!.tokenType;
    if (t === T.RParen) depth++;
    else if (t === T.LParen) { if (depth === 0) { /* leaving an enclosing call: keep looking outward */ } else depth--; }
    else if (t === T.Comma && depth === 0) return undefined;
    else if (t === T.Then && depth === 0) return undefined;
    else if (t === T.Where && depth === 0) {
      const prev = tokens[i - 1];
      const prev3 = tokens[i - 3];
      if (prev?.tokenType !== T.Identifier) return undefined;
      return tokens[i - 2]?.tokenType === T.Dot && prev3?.tokenType === T.Identifier ? prev3.image : prev.image;
    } else if (t === T.LCurly || t === T.RCurly || t === T.Equals) return undefined;
  }
  return undefined;
}
