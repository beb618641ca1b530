import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CstNode } from 'chevrotain';
import type { Expr } from '../../dsl/ast.js';
import { auLexer } from '../../dsl/lexer.js';
import { parseRuleFile } from '../../dsl/parse.js';
import { audParser } from '../../dsl/parser.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const retail = readFileSync(join(repo, 'examples/retail/retail.aud'), 'utf8');

/** The expression of a one-audience file. */
function expr(body: string, decls = 'event purchase { amount: number, channel: string }\nevent page_view { url: string, brand: string }\n'): Expr {
  const r = parseRuleFile('t.aud', `${decls}audience a { ${body} }`);
  assert.deepEqual(r.diagnostics, [], `no diagnostics for: ${body}`);
  return r.file.audiences[0]!.expr;
}

/** A compact text of an expression tree, to assert structure and precedence. */
function shape(e: Expr): string {
  switch (e.kind) {
    case 'number': return String(e.value);
    case 'string': return JSON.stringify(e.value);
    case 'bool': return String(e.value);
    case 'null': return 'null';
    case 'duration': return `${e.ms}ms`;
    case 'time': return `@${e.ms}`;
    case 'name': return e.name.name;
    case 'field': return `${e.event.name}.${e.field.name}`;
    case 'binary': return `(${shape(e.left)} ${e.op} ${shape(e.right)})`;
    case 'unary': return `(${e.op} ${shape(e.operand)})`;
    case 'in-list': return `(${shape(e.operand)} in [${e.values.map(shape).join(', ')}])`;
    case 'in-audience': return `in:${e.audience.name}`;
    case 'call': return `${e.fn.name}(${e.args.map(shape).join(', ')})`;
    case 'aggregate': return `${e.fn}<${e.event.name}${e.field ? '.' + e.field.name : ''}${e.where ? ' | ' + shape(e.where) : ''}>`;
    case 'then': return `{${e.first.event.name}${e.first.where ? ' | ' + shape(e.first.where) : ''} then${e.negated ? ' not' : ''} ${e.second.event.name}${e.second.where ? ' | ' + shape(e.second.where) : ''} within ${e.within.ms}}`;
    case 'sequence': return `seq{${e.steps.map((s) => s.event.name + (s.where ? ' | ' + shape(s.where) : '')).join(', ')} within ${e.within.ms}}`;
    case 'over': return `[${shape(e.operand)} over ${e.window.ms}]`;
  }
}

const H = 3_600_000;
const D = 24 * H;

test('the spec example parses with no diagnostic and the declarations it states', () => {
  const r = parseRuleFile('retail.aud', retail);
  assert.deepEqual(r.diagnostics, []);
  const f = r.file;
  assert.equal(f.source?.topic, 'retail.events');
  assert.deepEqual([f.source?.key?.name, f.source?.type?.name, f.source?.time?.name, f.source?.format?.name], ['customer_id', 'type', 'ts', 'json']);
  assert.deepEqual(f.outputs.map((o) => o.topic), ['retail.segments']);
  assert.deepEqual(f.events.map((e) => `${e.name.name}/${e.fields.length}`), ['purchase/4', 'page_view/2', 'add_to_cart/1', 'login/0', 'profile_update/3']);
  assert.deepEqual(f.traits.map((t) => `${t.kind} ${t.name.name}`), ['trait tier', 'trait lifetime_value', 'trait orders_90d', 'trait top_category', 'score churn']);
  assert.deepEqual(f.audiences.map((a) => a.name.name), ['vip', 'brand_lover', 'store_only', 'lapsed_vip', 'cart_abandoner', 'browsed_then_bought', 'gold_opted_in', 'churn_risk']);
  const vip = f.audiences[0]!;
  assert.equal(vip.description, 'High-value repeat buyers');
  assert.equal(shape(vip.expr), `(([sum<purchase.amount> over ${365 * D}] >= 10000) and ([count<purchase> over ${90 * D}] >= 3))`);
  assert.equal(shape(f.audiences[4]!.expr), `{add_to_cart then not purchase within ${H}}`);
  assert.equal(shape(f.audiences[5]!.expr), `seq{page_view, add_to_cart, purchase within ${7 * D}}`);
  // `over` binds to count(purchase) only, inside the logistic's argument.
  assert.equal(shape(f.traits[4]!.expr),
    `logistic((((- 2) + (0.05 * days_since(last<purchase>))) - (0.3 * [count<purchase> over ${90 * D}])))`);
});

test('durations in every form', () => {
  const forms: [string, number][] = [['30 days', 30 * D], ['1 day', D], ['12 hours', 12 * H], ['1 hour', H], ['15 minutes', 15 * 60_000],
    ['45 seconds', 45_000], ['2 weeks', 14 * D], ['30d', 30 * D], ['12h', 12 * H], ['15m', 15 * 60_000], ['45s', 45_000], ['2w', 14 * D]];
  for (const [text, ms] of forms) {
    assert.equal(shape(expr(`count(purchase) over ${text} >= 1`)), `([count<purchase> over ${ms}] >= 1)`, text);
  }
});

test('precedence: or < and < not < comparison < + < * < unary minus < over', () => {
  assert.equal(shape(expr('1 + 2 * 3 > 4 or not 1 == 2 and true')), '(((1 + (2 * 3)) > 4) or ((not (1 == 2)) and true))');
  assert.equal(shape(expr('-count(purchase) over 1 day < 0')), `((- [count<purchase> over ${D}]) < 0)`);
  assert.equal(shape(expr('(1 + 2) * 3 == 9')), '(((1 + 2) * 3) == 9)');
});

test('filters, lists, string tests, membership and functions', () => {
  assert.equal(shape(expr('count(page_view where brand == "Acme" and url starts_with "/sale") over 30 days >= 5')),
    `([count<page_view | ((brand == "Acme") and (url starts_with "/sale"))> over ${30 * D}] >= 5)`);
  assert.equal(shape(expr('count(purchase where purchase.channel in ("web", "app")) >= 1')), '(count<purchase | (purchase.channel in ["web", "app"])> >= 1)');
  assert.equal(shape(expr('in vip and not in lapsed')), '(in:vip and (not in:lapsed))');
  assert.equal(shape(expr('min(1, 2) < max(3, 4)')), '(min(1, 2) < max(3, 4))');
  assert.equal(shape(expr('min(purchase.amount) > 3')), '(min<purchase.amount> > 3)');
  assert.equal(shape(expr('last(purchase) < now() - 30 days')), `(last<purchase> < (now() - ${30 * D}ms))`);
  assert.equal(shape(expr('last(purchase) > @2026-01-31T00:00:00Z')), `(last<purchase> > @${Date.parse('2026-01-31T00:00:00Z')})`);
  assert.equal(shape(expr('coalesce(last(purchase.channel), null) != "store"')), '(coalesce(last<purchase.channel>, null) != "store")');
});

test('sequences with step filters and a window on a then', () => {
  assert.equal(shape(expr('sequence(page_view where brand == "Acme", purchase where amount > 50) within 2 days')),
    `seq{page_view | (brand == "Acme"), purchase | (amount > 50) within ${2 * D}}`);
  assert.equal(shape(expr('(page_view then purchase within 1 hour) over 30 days')), `[{page_view then purchase within ${H}} over ${30 * D}]`);
  // A filter never swallows the `then`: the step is `page_view where not brand == "x"`.
  assert.equal(shape(expr('page_view where not brand == "x" then not purchase within 1 hour')),
    `{page_view | (not (brand == "x")) then not purchase within ${H}}`);
  assert.equal(shape(expr('page_view where brand == "Acme" then not purchase within 1 hour and in vip')),
    `({page_view | (brand == "Acme") then not purchase within ${H}} and in:vip)`);
});

test('syntax errors: exact positions, every error of the file, keyword suggestions', () => {
  const text = [
    'event purchase { amount: number }',           // 1
    'audiance vip { count(purchase) > 3 }',         // 2: misspelt keyword
    'audience a { count(purchase) > }',             // 3: missing operand
    'audience b { sum(purchase.amount) >= 10',      // 4: missing }
    'audience c { count(purchase) >= 1 }',          // 5
  ].join('\n');
  const r = parseRuleFile('bad.aud', text);
  const got = r.diagnostics.map((d) => `${d.span.line}:${d.span.column} ${d.message}${d.suggestion ? ' / ' + d.suggestion : ''}`);
  assert.deepEqual(got, [
    '2:1 expected a declaration (source, output, event, trait, score, audience, offer or decision) but found "audiance" / did you mean "audience"?',
    '3:32 expected an expression but found "}"',
    '5:1 expected "}" but found "audience" / an audience holds one expression: join conditions with "and" or "or"',
  ]);
  assert.deepEqual(r.file.audiences.map((a) => a.name.name), ['a', 'b', 'c'], 'declarations after errors are still parsed');
});

test('lexical errors: unterminated string, stray character', () => {
  const r = parseRuleFile('x.aud', 'event e { }\naudience a { count(e) > 1 # }\naudience b { "open }');
  const got = r.diagnostics.filter((d) => d.code === 'lex').map((d) => `${d.span.line}:${d.span.column} ${d.message}`);
  assert.deepEqual(got, ['2:27 unexpected character "#"', '3:14 unterminated string: add the closing "']);
});

test('never throws: 2000 random mutations of the spec example', () => {
  let seed = 42;
  const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const alphabet = '{}()",.=<>!+-*/ \nabcxyz0123456789@_';
  for (let i = 0; i < 2000; i++) {
    let text = retail;
    const edits = 1 + Math.floor(rand() * 5);
    for (let k = 0; k < edits; k++) {
      const at = Math.floor(rand() * text.length);
      const op = rand();
      if (op < 0.4) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(rand() * 10));
      else if (op < 0.8) text = text.slice(0, at) + alphabet[Math.floor(rand() * alphabet.length)] + text.slice(at);
      else text = text.slice(0, at);
    }
    const r = parseRuleFile('m.aud', text);
    const lines = text.split('\n').length;
    for (const d of r.diagnostics) {
      assert.ok(d.span.line >= 1 && d.span.line <= lines, `line ${d.span.line} within the text (mutation ${i})`);
      assert.ok(d.span.column >= 1, `column ${d.span.column} (mutation ${i})`);
      assert.ok(d.message.length > 0);
    }
  }
});

test('each declaration goes to the sink once parsed, and the file\'s tree keeps only its location', () => {
  const lexed = auLexer.tokenize('event e { }\naudience a { count(e) >= 1 }\naudience b { count(e) >= 2 }');
  const seen: CstNode[] = [];
  audParser.startParse(lexed.tokens, (declaration) => seen.push(declaration));
  const root = audParser.file();
  assert.deepEqual(seen.map((d) => d.name), ['eventDecl', 'audienceDecl', 'audienceDecl']);
  for (const d of seen) {
    assert.deepEqual(Object.keys(d.children), [], `${d.name}'s subtree is dropped`);
    assert.ok(d.location !== undefined && d.location.startOffset >= 0);
  }
  assert.equal(root.location?.endOffset, lexed.tokens[lexed.tokens.length - 1]!.endOffset);
});
