/** The language server's symbol index sees every clause of a steady audience, `leave when` included. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRuleFile } from '../../dsl/parse.js';
import { eventKey, indexSymbols, nameKey, occurrencesOf } from '../../lsp/symbol-index.js';

test('references of a trait and an event in enter when and leave when', () => {
  const text = [
    'event view { page: string }',
    'trait views = count(view) over 7 days',
    'audience engaged {',
    '  enter when views >= 10',
    '  leave when views < 5 and count(view) over 1 day == 0',
    '  stay at least 1 day',
    '}',
  ].join('\n');
  const index = indexSymbols([parseRuleFile('t.aud', text).file]);
  assert.deepEqual(occurrencesOf(index, nameKey('views')).map((o) => o.span.line), [2, 4, 5]);
  assert.deepEqual(occurrencesOf(index, eventKey('view')).map((o) => o.span.line), [1, 2, 5]);
});
