/**
 * Sequence operators: `A then B within W`, `sequence(A, B, ...) within W`,
 * and `A then not B within W` (an absence).
 *
 * Events of one customer are matched in arrival order, using their event
 * times. State is O(steps) per customer whatever the traffic:
 *
 * Sequence: `{ p: partials, m: latest match time | null }`. `p[k]` is the
 * best partial match that has completed steps 0..k, as [start, last step time]:
 * "best" is the latest start, since it leaves the most time for the rest.
 * An event is offered to the steps from last to first, so one event never
 * fills two consecutive steps of one match. A step may follow only at or
 * after the previous step's time and no later than `start + W`.
 *
 * Absence: `{ a: time of the latest A | null, b: whether a B came at or after it }`.
 * True once `now >= a + W` with no B; a later B makes it false; a later A
 * starts a new wait. When one event is both A and B (`purchase then not
 * purchase`), it first cancels the previous wait, then starts a new one.
 */
import type { AbsenceSlot, SequenceSlot, StepPlan } from '../dsl/plan.js';

export interface SequenceState { p: ([number, number] | null)[]; m: number | null }
export interface AbsenceState { a: number | null; b: boolean }

/** Whether an event matches a step: its type, and its filter where there is one. */
export type StepTest = (step: StepPlan) => boolean;

export function addToSequence(slot: SequenceSlot, state: SequenceState | undefined, t: number, matches: StepTest): SequenceState | undefined {
  const n = slot.steps.length;
  let p = state?.p;
  let m = state?.m ?? null;
  let changed = false;
  for (let k = n - 1; k >= 0; k--) {
    if (!matches(slot.steps[k]!)) continue;
    let candidate: [number, number] | null;
    if (k === 0) {
      candidate = [t, t];
    } else {
      const prev = p?.[k - 1];
      candidate = prev && t >= prev[1] && t - prev[0] <= slot.withinMs ? [prev[0], t] : null;
    }
    if (!candidate) continue;
    if (k === n - 1) {
      if (m === null || t > m) { m = t; changed = true; }
      continue;
    }
    const current = p?.[k];
    if (!current || candidate[0] > current[0] || (candidate[0] === current[0] && candidate[1] < current[1])) {
      p = p ? [...p] : new Array<[number, number] | null>(n - 1).fill(null);
      p[k] = candidate;
      changed = true;
    }
  }
  if (!changed) return state;
  return { p: p ?? new Array<[number, number] | null>(n - 1).fill(null), m };
}

/** The time of the latest complete match, or null. */
export function sequenceMatchTime(state: SequenceState | undefined): number | null {
  return state?.m ?? null;
}

export function addToAbsence(slot: AbsenceSlot, state: AbsenceState | undefined, t: number, matches: StepTest): AbsenceState | undefined {
  let a = state?.a ?? null;
  let b = state?.b ?? false;
  if (matches(slot.second) && a !== null && t >= a) b = true;
  if (matches(slot.first) && (a === null || t >= a)) { a = t; b = false; }
  if (state && state.a === a && state.b === b) return state;
  return { a, b };
}

/** The instant the absence became (or will become) true for the current wait, or null when cancelled or not waiting. */
export function absenceDue(slot: AbsenceSlot, state: AbsenceState | undefined): number | null {
  if (!state || state.a === null || state.b) return null;
  return state.a + slot.withinMs;
}

/**
 * Two customers' sequence states as one (identity/merge-customers.ts): per
 * step, the partial match that is best by the rule of addToSequence (the
 * latest start; of equal starts, the earlier last step), and the later
 * complete match. Not exact: a match whose steps came under different
 * customers before the merge is not found
 * (docs/decisions/2026-12-05-identities-and-erasure.md).
 */
export function mergeSequences(a: SequenceState | undefined, b: SequenceState | undefined): SequenceState | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  const p = a.p.map((x, k) => {
    const y = b.p[k] ?? null;
    if (x === null || y === null) return x ?? y;
    return y[0] > x[0] || (y[0] === x[0] && y[1] < x[1]) ? y : x;
  });
  const m = a.m === null || b.m === null ? a.m ?? b.m : Math.max(a.m, b.m);
  return { p, m };
}

/**
 * Two absence states as one: the later A with its own flag (of equal ones,
 * cancelled if either was). Not exact: a B of the other customer after the
 * later A is not seen.
 */
export function mergeAbsences(a: AbsenceState | undefined, b: AbsenceState | undefined): AbsenceState | undefined {
  if (a === undefined || b === undefined || b.a === null) return a ?? b;
  if (a.a === null || b.a > a.a) return b;
  if (a.a > b.a) return a;
  return { a: a.a, b: a.b || b.b };
}
