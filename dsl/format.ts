/**
 * The canonical layout of a `.aud` file: what `aud fmt` writes and what the
 * language server's "format document" applies.
 *
 * The formatter changes whitespace only: it reads the tokens and the comments
 * (the lexer's `comments` group) in file order and decides, between each two,
 * nothing, one space, or a line break with the indentation of the nesting.
 * Working on tokens rather than printing the AST keeps every comment where
 * its author put it, and keeps parentheses the AST does not record.
 *
 * The layout:
 * - every declaration starts a line; at most one blank line between lines;
 * - a source block holds one clause a line, and so do offers and decisions
 *   (`eligible ...`, `score ...`, `cap 1 per 7 days`, `offers a, b`, `deliver
 *   between ...`), their values lined up; an audience's expression sits on
 *   its own lines inside the braces, and so does each clause of a steady
 *   audience (`enter when ...`, `stay at least 1 day`), its words on one line; an event's fields stay on one line
 *   (`{ a: number, b: string }`) unless the block already spans lines or
 *   holds a comment, in which case each field starts a line;
 * - inside an expression, the author's line breaks are kept, and each line is
 *   indented two spaces per open brace and parenthesis (two more for the
 *   continuation lines of a trait or score);
 * - one space between tokens, none inside `( )`, before `,` `:` `)`, around
 *   `.`, between a function name and its `(`, or after a unary `-`;
 * - a duration is written with one space before a long unit (`30 days`);
 * - a line comment ends its line; comments are otherwise left as written.
 *
 * It formats only a file that parses: with a syntax error it returns the
 * diagnostics instead. As a safeguard it parses its own output and refuses
 * (FormatError) if the tree differs from the input's in anything but layout.
 */
import type { IToken, TokenType } from 'chevrotain';
import type { RuleFile } from './ast.js';
import type { Diagnostic } from './diagnostics.js';
import * as T from './lexer.js';
import { parseRuleFile } from './parse.js';

export type FormatResult =
  | { ok: true; text: string }
  | { ok: false; diagnostics: Diagnostic[] };

/** The formatter's output would not mean what its input meant: a bug of ours, never the user's. */
export class FormatError extends Error {
  readonly code = 'format-changed-meaning';
  constructor(readonly path: string) {
    super(`internal formatter error: formatting ${path} would change its meaning (please report this with the file)`);
    this.name = 'FormatError';
  }
}

const DECLARATION_TOKENS: TokenType[] = [T.Source, T.Output, T.Event, T.Trait, T.Score, T.Audience];
const COMMENT_TOKENS: TokenType[] = [T.LineComment, T.BlockComment];
/** Tokens after which a `-` subtracts; after anything else it negates. */
const VALUE_END_TOKENS: TokenType[] = [T.Identifier, T.NumberLiteral, T.StringLiteral, T.DurationLiteral, T.TimeLiteral, T.True, T.False, T.Null, T.RParen];
const NO_SPACE_BEFORE: TokenType[] = [T.RParen, T.Comma, T.Dot, T.Colon];
/** Tokens after which a clause word of an offer or a decision starts a clause rather than continuing an expression. */
const CLAUSE_FOLLOWS: TokenType[] = [...VALUE_END_TOKENS, T.LCurly, T.ClockTime];
const INDENT = '  ';
/** The declaration being laid out is an offer or a decision (they start with a name, not a keyword). */
const ACTION = 'action';
const LINE_BREAK = /\r\n|\r|\n/g;

type BlockKind = 'source' | 'event' | 'audience' | 'action' | 'other';

/** The words that open a clause of an offer or a decision (`score` is a keyword, the others names). */
const ACTION_CLAUSE_WORDS = new Set(['eligible', 'score', 'cap', 'offers', 'deliver']);
/** Tokens after which a clause word starts a clause rather than continuing an expression. */

interface Block { kind: BlockKind; multiline: boolean }

/** Format the text of one file; `path` only names it in diagnostics. */
export function formatRuleText(path: string, text: string): FormatResult {
  const parsed = parseRuleFile(path, text);
  const broken = parsed.diagnostics.filter((d) => d.code === 'lex' || d.code === 'syntax');
  if (broken.length > 0) return { ok: false, diagnostics: broken };
  const out = layout(text);
  if (layoutFreeTree(parseRuleFile(path, out).file) !== layoutFreeTree(parsed.file)) throw new FormatError(path);
  return { ok: true, text: out };
}

/**
 * The AST as text with everything that depends on layout left out (spans,
 * the spelling of durations' spaces), so that two trees compare equal exactly
 * when they mean the same.
 */
export function layoutFreeTree(file: RuleFile): string {
  return JSON.stringify(file, (key, value: unknown) => {
    if (key === 'span' || key.endsWith('Span') || key === 'path') return undefined;
    if (key === 'text' && typeof value === 'string') return value.replace(/\s+/g, '');
    return value;
  });
}

/**
 * Marks left in the text while laying it out, then replaced by the spaces
 * that line up a column over consecutive lines: source clause values, the
 * `{` of one-line events, the `=` of traits and scores, trailing comments.
 * A file whose strings or comments hold these characters is laid out without
 * lining up.
 */
const ALIGN = { clause: '\u0001', event: '\u0002', trait: '\u0003', comment: '\u0004' } as const;

/**
 * Replace each `mark` with spaces so that, over every run of consecutive
 * lines that hold one, the text after it starts in one column. A trailing
 * comment mark stands for the one space that at least separates it.
 */
function alignColumns(text: string, mark: string): string {
  const lines = text.split('\n');
  const gap = mark === ALIGN.comment ? 1 : 0;
  for (let start = 0; start < lines.length;) {
    if (!lines[start]!.includes(mark)) { start++; continue; }
    let end = start;
    while (end < lines.length && lines[end]!.includes(mark)) end++;
    const columns = lines.slice(start, end).map((l) => l.indexOf(mark));
    const target = Math.max(...columns);
    for (let k = start; k < end; k++) lines[k] = lines[k]!.replace(mark, ' '.repeat(target - columns[k - start]! + gap));
    start = end;
  }
  return lines.join('\n');
}

function lineBreaksIn(s: string): number {
  return s.match(LINE_BREAK)?.length ?? 0;
}

function isComment(t: IToken): boolean {
  return COMMENT_TOKENS.includes(t.tokenType);
}

/** `30   days` → `30 days`, `2w` stays. */
function tokenText(t: IToken): string {
  if (t.tokenType === T.DurationLiteral) return t.image.replace(/^(\d+(?:\.\d+)?)[ \t]*([A-Za-z]+)$/, (_, n: string, unit: string) => (unit.length > 1 ? `${n} ${unit}` : `${n}${unit}`));
  if (t.tokenType === T.LineComment) return t.image.trimEnd();
  return t.image;
}

/**
 * The words of steady audiences' clauses, by token index: 'start' for the
 * first word of a clause, 'word' for the others (`when`, `at`, `least`).
 * A clause-form body opens with two names; a clause ends where a value is
 * followed by two names, since no expression holds two names in a row.
 */
function clauseWords(tokens: IToken[]): Map<number, 'start' | 'word'> {
  const roles = new Map<number, 'start' | 'word'>();
  const code = tokens.map((t, i) => ({ t, i })).filter((x) => !isComment(x.t));
  let depth = 0;
  let declaration: TokenType | undefined;
  /** Inside a clause-form audience's braces: what comes next. */
  let state: 'none' | 'start' | 'word2' | 'value' = 'none';
  let valueTokens = 0;
  let parens = 0;
  code.forEach(({ t, i }, k) => {
    const next = code[k + 1]?.t;
    const type = t.tokenType;
    if (depth === 0 && DECLARATION_TOKENS.includes(type)) declaration = type;
    if (type === T.LCurly) {
      depth++;
      if (depth === 1 && declaration === T.Audience && next?.tokenType === T.Identifier && code[k + 2]?.t.tokenType === T.Identifier) state = 'start';
      return;
    }
    if (type === T.RCurly) { depth--; if (depth === 0) state = 'none'; return; }
    if (state === 'none') return;
    if (state === 'start') { roles.set(i, 'start'); state = 'word2'; return; }
    if (state === 'word2') {
      roles.set(i, 'word');
      if (next?.tokenType === T.Identifier && next.image === 'least') return;
      state = 'value'; valueTokens = 0; parens = 0;
      return;
    }
    const prev = code[k - 1]?.t;
    if (parens === 0 && valueTokens > 0 && type === T.Identifier && next?.tokenType === T.Identifier && prev && VALUE_END_TOKENS.includes(prev.tokenType)) {
      roles.set(i, 'start'); state = 'word2'; return;
    }
    if (type === T.LParen) parens++;
    if (type === T.RParen) parens = Math.max(0, parens - 1);
    valueTokens++;
  });
  return roles;
}

/**
 * The token indexes that start a clause of a source block: `key F`,
 * `type F`, `time F` and `format F` are a word and a value; `identity F1,
 * F2 limit 5, F3  block "x", "y"` runs on while a comma, `limit` or
 * `block` continues it.
 */
function sourceClauseStarts(tokens: IToken[]): Set<number> {
  const starts = new Set<number>();
  let declaration: TokenType | undefined;
  let depth = 0;
  let state: 'none' | 'start' | 'value' | 'field' | 'afterField' | 'limit' | 'string' | 'afterString' = 'none';
  tokens.forEach((t, i) => {
    if (isComment(t)) return;
    const type = t.tokenType;
    if (depth === 0 && DECLARATION_TOKENS.includes(type)) declaration = type;
    if (type === T.LCurly) { depth++; if (depth === 1 && declaration === T.Source) state = 'start'; return; }
    if (type === T.RCurly) { depth--; if (depth === 0) state = 'none'; return; }
    const word = (w: string): boolean => type === T.Identifier && t.image === w;
    switch (state) {
      case 'none': return;
      case 'value': state = 'start'; return;
      case 'field': state = 'afterField'; return;
      case 'limit': state = 'afterField'; return;
      case 'string': state = 'afterString'; return;
      case 'afterField':
        if (type === T.Comma) { state = 'field'; return; }
        if (word('limit')) { state = 'limit'; return; }
        if (word('block')) { state = 'string'; return; }
        break;
      case 'afterString':
        if (type === T.Comma) { state = 'string'; return; }
        break;
      case 'start': break;
    }
    if (type !== T.Identifier) return;
    starts.add(i);
    state = t.image === 'identity' ? 'field' : 'value';
  });
  return starts;
}

function layout(text: string): string {
  const lexed = T.auLexer.tokenize(text);
  const tokens = [...lexed.tokens, ...(lexed.groups[T.COMMENT_GROUP] ?? [])].sort((a, b) => a.startOffset - b.startOffset);
  const clauses = clauseWords(tokens);
  const sourceStarts = sourceClauseStarts(tokens);
  const out: string[] = [];
  const aligning = !/[\u0001-\u0004]/.test(text);
  const blocks: Block[] = [];
  let parens = 0;
  let declaration: TokenType | typeof ACTION | undefined;
  let prev: IToken | undefined;
  let prevCode: IToken | undefined;
  /** Whether the `-` just written negates (no space after it). */
  let prevUnaryMinus = false;

  const nextCode = (i: number): IToken | undefined => {
    for (let j = i + 1; j < tokens.length; j++) if (!isComment(tokens[j]!)) return tokens[j];
    return undefined;
  };
  const top = (): Block | undefined => blocks[blocks.length - 1];
  const alignAnchor = (t: IToken, before: IToken | undefined, inside: Block | undefined, i: number): string | undefined => {
    if (t.tokenType !== T.Identifier) return undefined;
    if (inside?.kind === 'source' && sourceStarts.has(i)) return ALIGN.clause;
    if (inside !== undefined || parens > 0) return undefined;
    if (before?.tokenType === T.Trait || before?.tokenType === T.Score) return ALIGN.trait;
    if (before?.tokenType === T.Event) {
      // Only one-line events line up: find whether this one's block spans lines.
      const close = tokens.findIndex((c, j) => j > i && c.tokenType === T.RCurly);
      const end = close < 0 ? text.length : tokens[close]!.startOffset;
      const open = tokens[i + 1];
      const oneLine = open?.tokenType === T.LCurly && lineBreaksIn(text.slice(open.startOffset, end)) === 0
        && !tokens.slice(i + 1, close < 0 ? tokens.length : close).some(isComment);
      return oneLine ? ALIGN.event : undefined;
    }
    return undefined;
  };

  /** `offer NAME` or `decision NAME` at the top level: a declaration that starts with a name. */
  const startsAction = (t: IToken, i: number): boolean =>
    t.tokenType === T.Identifier && (t.image === 'offer' || t.image === 'decision') && nextCode(i)?.tokenType === T.Identifier;
  /** A clause word of an offer or a decision, directly in its braces, after a value or the opening brace. */
  const startsActionClause = (t: IToken, inside: Block | undefined): boolean =>
    inside?.kind === 'action' && blocks.length === 1 && parens === 0 && ACTION_CLAUSE_WORDS.has(t.image)
    && (t.tokenType === T.Score || t.tokenType === T.Identifier) && prevCode !== undefined && CLAUSE_FOLLOWS.includes(prevCode.tokenType);

  tokens.forEach((t, i) => {
    const type = t.tokenType;
    const comment = isComment(t);
    const startsDeclaration = !comment && blocks.length === 0 && parens === 0 && (DECLARATION_TOKENS.includes(type) || startsAction(t, i));
    const actionClause = !comment && startsActionClause(t, top());
    const block = top();
    const gap = prev ? text.slice(prev.endOffset! + 1, t.startOffset) : '';
    const found = lineBreaksIn(gap);

    // The fewest and most line breaks before this token.
    let min = 0;
    let max = 2;
    if (prev?.tokenType === T.LineComment) min = 1;
    if (startsDeclaration) min = 1;
    if (block && block.kind !== 'other' && (block.kind !== 'event' || block.multiline)) {
      if (prevCode?.tokenType === T.LCurly && prev === prevCode) { min = type === T.RCurly && block.kind !== 'audience' ? 0 : 1; max = 1; }
      if (type === T.RCurly) { min = Math.max(min, prevCode?.tokenType === T.LCurly && block.kind !== 'audience' ? 0 : 1); max = 1; }
      if (block.kind === 'source' && sourceStarts.has(i)) min = 1;
      // A source clause is one line: its value, or identity's fields and blocked values.
      if (block.kind === 'source' && !sourceStarts.has(i) && type !== T.RCurly && !comment && prev !== undefined && !isComment(prev)) max = 0;
      if (block.kind === 'event' && type === T.Identifier && nextCode(i)?.tokenType === T.Colon) min = 1;
      if (block.kind === 'audience' && clauses.get(i) === 'start') { min = 1; max = 1; }
      if (actionClause) { min = 1; max = 1; }
    }
    const breakable = comment || prev === undefined || isComment(prev) || !(
      NO_SPACE_BEFORE.includes(type) || prev.tokenType === T.Dot
      || (type === T.LParen && (prev.tokenType === T.Identifier || prev.tokenType === T.Sequence))
      || prevUnaryMinus
      || clauses.get(i) === 'word'
      || (block?.kind === 'event' && !block.multiline));
    const breaks = prev === undefined ? 0 : Math.min(max, Math.max(min, breakable ? found : 0));

    if (type === T.RCurly) blocks.pop();
    if (type === T.RParen) parens = Math.max(0, parens - 1);

    if (breaks > 0) {
      let depth = blocks.length + parens;
      // Continuation lines of a trait, a score or an audience's head; a comment
      // just before the next declaration belongs to it, not to the one before.
      const beforeDeclaration = comment && (() => {
        const n = nextCode(i);
        return n === undefined || DECLARATION_TOKENS.includes(n.tokenType) || (n.tokenType === T.Identifier && (n.image === 'offer' || n.image === 'decision'));
      })();
      if (blocks.length === 0 && parens === 0 && declaration !== undefined && !startsDeclaration && !beforeDeclaration && type !== T.RCurly) depth++;
      if (blocks.length === 0 && parens > 0 && (declaration === T.Trait || declaration === T.Score)) depth++;
      out.push('\n'.repeat(breaks) + INDENT.repeat(depth));
    } else if (prev !== undefined) {
      const tight = !comment && !isComment(prev) && (NO_SPACE_BEFORE.includes(type) || prev.tokenType === T.LParen || prev.tokenType === T.Dot
        || (type === T.LParen && (prev.tokenType === T.Identifier || prev.tokenType === T.Sequence)) || prevUnaryMinus);
      out.push(tight ? '' : type === T.LineComment && aligning ? ALIGN.comment : ' ');
    }
    out.push(tokenText(t));
    const anchor = actionClause ? ALIGN.clause : alignAnchor(t, prevCode, top(), i);
    if (anchor && aligning) out.push(anchor);

    if (!comment) {
      if (startsDeclaration) declaration = type === T.Identifier ? ACTION : type;
      if (type === T.LCurly) {
        const kind: BlockKind = blocks.length > 0 || parens > 0 ? 'other'
          : declaration === T.Source ? 'source' : declaration === T.Event ? 'event' : declaration === T.Audience ? 'audience'
            : declaration === ACTION ? 'action' : 'other';
        let multiline = kind !== 'event';
        if (kind === 'event') {
          const close = tokens.findIndex((c, j) => j > i && c.tokenType === T.RCurly);
          const end = close < 0 ? tokens.length : close;
          multiline = lineBreaksIn(text.slice(t.startOffset, tokens[end]?.startOffset ?? text.length)) > 0
            || tokens.slice(i + 1, end).some(isComment);
        }
        blocks.push({ kind, multiline });
      }
      if (type === T.LParen) parens++;
      prevUnaryMinus = type === T.Minus && !(prevCode && VALUE_END_TOKENS.includes(prevCode.tokenType));
      prevCode = t;
    }
    prev = t;
  });
  let body = out.join('');
  if (aligning) for (const mark of [ALIGN.clause, ALIGN.event, ALIGN.trait, ALIGN.comment]) body = alignColumns(body, mark);
  body = body.split('\n').map((l) => l.trimEnd()).join('\n');
  return body === '' ? '' : `${body}\n`;
}
