import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkRuleFiles } from '../../dsl/checker/check.js';
import { compileSources } from '../../dsl/compile.js';
import { parseRuleFile } from '../../dsl/parse.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const retail = readFileSync(join(repo, 'examples/retail/retail.aud'), 'utf8');

const DECLS = [
  'event purchase  { amount: number, channel: string, at: time }',
  'event page_view { url: string, brand: string }',
  'event login     { }',
  'trait spend = sum(purchase.amount)',
  'audience vip { spend >= 100 }',
].join('\n') + '\n';

/** Diagnostics of DECLS + `extra` as "line:col code message / suggestion"; lines of `extra` start at 6. */
function check(extra: string): string[] {
  const parsed = parseRuleFile('t.aud', DECLS + extra);
  assert.deepEqual(parsed.diagnostics, [], 'the test text parses');
  return checkRuleFiles([parsed.file]).diagnostics
    .sort((a, b) => a.span.offset - b.span.offset)
    .map((d) => `${d.span.line}:${d.span.column} ${d.code} ${d.message}${d.suggestion ? ' / ' + d.suggestion : ''}`);
}

test('the spec example checks clean, with the trait types it implies', () => {
  const parsed = parseRuleFile('retail.aud', retail);
  const result = checkRuleFiles([parsed.file]);
  assert.deepEqual(result.diagnostics, []);
  assert.deepEqual(Object.fromEntries(result.traitTypes), {
    tier: 'string', lifetime_value: 'number', orders_90d: 'number', top_category: 'string', churn: 'number',
  });
});

test('unknown event, with a suggestion', () => {
  assert.deepEqual(check('audience a { count(purchse) over 30 days >= 2 }'),
    ['6:20 unknown-event unknown event "purchse" / did you mean "purchase"?']);
});

test('unknown field, trait and audience', () => {
  assert.deepEqual(check('audience a { sum(purchase.amout) > 1 }'),
    ['6:27 unknown-field unknown field "amout" of event purchase / did you mean "amount"?']);
  assert.deepEqual(check('audience a { spnd > 1 }'),
    ['6:14 unknown-name unknown name "spnd": no trait or score has it / did you mean "spend"?']);
  assert.deepEqual(check('audience a { in vpi }'),
    ['6:17 unknown-audience unknown audience "vpi" / did you mean "vip"?']);
  assert.deepEqual(check('audience a { vip }'),
    ['6:14 unknown-name "vip" is an audience, not a value / write "in vip" to test membership']);
});

test('type mismatches: sum of a string field, a string compared with a number', () => {
  assert.deepEqual(check('audience a { sum(page_view.url) > 1 }'),
    ['6:28 type-mismatch sum() needs a number field, but page_view.url is a string / to count them, use count(page_view)']);
  assert.deepEqual(check('audience a { "a" > 3 }'),
    ['6:14 type-mismatch cannot compare a string with a number using ">"']);
});

test('a duration where a number is expected', () => {
  assert.deepEqual(check('audience a { count(purchase) > 3 days }'),
    ['6:14 type-mismatch cannot compare a number with a duration: a duration where a number is expected: write a plain number']);
});

test('audience cycle, reported once with its path', () => {
  assert.deepEqual(check('audience a { in b }\naudience b { in a }'),
    ['6:10 audience-cycle audience cycle: a → b → a / an audience cannot depend on itself through "in"']);
});

test('trait cycle', () => {
  const got = check('trait x = y + 1\ntrait y = x * 2\naudience a { x > 1 }');
  assert.equal(got.length, 1);
  assert.match(got[0]!, /trait-cycle trait cycle: (x → y → x|y → x → y)/);
});

test('duplicate names, pointing at the second', () => {
  assert.deepEqual(check('audience vip { spend > 1 }'),
    ['6:10 duplicate-name "vip" is already declared as an audience (t.aud:5); traits, scores, audiences, offers and decisions share one namespace']);
});

test('a where that refers to another event\'s field', () => {
  assert.deepEqual(check('audience a { count(purchase where page_view.brand == "Acme") > 1 }'),
    ['6:35 foreign-field "page_view.brand" is a field of page_view, but this where filters purchase events / refer to fields of purchase only']);
});

test('now() only in a comparison with a time', () => {
  assert.deepEqual(check('audience a { last(login) < now() - 30 days }'), []);
  assert.deepEqual(check('audience a { days_since(now()) > 3 }'),
    ['6:25 time-dependent now() may only be compared with a time, e.g. last(login) < now() - 30 days / for a number of days, hours or minutes use days_since(t), hours_since(t) or minutes_since(t)']);
});

test('every accepted form of the spec yields no diagnostic', () => {
  const ok = [
    'audience a { count(purchase where amount > 100) over 30 days >= 1 }',
    'audience a { avg(purchase.amount) > 1 and min(purchase.amount) < 5 and max(purchase.at) > @2026-01-01T00:00:00Z }',
    'audience a { distinct(page_view.brand) over 7 days >= 2 and top(page_view.brand) == "Acme" }',
    'audience a { first(purchase.channel) == "web" and last(purchase) > first(login) }',
    'audience a { count(page_view where url starts_with "/sale" or url contains "x" or url ends_with "y") >= 1 }',
    'audience a { count(page_view where page_view.brand in ("Acme", "Zest")) >= 1 }',
    'audience a { logistic(exp(1) + ln(2) + abs(-3)) > min(0.1, 0.2) and coalesce(spend, 0) >= max(1, 2) }',
    'audience a { days_since(last(purchase)) >= 60 or hours_since(last(login)) < 2 or minutes_since(first(login)) > 5 }',
    'audience a { page_view then purchase within 1 hour }',
    'audience a { page_view where brand == "Acme" then not purchase where amount > 5 within 1 hour }',
    'audience a { sequence(page_view, login, purchase) within 7 days }',
    'audience a { (page_view then purchase within 1 hour) over 30 days }',
    'audience a { in vip and not in vip2 }\naudience vip2 { spend > 1000 }',
    'score s = 0.5 * spend - 1\naudience a { s > 0.7 }',
  ];
  for (const text of ok) assert.deepEqual(check(text), [], text);
});

test('a threshold on distinct past the values it keeps is refused at the number, and one within them checks', () => {
  const msg = (n: number) => `beyond-bound distinct reads at most 1000 (it keeps the 1000 most recently seen values per customer), so comparing it with ${n} cannot tell whether a customer has more / compare with a number up to 1000, e.g. ">= 1000"`;
  assert.deepEqual(check([
    'audience a { distinct(page_view.url) over 30 days >= 1000 }',
    'audience b { distinct(page_view.url) over 30 days > 1000 }',
    'audience c { 5000 <= distinct(page_view.url) }',
    'audience d { distinct(page_view.url) < 1001 }',
    'audience e { distinct(page_view.url) == 999 }',
  ].join('\n')), [`7:53 ${msg(1000)}`, `8:14 ${msg(5000)}`, `9:40 ${msg(1001)}`]);
});

test('five different errors are all reported, with no cascade from an unknown event', () => {
  const got = check([
    'audience a { count(purchse) > 1 and sum(purchse.amount) > 2 }',
    'audience b { "x" > 1 }',
    'audience c { in nobody }',
    'audience d { count(purchase where brand == "x") > 1 }',
    'audience e { spend }',
  ].join('\n'));
  assert.deepEqual(got.map((g) => g.split(' ').slice(0, 2).join(' ')), [
    '6:20 unknown-event', '6:41 unknown-event', '7:14 type-mismatch', '8:17 unknown-audience', '9:35 unknown-field', '10:14 type-mismatch',
  ]);
});

test('never throws on the partial trees of 1000 mutated files', () => {
  let seed = 7;
  const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  for (let i = 0; i < 1000; i++) {
    let text = retail;
    for (let k = 0; k < 3; k++) {
      const at = Math.floor(rand() * text.length);
      text = rand() < 0.5 ? text.slice(0, at) + text.slice(at + 1 + Math.floor(rand() * 8)) : text.slice(0, at) + ' x' + text.slice(at);
    }
    const parsed = parseRuleFile('m.aud', text);
    assert.doesNotThrow(() => checkRuleFiles([parsed.file]), `mutation ${i}`);
  }
});

test('parser and checker never throw on random input: token soup and arbitrary characters', () => {
  let seed = 99;
  const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const words = ['source', 'output', 'event', 'trait', 'score', 'audience', 'over', 'where', 'then', 'not', 'within', 'and', 'or', 'in',
    'true', 'false', 'null', 'sequence', 'contains', 'starts_with', 'count', 'sum', 'last', 'now', 'days_since', 'purchase', 'amount',
    'x', '{', '}', '(', ')', ',', '.', ':', '=', '==', '<', '>=', '+', '-', '*', '/', '"s"', '"', '30 days', '2w', '1', '0.5', '@2026-01-01T00:00:00Z', '@x', '\n', '//c\n', '/*', '*/', '#', 'é'];
  for (let i = 0; i < 1500; i++) {
    const n = Math.floor(rand() * 40);
    const text = i % 3 === 2
      ? Array.from({ length: n * 3 }, () => String.fromCharCode(Math.floor(rand() * 0x2FF))).join('')
      : Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]).join(' ');
    const parsed = parseRuleFile('r.aud', text);
    const lines = text.split(/\r\n|\r|\n/).length;
    for (const d of parsed.diagnostics) {
      assert.ok(d.span.line >= 1 && d.span.line <= lines && d.span.column >= 1, `position of "${d.message}" in input ${i}`);
    }
    assert.doesNotThrow(() => checkRuleFiles([parsed.file]), `input ${i}: ${JSON.stringify(text)}`);
  }
});

test('identity: the spec\'s clause checks clean and plans its limits and blocked values; its misuses are errors with a fix', () => {
  const ok = 'source "web.events" {\n  identity user_id, email limit 5, anonymous_id block "", "0", "anonymous", "null"\n  type type\n  time ts\n}\n';
  assert.deepEqual(check(ok), []);
  const plan = compileSources(new Map([['t.aud', DECLS + ok]])).plan!;
  assert.deepEqual(plan.source.identity, {
    fields: [{ name: 'user_id', limit: 1 }, { name: 'email', limit: 5 }, { name: 'anonymous_id', limit: null }],
    block: ['', '0', 'anonymous', 'null'],
  });
  assert.equal(plan.source.keyField, undefined);
  assert.deepEqual(check('source "s" {\n  key user_id\n  identity user_id, url, at limit 0, url, ts block "x", "x"\n}\n'), [
    '7:7 bad-declaration a source has either key or identity, not both: key "user_id" names one customer field, identity lists a customer\'s identifier fields / remove "key user_id"',
    '8:26 type-mismatch identifier field "at" is declared as time in event purchase (t.aud:1); identifiers are strings / declare it as "at: string" (numbers in records are read as their decimal text)',
    '8:35 bad-declaration limit 0 on "at": a limit is a whole number of values of at least 1 / write e.g. "at limit 5", or no limit for any number',
    '8:38 duplicate-name identity lists "url" twice / keep it once, where its trust puts it (most trusted first)',
    '8:43 bad-declaration "ts" is the source\'s time field and cannot identify a customer / list the fields that hold customer identifiers (user id, e-mail, device or cookie id)',
    '8:57 duplicate-name block lists "x" twice / keep it once',
  ]);
});
