/**
 * Planner: checked rule files → Plan.
 *
 * Runs only on files the checker passed, so it may assume every name
 * resolves and every type fits; it still never throws on a shape it does
 * not know (it reports an internal error instead of guessing).
 *
 * Its main job besides translation is sharing: every distinct aggregate,
 * sequence or absence becomes one slot, named by its canonical text, so
 * `count(purchase) over 90 days` used by a trait, an audience and a score is
 * kept once per customer.
 */
import { createHash } from 'node:crypto';
import type { AggregateExpr, AudienceDecl, CapClause, DecisionDecl, Expr, RuleFile, Step, ThenExpr, SequenceExpr } from './ast.js';
import {
  bucketWidthFor, DAY_MS, HOUR_MS, MINUTE_MS,
  type AudiencePlan, type CapPlan, type CompareOp, type DecisionPlan, type OfferPlan, type EventPlan, type FieldType, type MathFn, type PExpr,
  type Plan, type SlotPlan, type SteadyPlan, type SourcePlan, type StepPlan, type TraitPlan, type Value,
  MATH_FNS, MAX_TALLY_VALUES,
} from './plan.js';
import { exprText, durationText } from './plan-text.js';

export class PlanError extends Error {
  constructor(message: string) {
    super(`internal planner error: ${message} (please report this with the rule file)`);
    this.name = 'PlanError';
  }
}

const COMPARE_OPS = new Set(['==', '!=', '<', '<=', '>', '>=']);
const MATH_FN_NAMES = new Set<string>(MATH_FNS);
const SINCE_UNITS: Record<string, { unitMs: number; unit: 'days' | 'hours' | 'minutes' }> = {
  days_since: { unitMs: DAY_MS, unit: 'days' },
  hours_since: { unitMs: HOUR_MS, unit: 'hours' },
  minutes_since: { unitMs: MINUTE_MS, unit: 'minutes' },
};

export function buildPlan(files: readonly RuleFile[]): Plan {
  return new Planner(files).build();
}

class Planner {
  private readonly slots: SlotPlan[] = [];
  private readonly slotByText = new Map<string, number>();
  private readonly traitNames: Set<string>;

  constructor(private readonly files: readonly RuleFile[]) {
    this.traitNames = new Set(files.flatMap((f) => f.traits.map((t) => t.name.name)));
  }

  build(): Plan {
    const events: EventPlan[] = this.files.flatMap((f) => f.events.map((e) => ({
      name: e.name.name,
      fields: e.fields.map((fd) => ({ name: fd.name.name, type: fd.type.name as FieldType })),
    })));

    const traitDecls = this.files.flatMap((f) => f.traits);
    const traitsUnordered: TraitPlan[] = traitDecls.map((t) => {
      const expr = this.expr(t.expr, undefined);
      return { name: t.name.name, kind: t.kind, expr, text: exprText(expr, this.slots) };
    });
    const traits = topologicalOrder(traitsUnordered, (t) => namesUsed(t.expr, 'trait'));
    const traitByName = new Map(traits.map((t) => [t.name, t]));

    const audienceDecls = this.files.flatMap((f) => f.audiences);
    const audiencesUnordered: AudiencePlan[] = audienceDecls.map((a) => {
      const expr = this.expr(a.expr, undefined);
      const steady = this.steady(a, expr);
      const conditions = steady?.leave ? [expr, steady.leave] : [expr];
      const slots = new Set<number>();
      for (const c of conditions) collectSlots(c, traitByName, slots, new Set());
      const plan: AudiencePlan = {
        name: a.name.name,
        expr,
        text: exprText(expr, this.slots),
        slots: [...slots].sort((x, y) => x - y),
        audiences: [...new Set(conditions.flatMap((c) => namesUsed(c, 'audience')))],
        timeDependent: steady !== undefined || conditions.some((c) => isTimeDependent(c, traitByName, this.slots)),
      };
      if (a.description !== undefined) plan.description = a.description;
      if (steady) plan.steady = steady;
      return plan;
    });
    const audiences = topologicalOrder(audiencesUnordered, (a) => a.audiences);

    const offers: OfferPlan[] = this.files.flatMap((f) => f.offers).map((o) => {
      const score = this.expr(o.score ?? { kind: 'number', value: 0, span: o.span }, undefined);
      const plan: OfferPlan = { name: o.name.name, score, scoreText: exprText(score, this.slots), caps: o.caps.map(capPlan) };
      if (o.description !== undefined) plan.description = o.description;
      if (o.eligible) {
        plan.eligible = this.expr(o.eligible, undefined);
        plan.eligibleText = exprText(plan.eligible, this.slots);
      }
      return plan;
    });
    const decisions = this.files.flatMap((f) => f.decisions).map((d) => this.decision(d, offers));

    const feeds: Record<string, number[]> = {};
    this.slots.forEach((slot, index) => {
      for (const event of slotEvents(slot)) {
        const list = feeds[event] ?? (feeds[event] = []);
        // Slots go in ascending order, so a slot already listed (one fed twice by an event) is the last one.
        if (list[list.length - 1] !== index) list.push(index);
      }
    });

    const source = this.source();
    const outputTopic = this.files.flatMap((f) => f.outputs)[0]?.topic;
    // Offers and decisions join the fingerprint only when there are some, so rules without them keep theirs.
    const actions = offers.length > 0 || decisions.length > 0 ? { offers, decisions } : {};
    const body = { source, outputTopic, events, slots: this.slots, traits, audiences, feeds, ...actions };
    const fingerprint = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
    const plan: Plan = { fingerprint, source, events, slots: this.slots, traits, audiences, feeds, ...actions };
    if (outputTopic !== undefined) plan.outputTopic = outputTopic;
    return plan;
  }

  private source(): SourcePlan {
    const decl = this.files.map((f) => f.source).find((s) => s !== undefined);
    const source: SourcePlan = {
      typeField: decl?.type?.name ?? 'type',
      timeField: decl?.time?.name ?? 'ts',
      format: decl?.format?.name === 'avro' ? 'avro' : 'json',
    };
    if (decl?.topic !== undefined) source.topic = decl.topic;
    if (decl?.key !== undefined) source.keyField = decl.key.name;
    if (decl?.identity !== undefined) {
      source.identity = {
        fields: decl.identity.fields.map((f, i) => ({ name: f.name.name, limit: f.limit?.value ?? (i === 0 ? 1 : null) })),
        block: decl.identity.block.map((b) => b.value),
      };
    }
    return source;
  }

  /**
   * Translate an expression. `filtering` names the event whose fields bare
   * names refer to (inside `where` and step filters), else undefined.
   */
  private expr(e: Expr, filtering: string | undefined): PExpr {
    switch (e.kind) {
      case 'number': return { op: 'const', value: e.value };
      case 'string': return { op: 'const', value: e.value };
      case 'bool': return { op: 'const', value: e.value };
      case 'null': return { op: 'const', value: null };
      case 'duration': return { op: 'const', value: e.ms };
      case 'time': return { op: 'const', value: e.ms };
      case 'name':
        if (filtering !== undefined) return { op: 'field', name: e.name.name };
        if (this.traitNames.has(e.name.name)) return { op: 'trait', name: e.name.name };
        throw new PlanError(`unresolved name "${e.name.name}"`);
      case 'field':
        if (filtering !== undefined) return { op: 'field', name: e.field.name };
        throw new PlanError(`field ${e.event.name}.${e.field.name} outside an aggregate`);
      case 'in-audience': return { op: 'audience', name: e.audience.name };
      case 'unary':
        return e.op === 'not'
          ? { op: 'not', operand: this.expr(e.operand, filtering) }
          : { op: 'neg', operand: this.expr(e.operand, filtering) };
      case 'in-list':
        return { op: 'in-list', operand: this.expr(e.operand, filtering), values: e.values.map(literalValue) };
      case 'binary': return this.binary(e.op, e.left, e.right, filtering);
      case 'call': return this.call(e.fn.name, e.args, filtering);
      case 'aggregate': return { op: 'slot', slot: this.aggregateSlot(e, undefined) };
      case 'then': return { op: 'slot', slot: this.thenSlot(e) };
      case 'sequence': return { op: 'slot', slot: this.sequenceSlot(e) };
      case 'over': {
        const inner = e.operand;
        if (inner.kind === 'aggregate') return { op: 'slot', slot: this.aggregateSlot(inner, e.window.ms) };
        if (inner.kind === 'then') return { op: 'matched-within', slot: this.thenSlot(inner), windowMs: e.window.ms };
        if (inner.kind === 'sequence') return { op: 'matched-within', slot: this.sequenceSlot(inner), windowMs: e.window.ms };
        throw new PlanError(`"over" on a ${inner.kind}`);
      }
    }
  }

  private binary(op: string, left: Expr, right: Expr, filtering: string | undefined): PExpr {
    if (COMPARE_OPS.has(op)) {
      const nowSide = (x: Expr) => nowOffset(x);
      const l = nowSide(left);
      const r = nowSide(right);
      if (r !== undefined) return { op: 'now-compare', fn: op as CompareOp, time: this.expr(left, filtering), offsetMs: r, nowOnLeft: false };
      if (l !== undefined) return { op: 'now-compare', fn: op as CompareOp, time: this.expr(right, filtering), offsetMs: l, nowOnLeft: true };
      return { op: 'compare', fn: op as CompareOp, left: this.expr(left, filtering), right: this.expr(right, filtering) };
    }
    const l = this.expr(left, filtering);
    const r = this.expr(right, filtering);
    switch (op) {
      case '+': case '-': case '*': case '/': return { op: 'arith', fn: op, left: l, right: r };
      case 'and': return { op: 'and', left: l, right: r };
      case 'or': return { op: 'or', left: l, right: r };
      case 'contains': case 'starts_with': case 'ends_with': return { op: 'string-test', fn: op, left: l, right: r };
      default: throw new PlanError(`operator ${op}`);
    }
  }

  private call(fn: string, args: Expr[], filtering: string | undefined): PExpr {
    const since = SINCE_UNITS[fn];
    if (since && args[0]) return { op: 'since', unitMs: since.unitMs, unit: since.unit, operand: this.expr(args[0], filtering) };
    if (MATH_FN_NAMES.has(fn)) return { op: 'math', fn: fn as MathFn, args: args.map((a) => this.expr(a, filtering)) };
    if (fn === 'now') throw new PlanError('now() outside a comparison');
    throw new PlanError(`function ${fn}`);
  }

  private aggregateSlot(e: AggregateExpr, windowMs: number | undefined): number {
    const where = e.where ? this.expr(e.where, e.event.name) : undefined;
    const base = {
      fn: e.fn,
      event: e.event.name,
      ...(e.field ? { field: e.field.name } : {}),
      ...(where ? { where } : {}),
    };
    const arg = `${e.event.name}${e.field ? '.' + e.field.name : ''}${where ? ' where ' + exprText(where, this.slots) : ''}`;
    const text = `${e.fn}(${arg})${windowMs !== undefined ? ' over ' + durationText(windowMs) : ''}`;
    return this.intern(text, () => ({
      kind: 'aggregate', id: slotId(text), text, ...base,
      ...(windowMs !== undefined ? { windowMs, bucketMs: bucketWidthFor(windowMs) } : {}),
      ...(e.fn === 'distinct' || e.fn === 'top' ? { maxValues: MAX_TALLY_VALUES } : {}),
    }));
  }

  private thenSlot(e: ThenExpr): number {
    const first = this.step(e.first);
    const second = this.step(e.second);
    const text = `${stepText(first, this.slots)} then ${e.negated ? 'not ' : ''}${stepText(second, this.slots)} within ${durationText(e.within.ms)}`;
    if (e.negated) {
      return this.intern(text, () => ({ kind: 'absence', id: slotId(text), text, first, second, withinMs: e.within.ms }));
    }
    return this.intern(text, () => ({ kind: 'sequence', id: slotId(text), text, steps: [first, second], withinMs: e.within.ms }));
  }

  private sequenceSlot(e: SequenceExpr): number {
    const steps = e.steps.map((s) => this.step(s));
    // A two-step sequence is the same thing as `A then B`: share its state.
    const text = steps.length === 2
      ? `${stepText(steps[0]!, this.slots)} then ${stepText(steps[1]!, this.slots)} within ${durationText(e.within.ms)}`
      : `sequence(${steps.map((s) => stepText(s, this.slots)).join(', ')}) within ${durationText(e.within.ms)}`;
    return this.intern(text, () => ({ kind: 'sequence', id: slotId(text), text, steps, withinMs: e.within.ms }));
  }

  private step(s: Step): StepPlan {
    return s.where ? { event: s.event.name, where: this.expr(s.where, s.event.name) } : { event: s.event.name };
  }

  /**
   * The steady part of a clause audience, or undefined when it has none that
   * matters: `enter when X` alone is the audience `{ X }`, since leaving
   * when X is not true, at once, is the default.
   */
  private steady(a: AudienceDecl, enter: PExpr): SteadyPlan | undefined {
    if (!a.clauses) return undefined;
    const clause = (key: string) => a.clauses!.find((c) => c.key === key)?.value;
    const ms = (key: string): number => {
      const v = clause(key);
      return v?.kind === 'duration' ? v.ms : 0;
    };
    const leaveExpr = clause('leave when');
    const enterAfterMs = ms('enter after');
    const leaveAfterMs = ms('leave after');
    const stayMs = ms('stay at least');
    if (!leaveExpr && enterAfterMs === 0 && leaveAfterMs === 0 && stayMs === 0) return undefined;
    const leave = leaveExpr ? this.expr(leaveExpr, undefined) : undefined;
    const leaveText = leave ? exprText(leave, this.slots) : undefined;
    const text = `dwell ${a.name.name}: enter when ${exprText(enter, this.slots)}` + (leaveText !== undefined ? `; leave when ${leaveText}` : '')
      + `; enter after ${enterAfterMs} ms; leave after ${leaveAfterMs} ms; stay at least ${stayMs} ms`;
    const slot = this.intern(text, () => ({ kind: 'dwell', id: slotId(text), text, audience: a.name.name }));
    const plan: SteadyPlan = { enterAfterMs, leaveAfterMs, stayMs, slot };
    if (leave) { plan.leave = leave; plan.leaveText = leaveText!; }
    return plan;
  }

  /** A decision, with its state slot named by everything it is. */
  private decision(d: DecisionDecl, offers: OfferPlan[]): DecisionPlan {
    const indexes = d.offers.map((o) => offers.findIndex((p) => p.name === o.name));
    if (indexes.some((i) => i < 0)) throw new PlanError(`decision ${d.name.name} names an offer that is not declared`);
    const plan: DecisionPlan = { name: d.name.name, offers: indexes, caps: d.caps.map(capPlan), slot: -1 };
    if (d.description !== undefined) plan.description = d.description;
    const w = d.deliver;
    if (w) {
      plan.window = { startMinute: w.start.minute, endMinute: w.end.minute };
      if (w.zone) plan.window.zone = w.zone.name;
      if (w.zoneTrait) plan.window.zoneTrait = w.zoneTrait.name;
      if (w.defaultZone) plan.window.defaultZone = w.defaultZone.name;
    }
    // Named by the decision alone: a rule change that changes the decision keeps what was sent and what its caps count.
    const text = `decision ${d.name.name}`;
    plan.slot = this.intern(text, () => ({ kind: 'decision', id: slotId(text), text, decision: d.name.name }));
    return plan;
  }

  private intern(text: string, make: () => SlotPlan): number {
    const existing = this.slotByText.get(text);
    if (existing !== undefined) return existing;
    const index = this.slots.length;
    this.slots.push(make());
    this.slotByText.set(text, index);
    return index;
  }
}

function stepText(s: StepPlan, slots: readonly SlotPlan[]): string {
  return s.where ? `${s.event} where ${exprText(s.where, slots)}` : s.event;
}

function slotId(text: string): string {
  return createHash('sha1').update(text).digest('base64url').slice(0, 10);
}

/** `now()` → 0, `now() + D` → D, `now() - D` → -D; anything else undefined. */
function nowOffset(e: Expr): number | undefined {
  if (e.kind === 'call' && e.fn.name === 'now' && e.args.length === 0) return 0;
  if (e.kind === 'binary' && (e.op === '+' || e.op === '-') && e.right.kind === 'duration') {
    const base = nowOffset(e.left);
    if (base !== undefined) return e.op === '+' ? base + e.right.ms : base - e.right.ms;
  }
  return undefined;
}

function literalValue(e: Expr): Value {
  switch (e.kind) {
    case 'number': case 'string': case 'bool': return e.value;
    case 'duration': case 'time': return e.ms;
    case 'null': return null;
    case 'unary':
      if (e.op === '-' && e.operand.kind === 'number') return -e.operand.value;
      throw new PlanError('non-literal in an in-list');
    default: throw new PlanError('non-literal in an in-list');
  }
}

function slotEvents(slot: SlotPlan): string[] {
  switch (slot.kind) {
    case 'aggregate': return [slot.event];
    case 'sequence': return slot.steps.map((s) => s.event);
    case 'absence': return [slot.first.event, slot.second.event];
    case 'dwell': return [];
    case 'decision': return [];
  }
}

/** Children of a plan expression, for the walks below and for printing. */
export function children(e: PExpr): PExpr[] {
  switch (e.op) {
    case 'arith': case 'compare': case 'and': case 'or': case 'string-test': return [e.left, e.right];
    case 'not': case 'neg': case 'in-list': case 'since': return [e.operand];
    case 'math': return e.args;
    case 'now-compare': return [e.time];
    default: return [];
  }
}

function namesUsed(e: PExpr, kind: 'trait' | 'audience'): string[] {
  const out: string[] = [];
  const walk = (x: PExpr): void => {
    if (x.op === kind) out.push(x.name);
    children(x).forEach(walk);
  };
  walk(e);
  return out;
}

function collectSlots(e: PExpr, traits: Map<string, TraitPlan>, into: Set<number>, seen: Set<string>): void {
  if (e.op === 'slot' || e.op === 'matched-within') into.add(e.slot);
  if (e.op === 'trait' && !seen.has(e.name)) {
    seen.add(e.name);
    const t = traits.get(e.name);
    if (t) collectSlots(t.expr, traits, into, seen);
  }
  for (const c of children(e)) collectSlots(c, traits, into, seen);
}

function isTimeDependent(e: PExpr, traits: Map<string, TraitPlan>, slots: readonly SlotPlan[]): boolean {
  switch (e.op) {
    case 'since': case 'now-compare': case 'matched-within': return true;
    case 'slot': {
      const s = slots[e.slot]!;
      return s.kind === 'absence' || (s.kind === 'aggregate' && s.windowMs !== undefined);
    }
    case 'trait': {
      const t = traits.get(e.name);
      return t ? isTimeDependent(t.expr, traits, slots) : false;
    }
    default: return children(e).some((c) => isTimeDependent(c, traits, slots));
  }
}

/**
 * Order items so that each comes after the ones it names; ties keep
 * declaration order. The checker has rejected cycles; should one slip
 * through, the remaining items keep their order rather than vanish.
 */
function topologicalOrder<T extends { name: string }>(items: T[], deps: (t: T) => string[]): T[] {
  const byName = new Map(items.map((i) => [i.name, i]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: T[] = [];
  const visit = (item: T): void => {
    if (done.has(item.name) || visiting.has(item.name)) return;
    visiting.add(item.name);
    for (const d of deps(item)) {
      const dep = byName.get(d);
      if (dep) visit(dep);
    }
    visiting.delete(item.name);
    done.add(item.name);
    out.push(item);
  };
  items.forEach(visit);
  return out;
}

function capPlan(c: CapClause): CapPlan {
  return { count: c.count, windowMs: c.per.ms };
}
