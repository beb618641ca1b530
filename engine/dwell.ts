/**
 * Steady membership (activation.md, section 1): a steady audience's
 * membership follows its enter and leave conditions with delays.
 *
 *   out → in at the first instant t at which the enter condition has been
 *            true at every instant of [t − enter after, t];
 *   in → out at the first instant t at which the leave condition has been
 *            true over [t − leave after, t] and t ≥ the enter + stay at least.
 *
 * Null counts as false. With no `leave when`, the leave condition is "the
 * enter condition is not true"; with one, it counts only while the enter
 * condition is not true (the enter condition wins where both hold), so that
 * the two never hold at once: an evaluation makes at most one enter or
 * leave, and conditions that overlap cannot make an audience enter and
 * leave without end. A condition's value changes only at the instants the
 * engine evaluates the audience (an event that feeds it, the wake its
 * expression reported), so "true at every instant since s" is "true at
 * every evaluation since s", and the state needs only the instant each
 * condition last became true.
 *
 * The state is a slot's (DwellSlot), stored with the customer like any
 * other: `[enterSince, leaveSince, lastChange]`, each an epoch ms or null.
 */
import type { SteadyPlan } from '../dsl/plan.js';

export type DwellState = [enterSince: number | null, leaveSince: number | null, lastChange: number | null];

export interface DwellStep {
  /** The new state; the same array when nothing changed. */
  state: DwellState;
  /** The membership after this evaluation. */
  inside: boolean;
  /** The instant the next enter or leave falls due by time alone, if the conditions hold until then; Infinity: none. */
  due: number;
}

/** A customer's dwell state before the audience's first evaluation. */
export const EMPTY_DWELL: DwellState = [null, null, null];

/** The instant the opposite of `inside` falls due under `state` if the condition holds until then; Infinity: none. */
export function dwellDue(plan: SteadyPlan, state: DwellState, inside: boolean): number {
  const [enterSince, leaveSince, lastChange] = state;
  let due: number;
  if (!inside) due = enterSince === null ? Infinity : enterSince + plan.enterAfterMs;
  else {
    if (leaveSince === null) return Infinity;
    due = leaveSince + plan.leaveAfterMs;
    if (lastChange !== null) due = Math.max(due, lastChange + plan.stayMs);
  }
  return due;
}

/**
 * One evaluation of a steady audience at `now`, given whether its enter
 * condition and its `leave when` (or, without one, not the enter condition)
 * are true there.
 */
export function stepDwell(plan: SteadyPlan, stored: DwellState | undefined, member: boolean, enterTrue: boolean, leaveTrue: boolean, now: number): DwellStep {
  const before = stored ?? EMPTY_DWELL;
  const enter = enterTrue;
  const leave = leaveTrue && !enterTrue;
  const enterSince = enter ? (before[0] ?? now) : null;
  const leaveSince = leave ? (before[1] ?? now) : null;
  let state: DwellState = enterSince === before[0] && leaveSince === before[1] && stored !== undefined ? before : [enterSince, leaveSince, before[2]];
  let inside = member;
  if (dwellDue(plan, state, inside) <= now) {
    inside = !inside;
    state = [enterSince, leaveSince, now];
  }
  // After an enter the enter condition is true, after a leave it is not: the opposite is not due now.
  const due = dwellDue(plan, state, inside);
  return { state, inside, due: due > now ? due : Infinity };
}
