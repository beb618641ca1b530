/**
 * Parsing a large file as you type, one declaration at a time.
 *
 * A keystroke changes one declaration; re-parsing the whole file each time
 * is what makes diagnostics slow on a file of a thousand audiences. So the
 * text is cut before each declaration keyword (`source`, `output`, `event`,
 * `trait`, `score`, `audience`: reserved words that can start nothing else)
 * and before the names `offer` and `decision` followed by a name (should
 * such a pair stand inside an expression, the piece before it fails to
 * parse, and the rule below for a broken piece makes the result right),
 * each piece is parsed alone and cached by its text, and the pieces' trees
 * are moved to where they stand in the file and joined.
 *
 * The joined pieces must equal the whole file's parse, diagnostics included,
 * so the server always says what `aud check` says:
 * - a piece that parses cleanly ends where the parser, reading the whole
 *   file, is back at the top level, so it parses the same alone;
 * - from the first piece with a syntax error on, the parser's recovery may
 *   reach into the pieces after it, so that rest of the file is parsed in
 *   one go, as the whole file's parse would read it from there;
 * - a lexical error anywhere, or a second source block (reported by the
 *   parse of a file as a whole), makes it parse the whole file.
 */
import type { RuleFile } from '../dsl/ast.js';
import type { Diagnostic, Span } from '../dsl/diagnostics.js';
import * as T from '../dsl/lexer.js';
import { parseRuleFile } from '../dsl/parse.js';

type Parsed = { file: RuleFile; diagnostics: Diagnostic[] };

const DECLARATION_TOKENS = [T.Source, T.Output, T.Event, T.Trait, T.Score, T.Audience];

export class DeclarationCache {
  /** Each piece's parse at the start of a file (line 1, column 1, offset 0), by its text. */
  private pieces = new Map<string, Parsed>();

  parse(path: string, text: string): Parsed {
    const lexed = T.auLexer.tokenize(text);
    if (lexed.errors.length > 0) return parseRuleFile(path, text);
    const tokens = lexed.tokens;
    const starts = tokens.filter((t, i) => DECLARATION_TOKENS.includes(t.tokenType)
      || (t.tokenType === T.Identifier && (t.image === 'offer' || t.image === 'decision') && tokens[i + 1]?.tokenType === T.Identifier));
    if (starts.filter((t) => t.tokenType === T.Source).length > 1) return parseRuleFile(path, text);
    const used = new Map<string, Parsed>();
    const file: RuleFile = { path, outputs: [], events: [], traits: [], audiences: [], offers: [], decisions: [] };
    const diagnostics: Diagnostic[] = [];
    for (let i = 0; i < Math.max(1, starts.length); i++) {
      // The first piece also holds whatever comes before the first declaration.
      const from = i === 0 ? 0 : starts[i]!.startOffset;
      const to = i + 1 < starts.length ? starts[i + 1]!.startOffset : text.length;
      const piece = text.slice(from, to);
      const parsed = used.get(piece) ?? this.pieces.get(piece) ?? parseRuleFile(path, piece);
      used.set(piece, parsed);
      const broken = parsed.diagnostics.some((d) => d.code === 'lex' || d.code === 'syntax');
      const at = i === 0 ? { line: 1, column: 1, offset: 0 } : { line: starts[i]!.startLine!, column: starts[i]!.startColumn!, offset: from };
      // The rest of the file, behind the text before it blanked out (same
      // length, same line breaks): its spans come out where they stand.
      const moved = broken ? parseRuleFile(path, text.slice(0, from).replace(/[^\r\n]/g, ' ') + text.slice(from)) : moveTo(parsed, at);
      if (moved.file.source) file.source = moved.file.source;
      file.outputs.push(...moved.file.outputs);
      file.events.push(...moved.file.events);
      file.traits.push(...moved.file.traits);
      file.audiences.push(...moved.file.audiences);
      file.offers.push(...moved.file.offers);
      file.decisions.push(...moved.file.decisions);
      diagnostics.push(...moved.diagnostics);
      if (broken) {
        // Keep the pieces after the error for when it is fixed; the next clean parse drops what is unused.
        for (const [k, v] of used) this.pieces.set(k, v);
        return { file, diagnostics };
      }
    }
    this.pieces = used;
    return { file, diagnostics };
  }
}

/** A copy of a piece's parse with every span moved from the start of a file to `at`. */
function moveTo(parsed: Parsed, at: { line: number; column: number; offset: number }): Parsed {
  const lines = at.line - 1;
  const columns = at.column - 1;
  const move = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(move);
    if (value === null || typeof value !== 'object') return value;
    const o = value as Record<string, unknown>;
    if (typeof o.offset === 'number' && typeof o.endOffset === 'number' && typeof o.line === 'number') {
      const s = o as unknown as Span;
      return {
        file: s.file, line: s.line + lines, column: s.line === 1 ? s.column + columns : s.column,
        endLine: s.endLine + lines, endColumn: s.endLine === 1 ? s.endColumn + columns : s.endColumn,
        offset: s.offset + at.offset, endOffset: s.endOffset + at.offset,
      } satisfies Span;
    }
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) copy[k] = move(v);
    return copy;
  };
  return at.offset === 0 ? parsed : move(parsed) as Parsed;
}
