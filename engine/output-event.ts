/**
 * The enter/leave event: the engine's product. One JSON record per
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

/** `rule_change`: the rules were replaced and the customer's membership under the new ones differs (customer-lifecycle.md, section 1). */
export type ChangeReason = 'event' | 'timer' | 'rule_change';

export interface OutputEvent {
  type: 'enter' | 'leave';
  audience: string;
  customer: string;
  at: string;
  version: number;
  reason: ChangeReason;
  cause?: Cause;
}

/**
 * The record's JSON: what JSON.stringify(e) gives, written field by field
 * (the engine writes one per membership change, a thousand audiences make
 * many of them, and the generic stringify of the whole object costs several
 * times this). Only the strings that may hold anything go through
 * JSON.stringify: `type`, `reason` and the ISO `at` never need escaping.
 */
export function outputEventJson(e: OutputEvent): string {
  const head = `{"type":"${e.type}","audience":${JSON.stringify(e.audience)},"customer":${JSON.stringify(e.customer)},"at":"${e.at}","version":${e.version},"reason":"${e.reason}"`;
  return e.cause === undefined ? head + '}' : `${head},"cause":${JSON.stringify(e.cause)}}`;
}
