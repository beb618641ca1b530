/**
 * Tokens of the .aud language (Chevrotain).
 *
 * Reserved words are few on purpose: `key`, `type`, `time`, `format`, the
 * field types and every function name are plain identifiers, because
 * `type type` and `time ts` must parse in a source block and `time` is also a
 * field type. Keywords use `longer_alt` so that `order_count` or `inner` lex
 * as identifiers, not as a keyword and a rest.
 *
 * Each token has a `label`: the text a person would type, used in error
 * messages (`expected "}"`).
 */
import type { TokenType } from 'chevrotain';
import { createToken, Lexer } from './chevrotain.js';

export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/, label: 'a name' });

function keyword(word: string): TokenType {
  return createToken({ name: word[0]!.toUpperCase() + word.slice(1).replace(/_(\w)/g, (_, c: string) => c.toUpperCase()), pattern: new RegExp(`${word}\\b`), longer_alt: Identifier, label: `"${word}"` });
}

export const Source = keyword('source');
export const Output = keyword('output');
export const Event = keyword('event');
export const Trait = keyword('trait');
export const Score = keyword('score');
export const Audience = keyword('audience');
export const Over = keyword('over');
export const Where = keyword('where');
export const Then = keyword('then');
export const Not = keyword('not');
export const Within = keyword('within');
export const And = keyword('and');
export const Or = keyword('or');
export const In = keyword('in');
export const True = keyword('true');
export const False = keyword('false');
export const Null = keyword('null');
export const Sequence = keyword('sequence');
export const Contains = keyword('contains');
export const StartsWith = keyword('starts_with');
export const EndsWith = keyword('ends_with');

export const KEYWORDS = ['source', 'output', 'event', 'trait', 'score', 'audience', 'over', 'where', 'then', 'not', 'within',
  'and', 'or', 'in', 'true', 'false', 'null', 'sequence', 'contains', 'starts_with', 'ends_with'];

/**
 * `30 days`, `1 day`, `2w`: a number and a unit, one token. Long units may be
 * separated by spaces; short ones are glued to the number. Placed before
 * NumberLiteral so that `30 days` is never a number followed by a name.
 */
export const DurationLiteral = createToken({
  name: 'DurationLiteral',
  pattern: /\d+(?:\.\d+)?(?:[ \t]*(?:weeks|week|days|day|hours|hour|minutes|minute|seconds|second)|[wdhms])(?![A-Za-z0-9_])/,
  label: 'a duration',
});
/** `09:00`: a time of day (send windows). Placed before NumberLiteral so that `09:00` is one token. */
export const ClockTime = createToken({ name: 'ClockTime', pattern: /\d{1,2}:\d{2}(?![0-9])/, label: 'a time of day (09:00)' });
export const TimeLiteral = createToken({ name: 'TimeLiteral', pattern: /@[0-9][0-9A-Za-z:.+\-]*/, label: 'a time (@2026-01-31T00:00:00Z)' });
export const NumberLiteral = createToken({ name: 'NumberLiteral', pattern: /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/, label: 'a number' });
export const StringLiteral = createToken({ name: 'StringLiteral', pattern: /"(?:[^"\\\r\n]|\\.)*"/, label: 'a string' });

export const LCurly = createToken({ name: 'LCurly', pattern: /{/, label: '"{"' });
export const RCurly = createToken({ name: 'RCurly', pattern: /}/, label: '"}"' });
export const LParen = createToken({ name: 'LParen', pattern: /\(/, label: '"("' });
export const RParen = createToken({ name: 'RParen', pattern: /\)/, label: '")"' });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: '","' });
export const Colon = createToken({ name: 'Colon', pattern: /:/, label: '":"' });
export const Dot = createToken({ name: 'Dot', pattern: /\./, label: '"."' });
export const EqEq = createToken({ name: 'EqEq', pattern: /==/, label: '"=="' });
export const NotEq = createToken({ name: 'NotEq', pattern: /!=/, label: '"!="' });
export const LtEq = createToken({ name: 'LtEq', pattern: /<=/, label: '"<="' });
export const GtEq = createToken({ name: 'GtEq', pattern: />=/, label: '">="' });
export const Lt = createToken({ name: 'Lt', pattern: /</, label: '"<"' });
export const Gt = createToken({ name: 'Gt', pattern: />/, label: '">"' });
export const Equals = createToken({ name: 'Equals', pattern: /=/, label: '"="' });
export const Plus = createToken({ name: 'Plus', pattern: /\+/, label: '"+"' });
export const Minus = createToken({ name: 'Minus', pattern: /-/, label: '"-"' });
export const Star = createToken({ name: 'Star', pattern: /\*/, label: '"*"' });
export const Slash = createToken({ name: 'Slash', pattern: /\//, label: '"/"' });

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED });
/**
 * Comments go to their own group, not to the parser: the parser never sees
 * them, and the formatter (dsl/format.ts) reads them from `groups.comments`
 * to put them back.
 */
export const COMMENT_GROUP = 'comments';
export const LineComment = createToken({ name: 'LineComment', pattern: /\/\/[^\n]*/, group: COMMENT_GROUP });
export const BlockComment = createToken({ name: 'BlockComment', pattern: /\/\*[\s\S]*?\*\//, group: COMMENT_GROUP, line_breaks: true });

export const allTokens: TokenType[] = [
  WhiteSpace, LineComment, BlockComment,
  ClockTime, DurationLiteral, TimeLiteral, NumberLiteral, StringLiteral,
  Source, Output, Event, Trait, Score, Audience, Over, Where, Then, Not, Within, And, Or, In, True, False, Null,
  Sequence, Contains, StartsWith, EndsWith,
  Identifier,
  LCurly, RCurly, LParen, RParen, Comma, Colon, Dot,
  EqEq, NotEq, LtEq, GtEq, Lt, Gt, Equals, Plus, Minus, Star, Slash,
];

export const auLexer = new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: false });
