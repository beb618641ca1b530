import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AbsenceSlot, SequenceSlot, StepPlan } from '../../dsl/plan.js';
import { absenceDue, addToAbsence, addToSequence, sequenceMatchTime, type AbsenceState, type SequenceState } from '../../engine/sequence.js';

const M = 60_000;
const is = (type: string) => (step: StepPlan) => step.event === type;

function runSequence(slot: SequenceSlot, events: [string, number][]): SequenceState | undefined {
  let s: SequenceState | undefined;
  for (const [type, t] of events) s = addToSequence(slot, s, t, is(type));
  return s;
}

const thenSlot: SequenceSlot = { kind: 'sequence', id: 's', text: '', steps: [{ event: 'cart' }, { event: 'buy' }], withinMs: 60 * M };
const seq3: SequenceSlot = { kind: 'sequence', id: 's3', text: '', steps: [{ event: 'view' }, { event: 'cart' }, { event: 'buy' }], withinMs: 60 * M };

test('A then B within W matches when B comes no later than W after A, inclusive', () => {
  assert.equal(sequenceMatchTime(runSequence(thenSlot, [['cart', 0], ['buy', 60 * M]])), 60 * M);
  assert.equal(sequenceMatchTime(runSequence(thenSlot, [['cart', 0], ['buy', 60 * M + 1]])), null);
});

test('B before any A does not match; the latest A gives the most time', () => {
  assert.equal(sequenceMatchTime(runSequence(thenSlot, [['buy', 0], ['cart', M]])), null);
  assert.equal(sequenceMatchTime(runSequence(thenSlot, [['cart', 0], ['cart', 50 * M], ['buy', 100 * M]])), 100 * M);
});

test('sequence(A, B, C) needs the order and all within W of the first step', () => {
  assert.equal(sequenceMatchTime(runSequence(seq3, [['view', 0], ['cart', M], ['buy', 2 * M]])), 2 * M);
  assert.equal(sequenceMatchTime(runSequence(seq3, [['cart', 0], ['view', M], ['buy', 2 * M]])), null);
  assert.equal(sequenceMatchTime(runSequence(seq3, [['view', 0], ['cart', M], ['buy', 61 * M]])), null);
  // A new view restarts the window: view@0, view@50, cart@55, buy@100 matches via the second view.
  assert.equal(sequenceMatchTime(runSequence(seq3, [['view', 0], ['view', 50 * M], ['cart', 55 * M], ['buy', 100 * M]])), 100 * M);
});

test('one event never fills two consecutive steps of one match', () => {
  const same: SequenceSlot = { kind: 'sequence', id: 'p', text: '', steps: [{ event: 'buy' }, { event: 'buy' }], withinMs: 60 * M };
  assert.equal(sequenceMatchTime(runSequence(same, [['buy', 0]])), null);
  assert.equal(sequenceMatchTime(runSequence(same, [['buy', 0], ['buy', M]])), M);
});

const absence: AbsenceSlot = { kind: 'absence', id: 'a', text: '', first: { event: 'cart' }, second: { event: 'buy' }, withinMs: 60 * M };

function runAbsence(slot: AbsenceSlot, events: [string, number][]): AbsenceState | undefined {
  let s: AbsenceState | undefined;
  for (const [type, t] of events) s = addToAbsence(slot, s, t, is(type));
  return s;
}

test('A then not B: due W after the latest A; a B cancels; a new A restarts the wait', () => {
  assert.equal(absenceDue(absence, runAbsence(absence, [['cart', 0]])), 60 * M);
  assert.equal(absenceDue(absence, runAbsence(absence, [['cart', 0], ['cart', 30 * M]])), 90 * M);
  assert.equal(absenceDue(absence, runAbsence(absence, [['cart', 0], ['buy', 59 * M]])), null);
  assert.equal(absenceDue(absence, runAbsence(absence, [['cart', 0], ['buy', 10 * M], ['cart', 20 * M]])), 80 * M);
  // A B after the deadline still makes it false ("false again at the next B").
  assert.equal(absenceDue(absence, runAbsence(absence, [['cart', 0], ['buy', 90 * M]])), null);
});

test('an event that is both A and B cancels the previous wait, then starts a new one', () => {
  const self: AbsenceSlot = { kind: 'absence', id: 'b', text: '', first: { event: 'buy' }, second: { event: 'buy' }, withinMs: 60 * M };
  assert.equal(absenceDue(self, runAbsence(self, [['buy', 0], ['buy', 10 * M]])), 70 * M);
});
