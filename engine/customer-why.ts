/**
 * The why view: "why is this customer in (or not in) this audience?"
 *
 * For each audience and each trait or score, the rule's expression tree with
 * the value of every node for one customer at one instant, which parts
 * decided the result, and when each value will next change with no new
 * event. Values come from the engine's own evaluation: every node is
 * compiled by the rules' compiler (RuleGraph.compilePart) and evaluated in a
 * CustomerScope, the scope the engine evaluates audiences in, so the why
 * shows what the engine computes and never a second reading of the rules.
 *
 * The JSON (what `aud why --json` prints, `GET /customers/ID/why` answers,
 * and the dashboard renders):
 *
 *     { customer, partition (number|null), asOf (ISO|null),
 *       audiences:   [{ name, member, version, value, nextChangeAt, expression: Node }],
 *       traits:      [{ name, kind: 'trait'|'score', value, nextChangeAt, expression: Node }],
 *       transitions: [{ audience, type: 'enter'|'leave', at, version, reason, cause? }],  newest first
 *       approximate: [aggregate text, ...],
 *       decisions:   [{ name, lastSent, version, value, verdict, offers: [...], caps, window, heldUntil }]  (decision-why.ts) }
 *     Node = { text, value, decisive, nextChangeAt (ISO|null), children: Node[] }
 *
 * `text` is the canonical text `aud explain` prints (dsl/plan-text.ts). A
 * chain of one operator (`a and b and c`) is one node with its parts as
 * children, as it reads; constants are not nodes (their text is their value).
 *
 * Decisive: the parts the result depends on. An `and` that is false: its
 * false parts (null: its null parts); true: all of them. `or` the mirror.
 * `not`, a comparison, arithmetic: all their parts. A part of a part that
 * did not decide did not decide either.
 *
 * nextChangeAt: the instant the engine wakes for (evaluate.ts, wakeAt), so
 * for an `and` whose first part is false, that part's instant only: the
 * others cannot change the result before it does. `in X` changes when X
 * does: its instant is X's, and counts in the audiences that use it.
 *
 * `member` is the stored membership, `value` the rule's value now: they
 * agree (value true exactly when member) once the engine has evaluated the
 * customer at this instant, which it has whenever it answers; except for a
 * steady audience, whose value is its enter condition and whose `steady`
 * says since when its conditions have held and when it next changes.
 */
import { exprText } from '../dsl/plan-text.js';
import type { Plan, PExpr, SteadyPlan, Value } from '../dsl/plan.js';
import { dwellDue, EMPTY_DWELL, type DwellState } from './dwell.js';
import { decisionsWhy, type DecisionWhy } from './decision-why.js';
import { aggregateAtBound } from './aggregate.js';
import { CustomerScope } from './customer-scope.js';
import { isMember, membershipVersion, type CustomerState } from './customer-state.js';
import type { Cause } from './input-record.js';
import type { ChangeReason } from './output-event.js';
import { RuleGraph } from './rule-graph.js';
import { transitionsOf, type Transition } from './transition-history.js';

export interface WhyNode {
  text: string;
  value: Value;
  decisive: boolean;
  nextChangeAt: string | null;
  children: WhyNode[];
}

export interface AudienceWhy {
  name: string;
  member: boolean;
  /** The version of the last enter/leave; 0: never entered. */
  version: number;
  /** The rule's value now; a steady audience's enter condition. */
  value: true | false | null;
  nextChangeAt: string | null;
  expression: WhyNode;
  /** A steady audience's delays (engine/dwell.ts): its membership follows its conditions with them. */
  steady?: SteadyWhy;
}

export interface SteadyWhy {
  /** The `leave when` condition; null: the enter condition not true. */
  leave: WhyNode | null;
  /** Since when the enter condition has held; null: it does not hold now. */
  enterHeldSince: string | null;
  /** Since when the leave condition has held (counted only while the enter condition is not true); null: it does not. */
  leaveHeldSince: string | null;
  /** The last enter or leave; null: none yet. */
  changedAt: string | null;
  /** When the customer enters (leaves, if a member) if the condition holds until then; null: not under way. */
  dueAt: string | null;
}

export interface TraitWhy {
  name: string;
  kind: 'trait' | 'score';
  value: Value;
  nextChangeAt: string | null;
  expression: WhyNode;
}

export interface TransitionWhy {
  audience: string;
  type: 'enter' | 'leave';
  at: string;
  version: number;
  reason: ChangeReason;
  cause?: Cause;
}

export interface CustomerWhy {
  customer: string;
  partition: number | null;
  asOf: string | null;
  audiences: AudienceWhy[];
  traits: TraitWhy[];
  transitions: TransitionWhy[];
  approximate: string[];
  /** Each decision: its offers' eligibility, scores, ranks and caps, and which offer it holds and why (decision-why.ts). */
  decisions: DecisionWhy<WhyNode>[];
}

/** One customer's state and where it comes from: what a why is made of, from a replay or a running partition. */
export interface WhyInput {
  plan: Plan;
  state: CustomerState;
  /** The clock (epoch ms); -Infinity before the partition's first event. */
  now: number;
  /** The input partition holding the customer; null when there is none (a replay). */
  partition: number | null;
  /** Newest first; default: those kept in the state (transition-history.ts), whose indexes follow the plan's audiences. */
  transitions?: Transition[];
  /** The plan's graph when the caller has one (a partition does); built otherwise. */
  graph?: RuleGraph;
}

/**
 * The why of one customer. Reading windowed aggregates may drop what left
 * their window from `state`, in place, as every evaluation does: a caller
 * that keeps the state marks those slots changed (PartitionTask.why).
 */
export function customerWhy(customer: string, input: WhyInput): CustomerWhy {
  const { plan, state, now } = input;
  const graph = input.graph ?? new RuleGraph(plan);
  const scope = new CustomerScope(plan, graph);
  scope.reset(now, state);
  const explainer = new NodeExplainer(plan, graph, scope);

  const traits: TraitWhy[] = plan.traits.map((t) => {
    const expression = explainer.explain(t.expr, true);
    return { name: t.name, kind: t.kind, value: expression.value, nextChangeAt: expression.nextChangeAt, expression };
  });
  const audiences: AudienceWhy[] = plan.audiences.map((a, i) => {
    const member = isMember(state, i);
    if (a.steady) return steadyWhy(explainer, a.name, a.expr, a.steady, member, membershipVersion(state, i), state.s[a.steady.slot] as DwellState | undefined, now);
    const expression = explainer.explainAudience(a.name, a.expr);
    return {
      name: a.name, member, version: membershipVersion(state, i),
      value: asBoolean(expression.value), nextChangeAt: expression.nextChangeAt, expression,
    };
  });
  const approximate: string[] = [];
  plan.slots.forEach((slot, i) => {
    if (slot.kind === 'aggregate' && aggregateAtBound(slot, state.s[i], now)) approximate.push(slot.text);
  });
  const decisions = decisionsWhy(plan, state, now, { explain: (e) => explainer.explain(e, true), trait: (name) => scope.trait(name) });
  return {
    customer, partition: input.partition, asOf: isoOrNull(now),
    audiences, traits, decisions,
    transitions: (input.transitions ?? transitionsOf(state.h, input.plan.audiences.map((a) => a.name))).map(transitionWhy),
    approximate,
  };
}

/**
 * A steady audience: its conditions, since when each has held, and when the
 * next enter or leave falls due; it next changes at the earliest of that
 * and the instants its conditions may change.
 */
function steadyWhy(explainer: NodeExplainer, name: string, enter: PExpr, plan: SteadyPlan, member: boolean, version: number, stored: DwellState | undefined, now: number): AudienceWhy {
  const expression = explainer.explain(enter, true);
  const leave = plan.leave ? explainer.explain(plan.leave, true) : null;
  const dwell = stored ?? EMPTY_DWELL;
  const due = dwellDue(plan, dwell, member);
  const at = (iso: string | null): number => (iso === null ? Infinity : Date.parse(iso));
  const next = Math.min(at(expression.nextChangeAt), at(leave?.nextChangeAt ?? null), due > now ? due : Infinity);
  explainer.audienceChangesAt(name, next);
  return {
    name, member, version, value: asBoolean(expression.value), nextChangeAt: isoOrNull(next), expression,
    steady: {
      leave, enterHeldSince: isoOrNull(dwell[0] ?? Infinity), leaveHeldSince: isoOrNull(dwell[1] ?? Infinity),
      changedAt: isoOrNull(dwell[2] ?? Infinity), dueAt: isoOrNull(due),
    },
  };
}

/** A transition as the why shows it: the instant as ISO text. */
export function transitionWhy(t: Transition): TransitionWhy {
  const out: TransitionWhy = { audience: t.audience, type: t.type, at: new Date(t.at).toISOString(), version: t.version, reason: t.reason };
  if (t.cause !== undefined) out.cause = t.cause;
  return out;
}

/** Evaluates each node of an expression on its own, in one scope pass. */
class NodeExplainer {
  /** Audience name → when its value may next change (epoch ms, Infinity: never), for `in X`. */
  private readonly audienceChanges = new Map<string, number>();

  constructor(private readonly plan: Plan, private readonly graph: RuleGraph, private readonly scope: CustomerScope) {}

  /** An audience's rule, remembering when it next changes for the audiences after it that name it with `in` (plan order puts them after). */
  explainAudience(name: string, e: PExpr): WhyNode {
    const node = this.explain(e, true);
    this.audienceChanges.set(name, node.nextChangeAt === null ? Infinity : Date.parse(node.nextChangeAt));
    return node;
  }

  /** A steady audience's next change, for the audiences that name it with `in`. */
  audienceChangesAt(name: string, at: number): void {
    this.audienceChanges.set(name, at);
  }

  explain(e: PExpr, decisive: boolean): WhyNode {
    const { value, wake } = this.evaluate(e);
    const parts = partsOf(e);
    const children = parts.map((p) => this.explain(p, decisive && decides(e, value, this.evaluate(p).value)));
    const changes = Math.min(wake, this.audienceWake(e));
    return { text: exprText(e, this.plan.slots), value, decisive, nextChangeAt: isoOrNull(changes), children };
  }

  /** The node's value and the instant the engine would wake for it. */
  private evaluate(e: PExpr): { value: Value; wake: number } {
    const value = this.scope.evaluateTop(this.graph.compilePart(e));
    return { value, wake: this.scope.wake };
  }

  /**
   * The earliest change of an audience named by `in` in the parts of `e`
   * the engine evaluates: `in X` is re-evaluated when X changes (its usedBy),
   * not by a wake of its own.
   */
  private audienceWake(e: PExpr): number {
    switch (e.op) {
      case 'audience': return this.audienceChanges.get(e.name) ?? Infinity;
      case 'and': case 'or': {
        const left = this.audienceWake(e.left);
        const leftValue = this.evaluate(e.left).value;
        // Short-circuited as the engine does: a right side not evaluated reports nothing.
        const stops = e.op === 'and' ? leftValue === false : leftValue === true;
        return stops ? left : Math.min(left, this.audienceWake(e.right));
      }
      default: return Math.min(Infinity, ...childrenOf(e).map((c) => this.audienceWake(c)));
    }
  }
}

/**
 * The parts of a node shown beneath it: a chain of the same `and` (or `or`)
 * as one list, as it reads; constants (`3`, `-2.0`) left out, their value
 * being their text.
 */
function partsOf(e: PExpr): PExpr[] {
  if (e.op === 'and' || e.op === 'or') return [...chain(e.left, e.op), ...chain(e.right, e.op)];
  return childrenOf(e).filter((c) => !isConstant(c));
}

/** Whether an expression reads nothing of the customer nor of the clock. */
function isConstant(e: PExpr): boolean {
  switch (e.op) {
    case 'const': return true;
    case 'field': case 'slot': case 'matched-within': case 'trait': case 'audience': case 'since': case 'now-compare': return false;
    default: return childrenOf(e).every(isConstant);
  }
}

function chain(e: PExpr, op: 'and' | 'or'): PExpr[] {
  return e.op === op ? [...chain(e.left, op), ...chain(e.right, op)] : [e];
}

function childrenOf(e: PExpr): PExpr[] {
  switch (e.op) {
    case 'const': case 'field': case 'slot': case 'matched-within': case 'trait': case 'audience': return [];
    case 'arith': case 'compare': case 'and': case 'or': case 'string-test': return [e.left, e.right];
    case 'not': case 'neg': case 'in-list': case 'since': return [e.operand];
    case 'math': return e.args;
    case 'now-compare': return [e.time];
  }
}

/** Whether a part whose value is `part` decided the value `whole` of node `e`. */
function decides(e: PExpr, whole: Value, part: Value): boolean {
  if (e.op === 'and') return whole === true || part === whole;
  if (e.op === 'or') return whole === false || part === whole;
  return true;
}

function asBoolean(v: Value): true | false | null {
  return v === true ? true : v === false ? false : null;
}

function isoOrNull(t: number): string | null {
  return Number.isFinite(t) ? new Date(t).toISOString() : null;
}
