/**
 * Completion in a source block: the clause words at a line's start
 * (identity among them), `json`/`avro` after `format`, and after an
 * identity field its options `limit` and `block`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { complete } from '../../lsp/completion.js';
import { RuleSets } from '../../lsp/rule-set.js';

test('completion in a source block: clause words at a line start, format values, and an identity field\'s limit and block', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aud-lsp-source-'));
  writeFileSync(join(dir, 'r.aud'), 'event view { url: string }\n');
  const analysis = new RuleSets(() => undefined).analyse(dir, true, []);
  const labels = (text: string): string[] => complete(analysis, text, text.length).map((c) => c.label);
  const clauses = ['key', 'identity', 'type', 'time', 'format'];
  assert.deepEqual(labels('source "s" {\n  '), clauses);
  assert.deepEqual(labels('source "s" {\n  identity user_id, email\n  ty'), clauses);
  assert.deepEqual(labels('source "s" {\n  format '), ['json', 'avro']);
  assert.deepEqual(labels('source "s" {\n  identity user_id, email '), ['limit', 'block']);
  assert.deepEqual(labels('source "s" {\n  identity user_id, email limit 3, '), []);
  assert.deepEqual(labels('source "s" {\n  key '), []);
});
