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
 * - at the start of a line in an offer's or a decision's braces: its clauses;
 *   after `offers` or a comma there: the offers; after `in` in a `deliver`
 *   clause: the zones and the traits;
 * - elsewhere: keywords, aggregates, functions, traits, scores and events.
 */
import { CompletionItemKind, InsertTextFormat, type CompletionItem } from 'vscode-languageserver';
import type { IToken, TokenType } from 'chevrotain';
import { AGGREGATE_FNS, STEADY_CLAUSES, type EventDecl } from '../dsl/ast.js';
import { FUNCTIONS } from '../dsl/checker/check.js';
import * as T from '../dsl/lexer.js';
import { AGGREGATE_DOCS, FUNCTION_DOCS } from './builtins.js';
import type { RuleSetAnalysis } from './rule-set.js';

const DECLARATION_WORDS = ['source', 'output', 'event', 'trait', 'score', 'audience', 'offer', 'decision'];
/** An offer's and a decision's clauses, as snippets. */
const ACTION_CLAUSES: Record<'offer' | 'decision', { label: string; insert: string; detail: string }[]> = {
  offer: [
    { label: 'eligible', insert: 'eligible $1', detail: 'eligible CONDITION: when the offer may be chosen' },
    { label: 'score', insert: 'score $1', detail: 'score NUMBER: higher wins' },
    { label: 'cap', insert: 'cap ${1:1} per ${2:7 days}', detail: 'cap N per DURATION: decision events naming this offer' },
  ],
  decision: [
    { label: 'offers', insert: 'offers $1', detail: 'offers A, B, ...: the offers to choose between, ties to the first' },
    { label: 'cap', insert: 'cap ${1:3} per ${2:7 days}', detail: 'cap N per DURATION: decision events naming any offer' },
    { label: 'deliver', insert: 'deliver between ${1:09:00} and ${2:20:00} in "${3:Europe/Oslo}"', detail: 'deliver between HH:MM and HH:MM in ZONE: a send window' },
  ],
};
const EXPRESSION_WORDS = ['and', 'or', 'not', 'in', 'over', 'where', 'then', 'within', 'sequence', 'contains', 'starts_with', 'ends_with', 'true', 'false', 'null'];
const SOURCE_CLAUSES = ['key', 'identity', 'type', 'time', 'format'];
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
  const { block, blockStart, parens, action } = enclosing(tokens);
  if (action !== undefined && block === undefined && parens === 0) {
    // A decision's only `in` is its send window's.
    if (action === 'decision' && lastType === T.In) return zoneItems(analysis);
    if (action === 'decision' && (last?.image === 'offers' || (lastType === T.Comma && lastOffersClause(tokens.slice(blockStart + 1))))) return offerItems(analysis);
  }
  if (lastType === T.In) return audienceItems(analysis);
  if (action !== undefined && block === undefined && parens === 0 && /(^|\n|\{)[ \t]*[A-Za-z_]*$/.test(before)) {
    const clauses = ACTION_CLAUSES[action].map((c): CompletionItem => ({
      label: c.label, kind: CompletionItemKind.Keyword, detail: c.detail, insertText: c.insert, insertTextFormat: InsertTextFormat.Snippet,
    }));
    return action === 'offer' ? [...clauses, ...expressionItems(analysis, events)] : clauses;
  }
  if (block === T.Source) {
    if (last?.image === 'format') return ['json', 'avro'].map((v) => ({ label: v, kind: CompletionItemKind.EnumMember }));
    // A clause a line: its word at the line's start; after an identity field, its options.
    const line = /(^|\n)([^\n]*)$/.exec(before.slice(0, before.length - partial.length))![2]!;
    if (/^[ \t]*(\{[ \t]*)?$/.test(line) || lastType === T.LCurly) return SOURCE_CLAUSES.map((c) => ({ label: c, kind: CompletionItemKind.Keyword }));
    if (/^[ \t]*identity\b/.test(line) && lastType === T.Identifier && last?.image !== 'identity' && last?.image !== 'limit' && last?.image !== 'block') {
      return [
        { label: 'limit', kind: CompletionItemKind.Keyword, detail: 'limit N: at most N values of this field in one profile' },
        { label: 'block', kind: CompletionItemKind.Keyword, detail: 'block "v", ...: values that identify no one' },
      ];
    }
    return [];
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

/** Whether the last clause of a decision's braces is `offers A, B, ...`. */
function lastOffersClause(clause: IToken[]): boolean {
  for (let i = clause.length - 1; i >= 0; i--) {
    const t = clause[i]!;
    if (t.image === 'offers') return true;
    if (t.tokenType !== T.Comma && t.tokenType !== T.Identifier) return false;
  }
  return false;
}

function offerItems(analysis: RuleSetAnalysis): CompletionItem[] {
  return [...analysis.files.values()].flatMap((f) => f.file.offers)
    .filter((o) => o.name.name !== '')
    .map((o) => ({ label: o.name.name, kind: CompletionItemKind.Constant, detail: 'offer', ...(o.description ? { documentation: o.description } : {}) }));
}

/** After `deliver between ... in`: IANA zone names (quoted) and the string traits a zone may come from. */
function zoneItems(analysis: RuleSetAnalysis): CompletionItem[] {
  const zones = Intl.supportedValuesOf('timeZone').map((z): CompletionItem => ({ label: `"${z}"`, kind: CompletionItemKind.EnumMember, detail: 'time zone' }));
  const traits = [...analysis.files.values()].flatMap((f) => f.file.traits)
    .filter((t) => t.kind === 'trait' && analysis.check.traitTypes.get(t.name.name) === 'string')
    .map((t): CompletionItem => ({ label: t.name.name, kind: CompletionItemKind.Variable, detail: 'string trait: the customer\'s zone', insertText: `${t.name.name} default "\${1:Europe/Oslo}"`, insertTextFormat: InsertTextFormat.Snippet }));
  return [...traits, ...zones];
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

/**
 * The innermost declaration block open at the end of the tokens, and how
 * many parentheses are open; `action` when it is an offer's or a decision's
 * (they start with a name, so `block` is undefined for them).
 */
function enclosing(tokens: IToken[]): { block: TokenType | undefined; blockStart: number; parens: number; action: 'offer' | 'decision' | undefined } {
  let block: TokenType | undefined;
  let blockStart = -1;
  let declaration: TokenType | undefined;
  let actionWord: 'offer' | 'decision' | undefined;
  let action: 'offer' | 'decision' | undefined;
  let parens = 0;
  tokens.forEach((t, i) => {
    const open = block === undefined && action === undefined;
    if ([T.Source, T.Output, T.Event, T.Trait, T.Score, T.Audience].includes(t.tokenType) && open) { declaration = t.tokenType; actionWord = undefined; }
    else if (open && t.tokenType === T.Identifier && (t.image === 'offer' || t.image === 'decision') && tokens[i + 1]?.tokenType === T.Identifier) {
      declaration = undefined; actionWord = t.image;
    } else if (t.tokenType === T.LCurly) {
      if (actionWord !== undefined && open) { action = actionWord; blockStart = i; } else { block = declaration; blockStart = i; }
    } else if (t.tokenType === T.RCurly) { block = undefined; action = undefined; actionWord = undefined; parens = 0; }
    else if (t.tokenType === T.LParen) parens++;
    else if (t.tokenType === T.RParen) parens = Math.max(0, parens - 1);
  });
  return { block, blockStart, parens, action };
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
