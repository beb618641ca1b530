import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closest, didYouMean, editDistance } from '../../dsl/suggest.js';

/** The whole table, as the definition reads: the reference the bounded search must agree with. */
function referenceDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

function referenceClosest(name: string, candidates: string[]): string | undefined {
  const limit = Math.max(1, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (c === name) continue;
    const d = referenceDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) { best = c; bestDistance = d; }
  }
  return bestDistance <= limit ? best : undefined;
}

test('edit distance counts a swap of neighbours as one edit', () => {
  assert.equal(editDistance('vpi', 'vip'), 1);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('purchse', 'purchase'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

test('closest: the first of the nearest names, within a third of the length', () => {
  assert.equal(closest('purchse', ['page_view', 'purchase', 'purchased']), 'purchase');
  assert.equal(closest('ab', ['ax', 'ay']), 'ax', 'ties go to the first');
  assert.equal(closest('vip', ['VIP', 'vpi']), 'VIP', 'case does not count');
  assert.equal(closest('purchase', ['purchase']), undefined, 'the name itself is no suggestion');
  assert.equal(closest('zzzzzz', ['purchase', 'login']), undefined);
  assert.equal(didYouMean('logn', ['login']), 'did you mean "login"?');
});

test('closest and edit distance agree with the full table on random names', () => {
  let seed = 7;
  const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const word = () => Array.from({ length: Math.floor(rand() * 9) }, () => 'abcAB_1'[Math.floor(rand() * 7)]).join('');
  for (let k = 0; k < 3000; k++) {
    const a = word();
    const b = word();
    assert.equal(editDistance(a, b), referenceDistance(a, b), `${a} / ${b}`);
    const candidates = Array.from({ length: Math.floor(rand() * 30) }, word);
    if (rand() < 0.2) candidates.push(a.toUpperCase());
    assert.equal(closest(a, candidates), referenceClosest(a, candidates), `${a} among ${candidates.join(' ')}`);
  }
});
