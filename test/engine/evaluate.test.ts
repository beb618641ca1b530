import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PExpr, Value } from '../../dsl/plan.js';
import { evaluate, type EvalScope } from '../../engine/evaluate.js';

const D = 86_400_000;

function scope(now: number, traits: Record<string, Value> = {}): EvalScope & { wakes: number[] } {
  const wakes: number[] = [];
  return {
    now, wakes,
    slot: () => null, compared: (c) => c.test(null), matchTime: () => null, audience: () => false, field: () => null,
    trait: (name) => traits[name] ?? null,
    wakeAt: (t) => { wakes.push(t); },
  };
}

const c = (value: Value): PExpr => ({ op: 'const', value });
const t = (name: string): PExpr => ({ op: 'trait', name });

test('three-valued and/or/not', () => {
  const and = (l: Value, r: Value) => evaluate({ op: 'and', left: c(l), right: c(r) }, scope(0));
  const or = (l: Value, r: Value) => evaluate({ op: 'or', left: c(l), right: c(r) }, scope(0));
  assert.equal(and(null, false), false);
  assert.equal(and(null, true), null);
  assert.equal(or(null, true), true);
  assert.equal(or(null, false), null);
  assert.equal(evaluate({ op: 'not', operand: c(null) }, scope(0)), null);
});

test('arithmetic and comparison with null are null; division by zero is null', () => {
  assert.equal(evaluate({ op: 'arith', fn: '+', left: c(1), right: c(null) }, scope(0)), null);
  assert.equal(evaluate({ op: 'compare', fn: '==', left: c(null), right: c(null) }, scope(0)), null);
  assert.equal(evaluate({ op: 'arith', fn: '/', left: c(1), right: c(0) }, scope(0)), null);
  assert.equal(evaluate({ op: 'math', fn: 'coalesce', args: [c(null), c(3)] }, scope(0)), 3);
});

test('days_since is whole days and asks to be woken at the next day boundary', () => {
  const s = scope(10 * D + 5, { last: 3 * D + 7 });
  assert.equal(evaluate({ op: 'since', unitMs: D, unit: 'days', operand: t('last') }, s), 6);
  assert.deepEqual(s.wakes, [10 * D + 7]);
  assert.equal(evaluate({ op: 'since', unitMs: D, unit: 'days', operand: t('none') }, scope(0)), null);
});

test('last(login) < now() - 30 days flips 30 days after the login, and asks to be woken then', () => {
  const e: PExpr = { op: 'now-compare', fn: '<', time: t('login'), offsetMs: -30 * D, nowOnLeft: false };
  const at = (now: number) => { const s = scope(now, { login: 0 }); return [evaluate(e, s), s.wakes] as const; };
  assert.equal(at(30 * D)[0], false);
  assert.equal(at(30 * D + 1)[0], true);
  assert.ok(at(D)[1].includes(30 * D + 1));
});

test('logistic, in-list and string tests', () => {
  assert.equal(evaluate({ op: 'math', fn: 'logistic', args: [c(0)] }, scope(0)), 0.5);
  assert.equal(evaluate({ op: 'in-list', operand: c('gold'), values: ['gold', 'silver'] }, scope(0)), true);
  assert.equal(evaluate({ op: 'string-test', fn: 'starts_with', left: c('/sale/x'), right: c('/sale') }, scope(0)), true);
  assert.equal(evaluate({ op: 'string-test', fn: 'contains', left: c(null), right: c('a') }, scope(0)), null);
});
