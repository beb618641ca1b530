/**
 * The formatter (dsl/format.ts) and `aud fmt`: one canonical layout, the same
 * after a second pass, the same tree as its input, every comment kept — on
 * every example and on fuzzed copies of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatRuleText, layoutFreeTree } from '../../dsl/format.js';
import * as T from '../../dsl/lexer.js';
import { prng } from '../../examples/retail/generate.js';
import { parseRuleFile } from '../../dsl/parse.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(repo, 'dist/cli/aud.js');

const examples = readdirSync(join(repo, 'examples'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) => readdirSync(join(repo, 'examples', d.name)).filter((f) => f.endsWith('.aud')).map((f) => `examples/${d.name}/${f}`));

function format(text: string): string {
  const r = formatRuleText('t.aud', text);
  assert.ok(r.ok, r.ok ? '' : r.diagnostics.map((d) => d.message).join('\n'));
  return r.text;
}

/** Every comment of a text, in order, without trailing spaces. */
function comments(text: string): string[] {
  return (T.auLexer.tokenize(text).groups[T.COMMENT_GROUP] ?? []).map((c) => c.image.trimEnd());
}

function tree(text: string): string {
  const r = parseRuleFile('t.aud', text);
  assert.deepEqual(r.diagnostics.filter((d) => d.code === 'syntax' || d.code === 'lex'), []);
  return layoutFreeTree(r.file);
}

/** The invariants every formatted text keeps. */
function assertFormatsWell(text: string, label: string): string {
  const once = format(text);
  assert.equal(format(once), once, `${label}: a second pass changes nothing`);
  assert.equal(tree(once), tree(text), `${label}: the same tree`);
  assert.deepEqual(comments(once), comments(text), `${label}: every comment kept, in order`);
  return once;
}

test('the canonical layout of a messy file, exactly', () => {
  const messy = [
    '// head comment',
    'source "t" {   key k   type   ty',
    'format json }',
    'output "o"',
    'event   purchase {amount:number,sku:string}',
    'event   page_view{url:string}',
    'event profile { tier: string,',
    '  country: string // where they live',
    '}',
    'trait   a=count(purchase)over 30   days   // trailing',
    'score s = logistic( -2.0+0.05*days_since(last(purchase))',
    '-0.3*a )',
    '',
    '',
    '',
    'audience   x "d" { a>=1 and',
    'count(purchase where amount>-5 and sku in ("a","b"))over 2w>=1 or in y }',
    'audience y{ page_view then not purchase where amount > 1 within 1   hour }',
    '/* the',
    '   end */',
  ].join('\n');
  assert.equal(assertFormatsWell(messy, 'messy'), [
    '// head comment',
    'source "t" {',
    '  key    k',
    '  type   ty',
    '  format json',
    '}',
    'output "o"',
    'event purchase  { amount: number, sku: string }',
    'event page_view { url: string }',
    'event profile {',
    '  tier: string,',
    '  country: string // where they live',
    '}',
    'trait a = count(purchase) over 30 days // trailing',
    'score s = logistic(-2.0 + 0.05 * days_since(last(purchase))',
    '    - 0.3 * a)',
    '',
    'audience x "d" {',
    '  a >= 1 and',
    '  count(purchase where amount > -5 and sku in ("a", "b")) over 2w >= 1 or in y',
    '}',
    'audience y {',
    '  page_view then not purchase where amount > 1 within 1 hour',
    '}',
    '/* the',
    '   end */',
    '',
  ].join('\n'));
});

test('trailing comments and one-line declarations line up over consecutive lines only', () => {
  const text = 'trait a = count(x) // one\ntrait long_name = count(x) // two\n\ntrait b = count(x) // three\n';
  assert.equal(format(text),
    'trait a         = count(x) // one\ntrait long_name = count(x) // two\n\ntrait b = count(x) // three\n');
});

test('a source\'s identity clause stays on one line, however it was broken, and the other clauses line up after it', () => {
  const text = 'source "s" {\n  identity user_id,\n email   limit 3,\n   anon\n block "", "0"\n  type t time ts }\n';
  assert.equal(format(text),
    'source "s" {\n  identity user_id, email limit 3, anon block "", "0"\n  type     t\n  time     ts\n}\n');
});

test('a file with a syntax error is not formatted: its errors come back instead', () => {
  const r = formatRuleText('bad.aud', 'audience a { count(purchase) >= }\n');
  assert.equal(r.ok, false);
  assert.deepEqual(r.ok ? [] : r.diagnostics.map((d) => `${d.span.line}:${d.span.column} ${d.message}`),
    ['1:33 expected an expression but found "}"']);
});

for (const path of examples) {
  test(`${path}: formatting is idempotent, keeps the tree and every comment`, () => {
    assertFormatsWell(readFileSync(join(repo, path), 'utf8'), path);
  });
}

/** The text with random whitespace and comments put between its tokens (seeded, so a failure can be replayed). */
function fuzz(text: string, seed: number): string {
  const next = prng(seed);
  const lexed = T.auLexer.tokenize(text);
  const cuts = [...lexed.tokens, ...(lexed.groups[T.COMMENT_GROUP] ?? [])].map((t) => t.endOffset! + 1).sort((a, b) => a - b);
  const fillers = [' ', '   ', '\t', '\n', '\n\n\n', '\r\n', ' /* fuzz */ ', '\n/* fuzz\n  block */\n', ' // fuzz line\n', '\n// fuzz own line\n'];
  let out = '';
  let from = 0;
  for (const cut of cuts) {
    out += text.slice(from, cut);
    from = cut;
    if (next() < 0.3) out += fillers[Math.floor(next() * fillers.length)]!;
  }
  return out + text.slice(from);
}

for (const path of examples) {
  test(`${path}: 40 fuzzed copies format idempotently, to the same tree, with every comment`, () => {
    const text = readFileSync(join(repo, path), 'utf8');
    for (let seed = 1; seed <= 40; seed++) {
      const fuzzed = fuzz(text, seed);
      assert.equal(tree(fuzzed), tree(text), `seed ${seed}: the fuzzing itself kept the tree`);
      assertFormatsWell(fuzzed, `${path} seed ${seed}`);
    }
  });
}

function aud(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: repo, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('aud fmt --check exits 1 naming each unformatted file and writes nothing; aud fmt rewrites it; then --check passes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aud-fmt-'));
  const messy = join(dir, 'messy.aud');
  const clean = join(dir, 'clean.aud');
  const before = 'event purchase {amount:number}\naudience a{count(purchase)>=1}\n';
  writeFileSync(messy, before);
  writeFileSync(clean, 'event purchase { amount: number }\n');
  let r = aud('fmt', '--check', clean, messy);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `${messy}: not formatted (aud fmt ${messy} rewrites it)\n`);
  assert.equal(readFileSync(messy, 'utf8'), before);

  r = aud('fmt', clean, messy);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `formatted ${messy}\n`);
  assert.equal(readFileSync(messy, 'utf8'), 'event purchase { amount: number }\naudience a {\n  count(purchase) >= 1\n}\n');

  r = aud('fmt', '--check', clean, messy);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
});

test('aud fmt leaves a file with a syntax error untouched and exits 1 with the error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aud-fmt-'));
  const bad = join(dir, 'bad.aud');
  const text = 'audiance a { true }\n';
  writeFileSync(bad, text);
  const r = aud('fmt', bad);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`^${bad}:1:1: expected a declaration .* but found "audiance"; did you mean "audience"\\?`));
  assert.match(r.stderr, new RegExp(`${bad}: not formatted: it has syntax errors\\n$`));
  assert.equal(readFileSync(bad, 'utf8'), text);
});

test('the example rule files are in the canonical layout (aud fmt --check passes on them)', () => {
  const files = ['examples/retail/retail.aud', 'examples/telco/telco.aud', 'examples/thresholds/thresholds.aud'];
  const r = aud('fmt', '--check', ...files);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

test('offers and decisions: one clause a line, the values lined up, comments kept; the spec\'s one-line offer opens up', () => {
  const spec = [
    'offer winback "20% win-back coupon" {',
    '  eligible in lapsed_vip and not in cart_abandoner',
    '  score    0.6 * churn + 0.4 * min(lifetime_value / 10000, 1)',
    '  cap      1 per 7 days',
    '}',
    'offer cart_reminder { eligible in cart_abandoner  score 0.5 }',
    '',
    'decision next_offer "The one offer for the home page and e-mail" {',
    '  offers  winback, cart_reminder',
    '  cap     3 per 7 days                          // all offers of this decision together',
    '  deliver between 09:00 and 20:00 in "Europe/Oslo"   // optional',
    '}',
    '',
  ].join('\n');
  const formatted = format(spec);
  assert.equal(formatted, [
    'offer winback "20% win-back coupon" {',
    '  eligible in lapsed_vip and not in cart_abandoner',
    '  score    0.6 * churn + 0.4 * min(lifetime_value / 10000, 1)',
    '  cap      1 per 7 days',
    '}',
    'offer cart_reminder {',
    '  eligible in cart_abandoner',
    '  score    0.5',
    '}',
    '',
    'decision next_offer "The one offer for the home page and e-mail" {',
    '  offers  winback, cart_reminder',
    '  cap     3 per 7 days                             // all offers of this decision together',
    '  deliver between 09:00 and 20:00 in "Europe/Oslo" // optional',
    '}',
    '',
  ].join('\n'));
  assert.equal(format(formatted), formatted);
  assert.equal(format('offer a{eligible count(buy)>=1 score 1 cap 1 per 1 day}\ndecision d{offers a deliver between 9:00 and 20:00 in tz default "UTC"}\n'), [
    'offer a {', '  eligible count(buy) >= 1', '  score    1', '  cap      1 per 1 day', '}',
    'decision d {', '  offers  a', '  deliver between 9:00 and 20:00 in tz default "UTC"', '}', '',
  ].join('\n'));
});
