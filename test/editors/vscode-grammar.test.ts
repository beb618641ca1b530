/**
 * The VS Code extension's TextMate grammar (highlighting only) against the
 * language's own lexer: on every example, each token the lexer finds gets
 * the scope its kind calls for, and every lexer keyword is highlighted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TokenType } from 'chevrotain';
import oniguruma from 'vscode-oniguruma';
import textmate from 'vscode-textmate';
import * as T from '../../dsl/lexer.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const require = createRequire(import.meta.url);
const grammarPath = join(repo, 'editors/vscode/syntaxes/aud.tmLanguage.json');

const examples = readdirSync(join(repo, 'examples'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) => readdirSync(join(repo, 'examples', d.name)).filter((f) => f.endsWith('.aud')).map((f) => `examples/${d.name}/${f}`));

let loaded: Promise<textmate.IGrammar> | undefined;
function loadGrammar(): Promise<textmate.IGrammar> {
  loaded ??= load();
  return loaded;
}

async function load(): Promise<textmate.IGrammar> {
  const wasm = readFileSync(join(dirname(require.resolve('vscode-oniguruma')), 'onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({ createOnigScanner: (p: string[]) => new oniguruma.OnigScanner(p), createOnigString: (s: string) => new oniguruma.OnigString(s) }),
    loadGrammar: async (scope) => (scope === 'source.aud' ? textmate.parseRawGrammar(readFileSync(grammarPath, 'utf8'), grammarPath) : null),
  });
  const grammar = await registry.loadGrammar('source.aud');
  assert.ok(grammar);
  return grammar;
}

/** The innermost scope at every offset of the text. */
function scopesOf(grammar: textmate.IGrammar, text: string): string[] {
  const scopes: string[] = [];
  let stack = textmate.INITIAL;
  for (const line of text.split('\n')) {
    const r = grammar.tokenizeLine(line, stack);
    const lineScopes = new Array<string>(line.length).fill('');
    for (const t of r.tokens) for (let i = t.startIndex; i < Math.min(t.endIndex, line.length); i++) lineScopes[i] = t.scopes[t.scopes.length - 1]!;
    scopes.push(...lineScopes, 'newline');
    stack = r.ruleStack;
  }
  return scopes;
}

/** The scope a lexer token kind must start with. */
function expectedScope(type: TokenType, image: string, next: string | undefined): RegExp | undefined {
  if (type === T.LineComment) return /^comment\.line\.double-slash\.aud$/;
  if (type === T.BlockComment) return /^comment\.block\.aud$/;
  if (type === T.StringLiteral) return /^string\.quoted\.double\.aud$/;
  if (type === T.DurationLiteral) return /^constant\.numeric\.duration\.aud$/;
  if (type === T.NumberLiteral) return /^constant\.numeric\.aud$/;
  if (type === T.TimeLiteral) return /^constant\.other\.time\.aud$/;
  if (type === T.ClockTime) return /^constant\.numeric\.time-of-day\.aud$/;
  // Offers and decisions: their words are names to the lexer, highlighted as declarations and clause words.
  if (type === T.Identifier && (image === 'offer' || image === 'decision')) return /^(storage\.type|variable|entity\.name)\.[a-z.]*aud$/;
  if (type === T.Identifier && ['eligible', 'cap', 'per', 'offers', 'deliver', 'between', 'default'].includes(image)) return /^(keyword\.other\.clause|variable|entity\.name)\.[a-z.]*aud$/;
  if (type === T.True || type === T.False || type === T.Null) return /^constant\.language\.aud$/;
  if (T.KEYWORDS.includes(image)) return /^(storage\.type|keyword)\.[a-z.]*aud$/;
  if (type === T.Identifier && next === '(') return /^(support\.function|entity\.name\.function)\.[a-z.]*aud$/;
  if (type === T.Identifier) return /^(variable|entity\.name|support\.type)\.[a-z.]*aud$/;
  return undefined;
}

for (const path of examples) {
  test(`${path}: every token has the scope of its kind`, async () => {
    const grammar = await loadGrammar();
    const text = readFileSync(join(repo, path), 'utf8');
    const scopes = scopesOf(grammar, text);
    const lexed = T.auLexer.tokenize(text);
    assert.deepEqual(lexed.errors, []);
    const tokens = [...lexed.tokens, ...(lexed.groups[T.COMMENT_GROUP] ?? [])].sort((a, b) => a.startOffset - b.startOffset);
    let checked = 0;
    tokens.forEach((t, i) => {
      const want = expectedScope(t.tokenType, t.image, tokens[i + 1]?.image);
      if (!want) return;
      assert.match(scopes[t.startOffset]!, want, `${path}:${t.startLine}:${t.startColumn} ${JSON.stringify(t.image)}`);
      checked++;
    });
    assert.ok(checked > 50, `${checked} tokens checked`);
  });
}

test('every keyword, the aggregates and a function in one file get their scopes', async () => {
  const grammar = await loadGrammar();
  const line = (s: string) => grammar.tokenizeLine(s, textmate.INITIAL).tokens.map((t) => [s.slice(t.startIndex, t.endIndex), t.scopes[t.scopes.length - 1]]);
  for (const word of T.KEYWORDS) {
    const scope = line(word)[0]![1]!;
    assert.match(scope, /^(storage\.type|keyword|constant\.language)\./, word);
  }
  assert.deepEqual(line('sum(purchase.amount) over 30 days'), [
    ['sum', 'support.function.aggregate.aud'], ['(', 'punctuation.section.parens.aud'], ['purchase', 'variable.other.aud'],
    ['.', 'punctuation.accessor.aud'], ['amount', 'variable.other.aud'], [')', 'punctuation.section.parens.aud'], [' ', 'source.aud'],
    ['over', 'keyword.other.aud'], [' ', 'source.aud'], ['30 days', 'constant.numeric.duration.aud'],
  ]);
  assert.deepEqual(line('offer winback { cap 1 per 7 days }').filter(([, s]) => s !== 'source.aud').map(([w, s]) => `${w} ${s}`), [
    'offer storage.type.offer.aud', 'winback entity.name.function.offer.aud', '{ punctuation.section.braces.aud', 'cap keyword.other.clause.aud',
    '1 constant.numeric.aud', 'per keyword.other.clause.aud', '7 days constant.numeric.duration.aud', '} punctuation.section.braces.aud',
  ]);
  assert.deepEqual(line('  deliver between 09:00 and 20:00 in tz default "Europe/Oslo"').filter(([, s]) => s !== 'source.aud').map(([w, s]) => `${w} ${s}`), [
    'deliver keyword.other.clause.aud', 'between keyword.other.clause.aud', '09:00 constant.numeric.time-of-day.aud', 'and keyword.operator.word.aud',
    '20:00 constant.numeric.time-of-day.aud', 'in keyword.operator.word.aud', 'tz variable.other.aud', 'default keyword.other.clause.aud', '" string.quoted.double.aud', 'Europe/Oslo string.quoted.double.aud', '" string.quoted.double.aud',
  ]);
  assert.deepEqual(line('event login { at: time } // x').filter(([, s]) => s !== 'source.aud').map(([w, s]) => `${w} ${s}`), [
    'event storage.type.event.aud', 'login entity.name.type.event.aud', '{ punctuation.section.braces.aud', 'at variable.other.aud',
    ': punctuation.separator.type.aud', 'time support.type.aud', '} punctuation.section.braces.aud', '// x comment.line.double-slash.aud',
  ]);
});
