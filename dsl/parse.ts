/**
 * Text → AST, with every lexical and syntax error as a diagnostic.
 * Never throws on any input.
 *
 * Chevrotain recovers inside a declaration (a missing `}` or `)` is inserted,
 * a stray token skipped). When it cannot, the rest of the file would be lost;
 * so after such an error parsing resumes at the next declaration keyword,
 * and a file with three broken audiences reports three errors.
 */
import type { IRecognitionException, IToken, TokenType } from 'chevrotain';
import type { RuleFile } from './ast.js';
import { AstBuilder } from './cst-to-ast.js';
import type { Diagnostic, Span } from './diagnostics.js';
import * as T from './lexer.js';
import { audParser } from './parser.js';
import { SourceLines } from './source-lines.js';
import { closest } from './suggest.js';

const DECLARATION_TOKENS: TokenType[] = [T.Source, T.Output, T.Event, T.Trait, T.Score, T.Audience];
const DECLARATION_WORDS = ['source', 'output', 'event', 'trait', 'score', 'audience', 'offer', 'decision'];
/** Declarations that start with a name rather than a keyword (parser.ts's actionDecl). */
const DECLARATION_NAMES = ['offer', 'decision'];

function startsDeclaration(t: IToken): boolean {
  return DECLARATION_TOKENS.includes(t.tokenType) || (t.tokenType === T.Identifier && DECLARATION_NAMES.includes(t.image));
}

const RULE_WHAT: Record<string, string> = {
  file: 'a declaration (source, output, event, trait, score, audience, offer or decision)',
  primary: 'a value: a number, a string, a name, an aggregate such as count(purchase), or "("',
  notExpr: 'an expression',
  comparison: 'an expression',
  unary: 'an expression',
  traitDecl: '"trait" or "score"',
  step: 'an event name',
  sourceClause: 'a source clause (key, identity, type, time or format)',
  identityField: 'an identifier field',
  actionClause: 'a clause (eligible, score, cap, offers or deliver)',
};

function describe(t: IToken | undefined): string {
  if (!t || t.tokenType?.name === 'EOF') return 'the end of the file';
  return `"${t.image}"`;
}

/** The parser stopped at the top level: what follows is no declaration. */
function isTopLevelStop(e: IRecognitionException): boolean {
  return e.name === 'NotAllInputParsedException' || /-->\s*EOF\s*<--/.test(e.message);
}

export function parseRuleFile(path: string, text: string): { file: RuleFile; diagnostics: Diagnostic[] } {
  try {
    return parseUnsafe(path, text);
  } catch (err) {
    // A bug of ours, not the user's: say so, and point at the start of the file.
    return {
      file: { path, outputs: [], events: [], traits: [], audiences: [], offers: [], decisions: [] },
      diagnostics: [{
        code: 'syntax', span: { file: path, line: 1, column: 1, endLine: 1, endColumn: 2, offset: 0, endOffset: 1 },
        message: `internal parser error: ${(err as Error).message} (please report this with the file)`,
      }],
    };
  }
}

function spanAt(path: string, text: string, t: IToken | undefined): Span {
  if (!t || t.tokenType?.name === 'EOF' || Number.isNaN(t.startOffset)) {
    // The end of the file: point at its last character.
    const lines = new SourceLines(text);
    let line = lines.count;
    while (line > 1 && lines.line(line).trim() === '') line--;
    const col = Math.max(1, lines.line(line).length);
    return { file: path, line, column: col, endLine: line, endColumn: col + 1, offset: Math.max(0, text.length - 1), endOffset: text.length };
  }
  const len = Math.max(1, t.image.length);
  return {
    file: path, line: t.startLine ?? 1, column: t.startColumn ?? 1,
    endLine: t.startLine ?? 1, endColumn: (t.startColumn ?? 1) + (t.image.includes('\n') ? 1 : len),
    offset: t.startOffset, endOffset: t.startOffset + len,
  };
}

function parseUnsafe(path: string, text: string): { file: RuleFile; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const lexed = T.auLexer.tokenize(text);
  for (const e of lexed.errors) {
    const ch = text[e.offset] ?? '';
    const message = ch === '"' ? 'unterminated string: add the closing "'
      : ch === '/' && text[e.offset + 1] === '*' ? 'unterminated comment: add the closing */'
      : `unexpected character ${JSON.stringify(ch)}`;
    diagnostics.push({
      code: 'lex', message,
      span: { file: path, line: e.line ?? 1, column: e.column ?? 1, endLine: e.line ?? 1, endColumn: (e.column ?? 1) + Math.max(1, Math.min(e.length, 1)), offset: e.offset, endOffset: e.offset + 1 },
    });
  }

  const tokens = lexed.tokens;
  const builder = new AstBuilder(path);
  const file: RuleFile = { path, outputs: [], events: [], traits: [], audiences: [], offers: [], decisions: [] };
  let start = 0;
  const reported = new Set<number>();
  while (start < tokens.length) {
    audParser.startParse(tokens.slice(start), (declaration) => builder.convertDeclaration(declaration));
    const cst = audParser.file();
    const errors = audParser.errors as IRecognitionException[];
    builder.appendTo(file, cst);
    let resumeAt = -1;
    for (const e of errors) {
      const d = toDiagnostic(path, text, e);
      if (reported.has(d.span.offset)) continue;
      reported.add(d.span.offset);
      diagnostics.push(d);
      // Resume only if Chevrotain's own recovery did not already go on past the error.
      const parsedTo = cst?.location?.endOffset ?? -1;
      if (isTopLevelStop(e) && !(parsedTo >= e.token.startOffset)) {
        const at = tokens.indexOf(e.token, start);
        resumeAt = at < 0 ? tokens.length : at;
      }
    }
    if (resumeAt < 0) break;
    // Skip to the next declaration keyword after the offending token.
    let next = resumeAt + 1;
    while (next < tokens.length && !startsDeclaration(tokens[next]!)) next++;
    start = next;
  }
  diagnostics.push(...builder.diagnostics);
  return { file, diagnostics };
}

function toDiagnostic(path: string, text: string, e: IRecognitionException): Diagnostic {
  const ruleStack = e.context?.ruleStack ?? [];
  const rule = ruleStack[ruleStack.length - 1] ?? 'file';
  const token = e.token;
  const span = spanAt(path, text, token);
  const found = describe(token);
  let message: string;
  let suggestion: string | undefined;
  switch (isTopLevelStop(e) ? 'top' : e.name) {
    case 'MismatchedTokenException': {
      // Chevrotain names the expected token by its label between --> and <--.
      const expected = /-->\s*(.+?)\s*<--/.exec(e.message)?.[1] ?? 'something else';
      message = `expected ${expected} but found ${found}`;
      if (rule === 'audienceDecl' && expected === '"}"') suggestion = 'an audience holds one expression: join conditions with "and" or "or"';
      break;
    }
    case 'top':
      message = `expected ${RULE_WHAT.file} but found ${found}`;
      if (token?.tokenType === T.Identifier) {
        const near = closest(token.image, DECLARATION_WORDS);
        if (near) suggestion = `did you mean "${near}"?`;
      }
      break;
    case 'NoViableAltException':
    case 'EarlyExitException':
    default:
      message = `expected ${RULE_WHAT[rule] ?? 'something else'} but found ${found}`;
      break;
  }
  const d: Diagnostic = { code: 'syntax', message, span };
  if (suggestion) d.suggestion = suggestion;
  return d;
}
