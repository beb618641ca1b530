/**
 * A rule change: what replacing one plan by another does to the audiences
 * and to the per-customer states (customer-lifecycle.md, section 1).
 *
 * An audience is unchanged when its definition is: its expression with the
 * traits it uses written out, the aggregates it reads by their canonical
 * text, and the audiences it names by their own definitions, over the same
 * source and event declarations. Formatting, declaration order and the
 * names of traits do not count; a changed threshold, window, filter, trait
 * or named audience does. A new event declaration changes every audience:
 * customers known only by that event are new to all of them.
 *
 * States are matched by slot id (the hash of the aggregate's canonical
 * text): kept when both plans have it, new when only the new plan has it
 * (built from history before the change takes effect), dropped otherwise.
 */
import { createHash } from 'node:crypto';
import type { Plan, PExpr, SlotPlan } from '../dsl/plan.js';

export type AudienceChangeKind = 'added' | 'removed' | 'changed' | 'unchanged';

export interface AudienceChange {
  name: string;
  change: AudienceChangeKind;
}

export interface RuleChange {
  from: Plan;
  to: Plan;
  /** The new plan's audiences in its order, then the removed ones in the old plan's order. */
  audiences: AudienceChange[];
  /** Names of the audiences only the old plan has: their members leave. */
  removed: string[];
  /** By the new plan's audience index: whether its membership must be computed again when the change takes effect. */
  reevaluate: boolean[];
  /** Indexes into `to.slots` of the states both plans have. */
  keptSlots: number[];
  /** Indexes into `to.slots` of the states only the new plan has: built from history. */
  newSlots: number[];
  /** For each of `newSlots`, the history it needs (ms; Infinity: all of it), historyNeeded. */
  newSlotHistoryMs: number[];
  /** The old plan's states the new one does not read: removed from every customer. */
  droppedSlots: SlotPlan[];
  /**
   * How far back before the change the new states need events (ms);
   * Infinity when one needs all of a customer's history (an aggregate
   * without `over`, a sequence, an absence); 0 when no state is new.
   */
  historyMs: number;
  /**
   * Event types only the new plan declares: customers known only by them
   * are new customers, found in all of the history.
   */
  newEvents: string[];
  /** Whether the plans are the same in every audience and state: the change does nothing. */
  none: boolean;
}

export function planRuleChange(from: Plan, to: Plan): RuleChange {
  const before = definitions(from);
  const after = definitions(to);
  const audiences: AudienceChange[] = [];
  const reevaluate = to.audiences.map((a) => {
    const old = before.get(a.name);
    const change: AudienceChangeKind = old === undefined ? 'added' : old === after.get(a.name) ? 'unchanged' : 'changed';
    audiences.push({ name: a.name, change });
    return change !== 'unchanged';
  });
  const removed = from.audiences.filter((a) => !after.has(a.name)).map((a) => a.name);
  for (const name of removed) audiences.push({ name, change: 'removed' });
  const oldIds = new Set(from.slots.map((s) => s.id));
  const newIds = new Set(to.slots.map((s) => s.id));
  const keptSlots: number[] = [];
  const newSlots: number[] = [];
  to.slots.forEach((s, i) => (oldIds.has(s.id) ? keptSlots : newSlots).push(i));
  const droppedSlots = from.slots.filter((s) => !newIds.has(s.id));
  const oldEvents = new Set(from.events.map((e) => e.name));
  const newEvents = to.events.map((e) => e.name).filter((name) => !oldEvents.has(name));
  const newSlotHistoryMs = newSlots.map((i) => historyNeeded(to.slots[i]!));
  const historyMs = Math.max(newEvents.length > 0 ? Infinity : 0, ...newSlotHistoryMs);
  return {
    from, to, audiences, removed, reevaluate, keptSlots, newSlots, newSlotHistoryMs, droppedSlots, historyMs, newEvents,
    none: removed.length === 0 && newSlots.length === 0 && droppedSlots.length === 0 && !reevaluate.includes(true),
  };
}

/**
 * The events before the change a new state needs (ms): a window's width
 * (an event counts while its bucket's start is inside the window, and the
 * bucket starts at or before the event, so an event older than the window
 * at the change never counts again); Infinity for a state that depends on
 * every event (no `over`, sequences, absences: "ever matched", "the
 * latest A"); none for a decision's.
 */
export function historyNeeded(slot: SlotPlan): number {
  if (slot.kind === 'aggregate' && slot.windowMs !== undefined) return slot.windowMs;
  // A new decision starts with nothing sent: the change evaluates it for every customer.
  if (slot.kind === 'decision') return 0;
  return Infinity;
}

/** Each audience's definition as a short hash (see the file comment). */
function definitions(plan: Plan): Map<string, string> {
  const { topic: _topic, ...source } = plan.source;
  const context = JSON.stringify({ source, events: [...plan.events].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) });
  const traits = new Map(plan.traits.map((t) => [t.name, t.expr]));
  const out = new Map<string, string>();
  const canonical = (e: PExpr): unknown => {
    switch (e.op) {
      case 'slot': return { slot: plan.slots[e.slot]!.text };
      case 'matched-within': return { matched: plan.slots[e.slot]!.text, windowMs: e.windowMs };
      case 'trait': return { trait: canonical(traits.get(e.name)!) };
      // Plan order puts a named audience first, so its definition is known here.
      case 'audience': return { audience: out.get(e.name) };
      case 'arith': case 'compare': case 'and': case 'or': case 'string-test':
        return { ...e, left: canonical(e.left), right: canonical(e.right) };
      case 'not': case 'neg': return { ...e, operand: canonical(e.operand) };
      case 'in-list': return { ...e, operand: canonical(e.operand) };
      case 'since': return { ...e, operand: canonical(e.operand) };
      case 'math': return { ...e, args: e.args.map(canonical) };
      case 'now-compare': return { ...e, time: canonical(e.time) };
      case 'const': case 'field': return e;
    }
  };
  for (const a of plan.audiences) {
    const st = a.steady;
    const definition = st
      ? { enter: canonical(a.expr), leave: st.leave ? canonical(st.leave) : null, enterAfterMs: st.enterAfterMs, leaveAfterMs: st.leaveAfterMs, stayMs: st.stayMs }
      : canonical(a.expr);
    out.set(a.name, createHash('sha256').update(context).update(JSON.stringify(definition)).digest('hex').slice(0, 16));
  }
  return out;
}

/**
 * Why the engine cannot deploy this change exactly, or undefined when it
 * can. A steady audience's membership depends on how long its conditions
 * have held (engine/dwell.ts), which history replayed into slots does not
 * rebuild: the change may keep a steady audience as it is (its dwell state
 * is kept by slot id), drop one, or make one plain, but not add or change
 * one. Such a change is refused as a whole, before it does anything. So is
 * a change of the source's key or identity: the states are keyed by
 * customer, and the customers would be other ones.
 */
export function ruleChangeRefusal(change: RuleChange): string | undefined {
  const customers = (p: Plan): string => JSON.stringify({ key: p.source.keyField ?? null, identity: p.source.identity ?? null });
  if (customers(change.from) !== customers(change.to)) {
    return 'the new rules name customers otherwise (the source\'s key or identity changed): every stored customer would be someone else, '
      + 'so such a change is not deployed on running state; run the new rules as a new consumer group (aud run --group) over the input from its start';
  }
  const kind = new Map(change.audiences.map((a) => [a.name, a.change]));
  const newSlots = new Set(change.newSlots);
  const refused = change.to.audiences.filter((a) => a.steady
    && (kind.get(a.name) === 'added' || kind.get(a.name) === 'changed' || newSlots.has(a.steady.slot)));
  if (refused.length === 0) return undefined;
  const names = refused.map((a) => `"${a.name}"`).join(', ');
  return `the new rules add or change the steady audience${refused.length > 1 ? 's' : ''} ${names}: `
    + 'how long a steady audience\'s conditions have held cannot be rebuilt from history, so such a change is not deployed on running state; '
    + 'deploy it without that audience first (its members leave), or start the rules afresh with aud replay over the history';
}

/**
 * How a RuleChangeRefused message starts: an error crossing from a worker
 * thread keeps its message only (not its class), and the runtime must still
 * tell a refusal from a failure (isRuleChangeRefusal).
 */
const REFUSED = 'rule change refused: ';

/** Whether an error, possibly from a worker thread, is a RuleChangeRefused. */
export function isRuleChangeRefusal(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith(REFUSED);
}

/** A rule change the engine refuses (ruleChangeRefusal): the rules in force stay, and nothing was changed. */
export class RuleChangeRefused extends Error {
  readonly code = 'rule-change-refused';
  constructor(message: string) {
    super(REFUSED + message);
    this.name = 'RuleChangeRefused';
  }
}
