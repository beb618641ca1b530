/**
 * A customer's last enter/leave transitions, kept in the customer's state
 * (its `h` entry) so that "why is this customer (not) in this audience?" can
 * say when it last changed and because of which record, on whichever process
 * owns the partition, after restores and rule changes alike. Written with
 * the membership it records, in the same state write, so it is exactly as
 * durable as the membership.
 *
 * Bounded per customer (RECENT_TRANSITIONS over all audiences): a customer
 * flickering in and out of one audience pushes older transitions out.
 */
import type { ChangeReason, OutputEvent } from './output-event.js';
import type { Cause } from './input-record.js';
import { storedTransitions, type CustomerState, type StoredTransition } from './customer-state.js';

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

/** Reasons as stored, by code: the position in this list, so codes never change meaning (append only). */
const REASONS: readonly ChangeReason[] = ['event', 'timer', 'rule_change'];

/** Record an enter or leave the engine just emitted for this customer, at `at`. */
export function recordTransition(state: CustomerState, e: OutputEvent, at: number): void {
  const stored: StoredTransition = [e.audience, e.type === 'enter' ? 1 : 0, at, e.version, REASONS.indexOf(e.reason)];
  const cause = e.cause;
  if (cause !== undefined) {
    if ('line' in cause) stored.push(cause.line);
    else stored.push(cause.topic, cause.partition, cause.offset);
  }
  const h = storedTransitions(state) ?? (state.h = []);
  h.unshift(stored);
  if (h.length > RECENT_TRANSITIONS) h.length = RECENT_TRANSITIONS;
  state.hBytes = undefined;
}

/** The customer's last transitions, newest first. */
export function recentTransitions(state: CustomerState): Transition[] {
  return (storedTransitions(state) ?? []).map(fromStored);
}

function fromStored(s: StoredTransition): Transition {
  const t: Transition = {
    audience: s[0] as string,
    type: s[1] === 1 ? 'enter' : 'leave',
    at: s[2] as number,
    version: s[3] as number,
    reason: REASONS[s[4] as number] ?? 'event',
  };
  if (s.length === 6) t.cause = { line: s[5] as number };
  else if (s.length === 8) t.cause = { topic: s[5] as string, partition: s[6] as number, offset: s[7] as string };
  return t;
}
