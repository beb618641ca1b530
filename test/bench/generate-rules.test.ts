/**
 * The benchmark's large rule sets (bench/rules/generate-rules.ts): every
 * size checks with no error, the same seed gives the same file, and the mix
 * has what it promises (filters, sequences, references, shared aggregates).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateRuleSet } from '../../bench/rules/generate-rules.js';
import { compileSources, formatDiagnostics } from '../../dsl/compile.js';

test('a generated rule set of 1,000 audiences checks with no error, shares aggregates, and is the same for the same seed', () => {
  const text = generateRuleSet({ audiences: 1000, seed: 7, ownAggregates: false });
  assert.equal(text, generateRuleSet({ audiences: 1000, seed: 7, ownAggregates: false }));
  assert.notEqual(text, generateRuleSet({ audiences: 1000, seed: 8, ownAggregates: false }));
  const compiled = compileSources(new Map([['large.aud', text]]));
  assert.ok(compiled.plan, formatDiagnostics(compiled));
  assert.equal(compiled.plan.audiences.length, 1000);
  // Shared: far fewer states than audiences.
  assert.ok(compiled.plan.slots.length < 400, `${compiled.plan.slots.length} states for 1,000 audiences`);
  for (const construct of [' then not ', ' then ', ' in a', 'category == ', 'brand == ', 'channel == ', 'avg(', 'distinct(', 'last(', ' or ']) {
    assert.ok(text.includes(construct), `no ${construct.trim()} in the mix`);
  }
});

test('--own-aggregates gives every audience a state of its own', () => {
  const compiled = compileSources(new Map([['own.aud', generateRuleSet({ audiences: 200, seed: 1, ownAggregates: true })]]));
  assert.ok(compiled.plan, formatDiagnostics(compiled));
  assert.ok(compiled.plan.slots.length >= 200);
});
