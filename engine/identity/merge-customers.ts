/**
 * Two customers' states as one, when their profiles merge
 * (customer-lifecycle.md, section 2): each slot's state becomes what it
 * would be had every event of both carried one id from the start, as far as
 * the slot's state allows (docs/decisions/2026-12-05-identities-and-erasure.md
 * says where it does not: sequences, absences, steady audiences and
 * decisions).
 *
 * The absorbed customer's events are numbered after the survivor's
 * (arrival numbers shifted by the survivor's count), so that of two events
 * at one instant, the survivor's comes first.
 */
import type { Plan } from '../../dsl/plan.js';
import { mergeAggregate } from '../aggregate.js';
import { slotChanged, type CustomerState } from '../customer-state.js';
import { mergeAbsences, mergeSequences, type AbsenceState, type SequenceState } from '../sequence.js';

/** Merge `from`'s slot states into `into` (in place); memberships, wakes and transitions are the caller's. */
export function mergeCustomerState(plan: Plan, into: CustomerState, from: CustomerState): void {
  const shift = into.n;
  plan.slots.forEach((slot, i) => {
    const b = from.s[i];
    if (b === undefined) return;
    const a = into.s[i];
    let merged: unknown;
    switch (slot.kind) {
      case 'aggregate': merged = mergeAggregate(slot, a, b, shift); break;
      case 'sequence': merged = mergeSequences(a as SequenceState | undefined, b as SequenceState); break;
      case 'absence': merged = mergeAbsences(a as AbsenceState | undefined, b as AbsenceState); break;
      // A history of evaluations: the survivor's goes on.
      case 'dwell':
      case 'decision': return;
    }
    if (merged === a) return;
    into.s[i] = merged;
    slotChanged(into, i);
  });
  into.n += from.n;
}
