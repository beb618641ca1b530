/**
 * The language server and offers and decisions: an offer named in `offers`
 * is a reference of its declaration (definition, references, rename), the
 * names an offer's clauses read are references too, hover shows an offer's
 * and a decision's definition, the outline lists them, and completion offers
 * their clauses, the offers and the zones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRuleFile } from '../../dsl/parse.js';
import { complete } from '../../lsp/completion.js';
import { hover } from '../../lsp/hover.js';
import { RuleSets } from '../../lsp/rule-set.js';
import { indexSymbols, nameKey, occurrencesOf } from '../../lsp/symbol-index.js';
import { documentSymbols } from '../../lsp/symbols.js';

const TEXT = [
  'event buy { amount: number }',
  'event prof { tz: string }',
  'trait tz = last(prof.tz)',
  'audience buyer { count(buy) >= 1 }',
  'offer thanks "A thank-you" {',
  '  eligible in buyer',
  '  score    count(buy)',
  '}',
  'offer welcome { score 0.5 }',
  'decision home { offers thanks, welcome  deliver between 09:00 and 20:00 in tz default "UTC" }',
].join('\n');

test('an offer named in a decision, and the names its clauses read, are references', () => {
  const index = indexSymbols([parseRuleFile('t.aud', TEXT).file]);
  assert.deepEqual(occurrencesOf(index, nameKey('thanks')).map((o) => [o.span.line, o.declaration]), [[5, true], [10, false]]);
  assert.deepEqual(occurrencesOf(index, nameKey('buyer')).map((o) => o.span.line), [4, 6]);
  assert.deepEqual(occurrencesOf(index, nameKey('tz')).map((o) => o.span.line), [3, 10]);
});

test('hover on an offer in a decision shows the offer; on the decision, the decision; the outline lists both', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aud-lsp-offers-'));
  const path = join(dir, 'offers.aud');
  writeFileSync(path, TEXT);
  const analysis = new RuleSets(() => undefined).analyse(dir, true, []);
  assert.deepEqual(analysis.diagnostics, []);
  const at = (line: number, text: string): number => TEXT.split('\n').slice(0, line - 1).join('\n').length + 1 + TEXT.split('\n')[line - 1]!.indexOf(text) + 1;
  const onOffer = hover(analysis, path, at(10, 'thanks'))!.contents as { value: string };
  assert.match(onOffer.value, /^\*\*offer\*\* `thanks` — A thank-you/);
  assert.match(onOffer.value, /eligible in buyer/);
  const onDecision = hover(analysis, path, at(10, 'home'))!.contents as { value: string };
  assert.match(onDecision.value, /^\*\*decision\*\* `home`: the best eligible offer by score, sent when it changes/);
  assert.deepEqual(documentSymbols(parseRuleFile(path, TEXT).file).map((s) => s.name).slice(-3), ['thanks', 'welcome', 'home']);
});

test('completion in offers and decisions: their clauses at a line start, the offers after `offers` and a comma, zones and string traits after `in`', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aud-lsp-offers-'));
  const path = join(dir, 'offers.aud');
  writeFileSync(path, TEXT);
  const analysis = new RuleSets(() => undefined).analyse(dir, true, []);
  const labels = (text: string): string[] => complete(analysis, text, text.length).map((c) => c.label);
  const head = TEXT.split('\n').slice(0, 9).join('\n');
  assert.deepEqual(labels(`${head}\noffer more {\n  `).slice(0, 3), ['eligible', 'score', 'cap']);
  assert.deepEqual(labels(`${head}\ndecision d {\n  `), ['offers', 'cap', 'deliver']);
  assert.deepEqual(labels(`${head}\ndecision d {\n  offers `), ['thanks', 'welcome']);
  assert.deepEqual(labels(`${head}\ndecision d {\n  offers thanks, w`), ['thanks', 'welcome']);
  const zones = labels(`${head}\ndecision d {\n  offers thanks\n  deliver between 09:00 and 20:00 in `);
  assert.equal(zones[0], 'tz');
  assert.ok(zones.includes('"Europe/Oslo"') && zones.includes('"America/New_York"'));
  // Outside them, as before: the declarations, offer and decision among them.
  assert.ok(labels(`${TEXT}\n`).includes('decision'));
});
