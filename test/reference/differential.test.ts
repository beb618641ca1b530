/**
 * The engine against the naive reference evaluator on random rule files and
 * event streams. A few hundred cases here; `node dist/bench/differential.js
 * --cases 20000` runs as many as you like.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeMismatch, runCase } from './differential.js';

const CASES = Number(process.env.AUD_DIFFERENTIAL_CASES ?? 300);

test(`engine equals the reference evaluator on ${CASES} random rule files and streams`, async () => {
  let outputs = 0;
  for (let seed = 1; seed <= CASES; seed++) {
    const r = await runCase(seed);
    assert.equal(r.mismatch, '', describeMismatch(r));
    outputs += r.engine.length;
  }
  assert.ok(outputs > CASES, `the cases produce enough enter/leave events to compare (${outputs})`);
});
