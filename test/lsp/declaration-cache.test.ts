/** Parsing one declaration at a time (lsp/declaration-cache.ts) gives exactly the whole file's parse: trees, spans, diagnostics. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateRules } from '../../bench/lsp-latency.js';
import { parseRuleFile } from '../../dsl/parse.js';
import { DeclarationCache } from '../../lsp/declaration-cache.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const examples = readdirSync(join(repo, 'examples'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) => readdirSync(join(repo, 'examples', d.name)).filter((f) => f.endsWith('.aud')).map((f) => join(repo, 'examples', d.name, f)));

function assertSameAsWholeFile(cache: DeclarationCache, text: string, label: string): void {
  assert.deepEqual(cache.parse('f.aud', text), parseRuleFile('f.aud', text), label);
}

test('on every example, before and after edits that reuse the cached declarations', () => {
  for (const path of examples) {
    const cache = new DeclarationCache();
    const text = readFileSync(path, 'utf8');
    assertSameAsWholeFile(cache, text, path);
    assertSameAsWholeFile(cache, `// a new first line\n${text}`, `${path}: every declaration one line lower`);
    assertSameAsWholeFile(cache, text.replace(/\n(audience|trait)/g, ' $1'), `${path}: declarations after others on one line`);
    assertSameAsWholeFile(cache, text.replace('audience', 'audiance'), `${path}: a syntax error parses the whole file`);
    assertSameAsWholeFile(cache, text.replace(/}\s*$/, ''), `${path}: a missing brace at the end`);
    assertSameAsWholeFile(cache, `source "again" { }\n${text}`, `${path}: a second source`);
    assertSameAsWholeFile(cache, text.replace(/"/, '\u0000"'), `${path}: a lexical error`);
  }
});

test('on a generated file of 200 audiences, with a change in one of them', () => {
  const cache = new DeclarationCache();
  const text = generateRules(200);
  assertSameAsWholeFile(cache, text, 'generated');
  assertSameAsWholeFile(cache, text.replace('spend_3 >= 3', 'spnd_3 >= 3\n\n'), 'one audience changed');
  const broken: [string, string][] = [
    ['spend_3 >= 3', 'spend_3 3'], ['spend_0 >= 40', 'spend_0 >= '], ['audience audience_7 ', 'audience '], ['"generated 9" {', '"generated 9" '],
    ['within 1 hour\n}', 'within 1 hour\n'], ['spend_5 = sum(', 'spend_5 = sum(('], ['brand == "b11")', 'brand == "b11"'], ['count(page_view', 'count(page_view where'],
  ];
  for (const [from, to] of broken) {
    assert.ok(text.includes(from), from);
    assertSameAsWholeFile(cache, text.replace(from, to), `a syntax error: ${JSON.stringify(to)}`);
    assertSameAsWholeFile(cache, text.replace(from, to).replace('spend_1 >= 1', 'spend_1 >= 2'), `a syntax error and an edit above it: ${JSON.stringify(to)}`);
  }
});
