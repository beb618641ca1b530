/**
 * The engine's product: enter/leave events, and decision events.
 *
 * The enter/leave event: One JSON record per
 * membership change, keyed by customer id, fields in this order:
 *
 *     {"type":"enter","audience":"vip","customer":"c-123","at":"2026-11-22T10:00:00.000Z",
 *      "version":1,"reason":"event","cause":{"topic":"retail.events","partition":3,"offset":"812"}}
 *
 * `at` is the engine's `now` when the change happened. `version` counts
 * changes per customer and audience (1 = first enter), so a consumer drops
 * anything at or below the version it already has. For one customer and
 * audience, enters and leaves alternate, starting with an enter, across
 * restarts too (the version and membership are part of the customer's state).
 */
import type { Cause } from './input-record.js';

/**
 * `rule_change`: the rules were replaced and the customer's membership under
 * the new ones differs (customer-lifecycle.md, section 1). `merge`: profiles
 * merged, or a profile's id changed (section 2). `erasure`: the customer was
 * forgotten (section 3).
 */
export type ChangeReason = 'event' | 'timer' | 'rule_change' | 'merge' | 'erasure';

export interface MembershipEvent {
  type: 'enter' | 'leave';
  audience: string;
  customer: string;
  at: string;
  version: number;
  reason: ChangeReason;
  cause?: Cause;
}

/**
 * A decision's new best offer for a customer (activation.md, section 2;
 * engine/decision.ts), keyed by customer id like enter/leave:
 *
 *     {"type":"decision","decision":"next_offer","offer":"winback","customer":"c1",
 *      "at":"2026-11-22T10:00:00.000Z","score":0.71,"version":3,"reason":"event"}
 *
 * `offer` null: no offer is eligible any more (`score` null too). `version`
 * counts the decision's events for the customer (1 = first).
 */
export interface DecisionEvent {
  type: 'decision';
  /** Never set: lets code that handles enter/leave read `e.audience` of any output event (undefined here). */
  audience?: never;
  decision: string;
  offer: string | null;
  customer: string;
  at: string;
  score: number | null;
  version: number;
  reason: ChangeReason;
  cause?: Cause;
}

export type OutputEvent = MembershipEvent | DecisionEvent;

/**
 * The record's JSON: what JSON.stringify(e) gives, written field by field
 * (the engine writes one per membership change, a thousand audiences make
 * many of them, and the generic stringify of the whole object costs several
 * times this). Only the strings that may hold anything go through
 * JSON.stringify: `type`, `reason` and the ISO `at` never need escaping.
 */
export function outputEventJson(e: OutputEvent): string {
  if (e.type === 'decision') return decisionEventJson(e);
  const head = `{"type":"${e.type}","audience":${JSON.stringify(e.audience)},"customer":${JSON.stringify(e.customer)},"at":"${e.at}","version":${e.version},"reason":"${e.reason}"`;
  return e.cause === undefined ? head + '}' : `${head},"cause":${JSON.stringify(e.cause)}}`;
}

function decisionEventJson(e: DecisionEvent): string {
  const head = `{"type":"decision","decision":${JSON.stringify(e.decision)},"offer":${e.offer === null ? 'null' : JSON.stringify(e.offer)},"customer":${JSON.stringify(e.customer)},"at":"${e.at}","score":${JSON.stringify(e.score)},"version":${e.version},"reason":"${e.reason}"`;
  return e.cause === undefined ? head + '}' : `${head},"cause":${JSON.stringify(e.cause)}}`;
}
