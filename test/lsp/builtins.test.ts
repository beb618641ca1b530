/** The hover and completion texts of lsp/builtins.ts name exactly the language's aggregates and functions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGGREGATE_FNS } from '../../dsl/ast.js';
import { FUNCTIONS } from '../../dsl/checker/check.js';
import { AGGREGATE_DOCS, FUNCTION_DOCS } from '../../lsp/builtins.js';

test('every aggregate and every function has a text, and no text names something else', () => {
  assert.deepEqual(Object.keys(AGGREGATE_DOCS).sort(), [...AGGREGATE_FNS].sort());
  assert.deepEqual(Object.keys(FUNCTION_DOCS).sort(), Object.keys(FUNCTIONS).sort());
  for (const [name, doc] of [...Object.entries(AGGREGATE_DOCS), ...Object.entries(FUNCTION_DOCS)]) {
    assert.ok(doc.signature.startsWith(`${name}(`), `${name}: ${doc.signature}`);
  }
});
