/**
 * CustomerScope: evaluation over one customer's state at one instant, the
 * EvalScope the engine evaluates audiences and traits in (PartitionTask) and
 * the why view evaluates every part of them in (customer-why.ts), so that
 * both see the same values and the same wake instants.
 */
import type { Plan, Value } from '../dsl/plan.js';
import { aggregateFlipTime, aggregateNextChange, aggregateValue } from './aggregate.js';
import { emptyCustomerState, isMember, slotChanged, type CustomerState } from './customer-state.js';
import type { Compiled, EvalScope, SlotComparison } from './evaluate.js';
import type { RuleGraph } from './rule-graph.js';
import { absenceDue, sequenceMatchTime, type AbsenceState, type SequenceState } from './sequence.js';

/** The length of a slot's state that reading may shorten in place (RuleGraph.changesWhenRead), before reading it; -1 for any other. */
export function lengthBeforeRead(graph: RuleGraph, cs: CustomerState, index: number): number {
  if (graph.changesWhenRead[index] === 0) return -1;
  const state = cs.s[index] as unknown[] | undefined;
  return state === undefined ? -1 : state.length;
}

/** A read that dropped entries changed the state: its bytes must be encoded again. */
export function afterRead(cs: CustomerState, index: number, lengthBefore: number): void {
  if (lengthBefore >= 0 && (cs.s[index] as unknown[]).length !== lengthBefore) slotChanged(cs, index);
}

/**
 * Evaluation over one customer's state at one instant. Slot values,
 * comparisons and traits are computed once per pass and remembered with the
 * instant they may next change, which is added to the wake of every audience
 * that uses them.
 */
export class CustomerScope implements EvalScope {
  wake = Infinity;
  now = 0;
  private cs: CustomerState = emptyCustomerState(0, 0);
  // Memos: valid where their pass entry is the current pass (no clearing
  // between customers; float64, so it does not wrap in the life of a process).
  private pass = 0;
  private readonly slotPass: Float64Array;
  private readonly slotValue: Value[];
  private readonly slotWake: Float64Array;
  private readonly comparisonPass: Float64Array;
  private readonly comparisonValue: Value[];
  private readonly comparisonWake: Float64Array;
  private readonly traitPass: Float64Array;
  private readonly traitValue: Value[];
  private readonly traitWake: Float64Array;

  constructor(private readonly plan: Plan, private readonly graph: RuleGraph) {
    const slots = plan.slots.length;
    this.slotPass = new Float64Array(slots);
    this.slotValue = new Array<Value>(slots).fill(null);
    this.slotWake = new Float64Array(slots);
    const comparisons = graph.comparisons.length;
    this.comparisonPass = new Float64Array(comparisons);
    this.comparisonValue = new Array<Value>(comparisons).fill(null);
    this.comparisonWake = new Float64Array(comparisons);
    const traits = plan.traits.length;
    this.traitPass = new Float64Array(traits);
    this.traitValue = new Array<Value>(traits).fill(null);
    this.traitWake = new Float64Array(traits);
  }

  /** Start a pass over one customer's state at one instant. */
  reset(now: number, cs: CustomerState): void {
    this.now = now;
    this.cs = cs;
    this.pass++;
  }

  evaluateTop(fn: Compiled): Value {
    this.wake = Infinity;
    return fn(this);
  }

  wakeAt(t: number): void {
    if (t > this.now && t < this.wake) this.wake = t;
  }

  field(): Value { return null; }

  audience(name: string): boolean {
    const i = this.graph.audienceByName.get(name);
    return i !== undefined && isMember(this.cs, i);
  }

  slot(index: number): Value {
    this.memoize(index);
    this.wakeAt(this.slotWake[index]!);
    return this.slotValue[index]!;
  }

  compared(c: SlotComparison): Value {
    const i = c.index;
    if (this.comparisonPass[i] !== this.pass) {
      const slot = this.plan.slots[c.slot]!;
      this.memoize(c.slot);
      const value = this.slotValue[c.slot]!;
      const slotWake = this.slotWake[c.slot]!;
      const result = c.test(value);
      let wake: number;
      if (slotWake === Infinity) wake = Infinity;
      else if (slot.kind !== 'aggregate') wake = slotWake;
      else {
        const length = lengthBeforeRead(this.graph, this.cs, c.slot);
        wake = aggregateFlipTime(slot, this.cs.s[c.slot], this.now, (later) => c.test(later) !== result, value, c.ordered);
        afterRead(this.cs, c.slot, length);
      }
      this.comparisonPass[i] = this.pass;
      this.comparisonValue[i] = result;
      this.comparisonWake[i] = wake;
    }
    this.wakeAt(this.comparisonWake[i]!);
    return this.comparisonValue[i]!;
  }

  private memoize(index: number): void {
    if (this.slotPass[index] === this.pass) return;
    const slot = this.plan.slots[index]!;
    const state = this.cs.s[index];
    const now = this.now;
    let value: Value;
    let wake = Infinity;
    switch (slot.kind) {
      case 'aggregate': {
        const length = lengthBeforeRead(this.graph, this.cs, index);
        value = aggregateValue(slot, state, now);
        wake = aggregateNextChange(slot, state, now);
        afterRead(this.cs, index, length);
        break;
      }
      case 'sequence':
        value = sequenceMatchTime(state as SequenceState | undefined) !== null;
        break;
      case 'absence': {
        const due = absenceDue(slot, state as AbsenceState | undefined);
        if (due === null) value = false;
        else if (due > now) { value = false; wake = due; } else value = true;
        break;
      }
      // Read by no expression: its audience's or decision's evaluation reads it (dwell.ts, decision.ts).
      case 'dwell':
      case 'decision':
        value = null;
        break;
    }
    this.slotPass[index] = this.pass;
    this.slotValue[index] = value;
    this.slotWake[index] = wake;
  }

  matchTime(index: number): number | null {
    const slot = this.plan.slots[index]!;
    const state = this.cs.s[index];
    if (slot.kind === 'sequence') return sequenceMatchTime(state as SequenceState | undefined);
    if (slot.kind === 'absence') {
      const due = absenceDue(slot, state as AbsenceState | undefined);
      if (due === null) return null;
      if (due > this.now) { this.wakeAt(due); return null; }
      return due;
    }
    return null;
  }

  trait(name: string): Value {
    const t = this.graph.traits.get(name);
    if (!t) return null;
    const i = t.index;
    if (this.traitPass[i] !== this.pass) {
      const outer = this.wake;
      this.wake = Infinity;
      this.traitValue[i] = t.evaluate(this);
      this.traitWake[i] = this.wake;
      this.traitPass[i] = this.pass;
      this.wake = outer;
    }
    this.wakeAt(this.traitWake[i]!);
    return this.traitValue[i]!;
  }
}
