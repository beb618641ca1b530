/**
 * RuleGraph: a plan compiled for one partition, with the edges that say
 * which audience can change when a slot does.
 *
 *     slot ──▶ SlotComparison ──▶ audiences that use it (directly or in a trait)
 *     slot ──────────────────────▶ audiences that read its value otherwise
 *     audience ──────────────────▶ audiences that name it with `in`
 *
 * An event changes a few slots. Audiences that read such a slot's value
 * are evaluated again; through a comparison, only when the comparison's
 * result changed, or when its flip instant may have moved earlier than the
 * wake the audience already has (see `flipsOnlyLater`). With hundreds of
 * audiences over the same few aggregates under different thresholds, most
 * events move a count without crossing any threshold, and evaluate nothing.
 */
import type { AggregateSlot, DecisionPlan, OfferPlan, Plan, PExpr, SteadyPlan, Value } from '../dsl/plan.js';
import { aggregateChangesWhenRead } from './aggregate.js';
import { ExpressionCompiler, type Compiled, type ExpressionInputs, type SlotComparison } from './evaluate.js';

export interface CompiledAudience {
  readonly name: string;
  /** The audience's expression; a steady audience's enter condition. */
  readonly evaluate: Compiled;
  /** A steady audience's plan and its `leave when` compiled (absent: not the enter condition). */
  readonly steady: { readonly plan: SteadyPlan; readonly leave: Compiled | undefined } | undefined;
  /** Audiences (indexes, all later in plan order) that name this one with `in`. */
  readonly usedBy: number[];
}

/** A decision with its offers' eligibility (absent: always) and score compiled, in the order of its `offers`. */
export interface CompiledDecision {
  readonly plan: DecisionPlan;
  readonly offers: readonly { readonly plan: OfferPlan; readonly eligible: Compiled | undefined; readonly score: Compiled }[];
}

export class RuleGraph {
  readonly audiences: CompiledAudience[];
  /** Decisions, their offers compiled with the rules' comparison table. */
  readonly decisions: CompiledDecision[];
  /**
   * Slot index → 1 when an offer of a decision reads it (directly, through
   * a comparison or a trait) or the send window's zone trait does; audience
   * index → 1 when an offer names it with `in`. A customer's decisions are
   * evaluated again only when one of these changed or their wake is due:
   * their value is a function of what they read and of the instant, and
   * every instant time alone can change it is a wake.
   */
  readonly decisionSlots: Uint8Array;
  readonly decisionAudiences: Uint8Array;
  readonly traits = new Map<string, { index: number; evaluate: Compiled }>();
  readonly comparisons: readonly SlotComparison[];
  /** Slot index → audiences that read the slot other than through a comparison. */
  readonly readersOfSlot: number[][];
  /** Slot index → the comparisons of that slot. */
  readonly comparisonsOfSlot: SlotComparison[][];
  /** Comparison index → audiences that use it. */
  readonly audiencesOfComparison: number[][];
  /** Audience index → the windowed aggregates (slot indexes) it reads, directly, through a comparison or a trait. */
  readonly windowedSlotsOfAudience: number[][];
  /** Slot index → 1 when reading the slot's state may shorten it in place (aggregateChangesWhenRead). */
  readonly changesWhenRead: Uint8Array;
  /** Audience name → audience index. */
  readonly audienceByName = new Map<string, number>();
  private readonly filters = new Map<PExpr, Compiled>();
  private readonly filterCompiler = new ExpressionCompiler();
  /** The rules' compiler, kept for compilePart: its comparison table is `comparisons`. */
  private readonly compiler = new ExpressionCompiler();

  constructor(plan: Plan) {
    const compiler = this.compiler;
    const traitInputs = new Map<string, ExpressionInputs>();
    plan.traits.forEach((t, index) => {
      const { fn, inputs } = compiler.compileWithInputs(t.expr);
      this.traits.set(t.name, { index, evaluate: fn });
      // Traits come after the traits they use: theirs are known already.
      traitInputs.set(t.name, withTraits(inputs, traitInputs));
    });
    plan.audiences.forEach((a, i) => this.audienceByName.set(a.name, i));
    const compiled = plan.audiences.map((a) => {
      const { fn, inputs } = compiler.compileWithInputs(a.expr);
      let leave: Compiled | undefined;
      if (a.steady?.leave) {
        // A steady audience is evaluated again when what either condition reads changes.
        const l = compiler.compileWithInputs(a.steady.leave);
        leave = l.fn;
        for (const x of l.inputs.slots) inputs.slots.add(x);
        for (const x of l.inputs.comparisons) inputs.comparisons.add(x);
        for (const x of l.inputs.traits) inputs.traits.add(x);
      }
      return { fn, leave, inputs: withTraits(inputs, traitInputs) };
    });
    this.decisionSlots = new Uint8Array(plan.slots.length);
    this.decisionAudiences = new Uint8Array(plan.audiences.length);
    const offerInputs = (e: PExpr): Compiled => {
      const { fn, inputs } = compiler.compileWithInputs(e);
      const all = withTraits(inputs, traitInputs);
      for (const x of all.slots) this.decisionSlots[x] = 1;
      for (const c of all.comparisons) this.decisionSlots[compiler.comparisons[c]!.slot] = 1;
      for (const name of audiencesNamed(e, plan)) this.decisionAudiences[this.audienceByName.get(name)!] = 1;
      return fn;
    };
    const used = new Set((plan.decisions ?? []).flatMap((d) => d.offers));
    const offers = (plan.offers ?? []).map((o, i) => (used.has(i)
      ? { plan: o, eligible: o.eligible ? offerInputs(o.eligible) : undefined, score: offerInputs(o.score) }
      : undefined));
    this.decisions = (plan.decisions ?? []).map((d) => ({ plan: d, offers: d.offers.map((i) => offers[i]!) }));
    // A send window's zone from a trait: a change of the trait's value may open or close the window.
    for (const d of plan.decisions ?? []) {
      const trait = d.window?.zoneTrait !== undefined ? traitInputs.get(d.window.zoneTrait) : undefined;
      if (!trait) continue;
      for (const x of trait.slots) this.decisionSlots[x] = 1;
      for (const c of trait.comparisons) this.decisionSlots[compiler.comparisons[c]!.slot] = 1;
    }
    this.comparisons = compiler.comparisons;
    this.changesWhenRead = Uint8Array.from(plan.slots, (slot) => (slot.kind === 'aggregate' && aggregateChangesWhenRead(slot) ? 1 : 0));
    this.readersOfSlot = plan.slots.map(() => []);
    this.comparisonsOfSlot = plan.slots.map(() => []);
    this.audiencesOfComparison = this.comparisons.map(() => []);
    for (const c of this.comparisons) this.comparisonsOfSlot[c.slot]!.push(c);
    const windowed = (slot: number): boolean => {
      const s = plan.slots[slot]!;
      return s.kind === 'aggregate' && s.windowMs !== undefined;
    };
    this.windowedSlotsOfAudience = [];
    this.audiences = plan.audiences.map((a, i) => {
      const { inputs } = compiled[i]!;
      const read = new Set<number>();
      for (const s of inputs.slots) {
        this.readersOfSlot[s]!.push(i);
        if (windowed(s)) read.add(s);
      }
      for (const c of inputs.comparisons) {
        this.audiencesOfComparison[c]!.push(i);
        const s = this.comparisons[c]!.slot;
        if (windowed(s)) read.add(s);
      }
      this.windowedSlotsOfAudience.push([...read]);
      return { name: a.name, evaluate: compiled[i]!.fn, steady: a.steady ? { plan: a.steady, leave: compiled[i]!.leave } : undefined, usedBy: [] };
    });
    plan.audiences.forEach((a, i) => {
      for (const name of a.audiences) {
        const used = this.audienceByName.get(name);
        if (used !== undefined) this.audiences[used]!.usedBy.push(i);
      }
    });
  }

  /**
   * A part of one of the rules' expressions (an audience's or a trait's, or
   * any node inside one), compiled with the comparison table of the whole,
   * so that a CustomerScope built on this graph evaluates it: the why view
   * (customer-why.ts) evaluates every node of a rule on its own. Every part
   * of the rules was compiled once already, so this adds no comparison.
   */
  compilePart(e: PExpr): Compiled {
    return this.compiler.compile(e);
  }

  /** A `where` or step filter, compiled on first use. */
  filter(expr: PExpr): Compiled {
    let fn = this.filters.get(expr);
    if (!fn) {
      fn = this.filterCompiler.compile(expr);
      this.filters.set(expr, fn);
    }
    return fn;
  }
}

/** The audiences an expression names with `in`, through the traits it names too. */
function audiencesNamed(e: PExpr, plan: Plan, out = new Set<string>(), seen = new Set<string>()): Set<string> {
  if (e.op === 'audience') out.add(e.name);
  if (e.op === 'trait' && !seen.has(e.name)) {
    seen.add(e.name);
    const t = plan.traits.find((x) => x.name === e.name);
    if (t) audiencesNamed(t.expr, plan, out, seen);
  }
  for (const v of Object.values(e)) {
    if (Array.isArray(v)) { for (const x of v) if (x !== null && typeof x === 'object' && 'op' in x) audiencesNamed(x as PExpr, plan, out, seen); }
    else if (v !== null && typeof v === 'object' && 'op' in v) audiencesNamed(v as PExpr, plan, out, seen);
  }
  return out;
}

/** An expression's inputs with those of the traits it names folded in. */
function withTraits(inputs: ExpressionInputs, traitInputs: Map<string, ExpressionInputs>): ExpressionInputs {
  for (const name of inputs.traits) {
    const t = traitInputs.get(name);
    if (!t) continue;
    for (const s of t.slots) inputs.slots.add(s);
    for (const c of t.comparisons) inputs.comparisons.add(c);
  }
  return inputs;
}

/**
 * After adding `added` to an aggregate whose comparison `c` came out the
 * same before and after, can the instant that comparison next flips by time
 * alone only have moved later (or stayed)? Then an audience's stored wake,
 * computed with the old instant, is early at worst: it wakes, evaluates
 * again and finds the new one; nothing needs evaluating now.
 *
 * It holds when the aggregate's future values after the event are at least
 * those before it at every instant, and only fall as buckets leave (or the
 * mirror: at most, only rising), for an ordered comparison (a threshold):
 * a threshold that was met stays met at least as long, and one that was not
 * met cannot become met by time alone. Counts, max, min and sums of
 * non-negative amounts are such; avg, first, last, distinct and top are not.
 * An all-time aggregate never changes by time: no instant to move.
 */
export function flipsOnlyLater(slot: AggregateSlot, c: SlotComparison, added: Value, state: unknown): boolean {
  if (slot.windowMs === undefined) return true;
  if (!c.ordered) return false;
  switch (slot.fn) {
    case 'count': case 'max': case 'min': return true;
    case 'sum': return typeof added === 'number' && added >= 0 && noNegativeBucket(state);
    default: return false;
  }
}

/** A windowed sum's bucket list ([start, partial, ...]) holds no negative partial. */
function noNegativeBucket(state: unknown): boolean {
  const buckets = state as number[] | undefined;
  if (buckets === undefined) return true;
  for (let i = 1; i < buckets.length; i += 2) if (!(buckets[i]! >= 0)) return false;
  return true;
}
