/**
 * The plan: what the engine runs, as plain typed data.
 *
 * The planner (dsl/planner.ts) builds it from checked rule files; the engine
 * runs it without knowing anything of the parser; `aud explain` prints it;
 * tests compare it. It holds no functions and no classes, so it can be sent
 * to worker threads as is (structured clone) and hashed to a fingerprint.
 *
 * Values at run time are `number | string | boolean | null`. Times and
 * durations are numbers of milliseconds (epoch ms for times), so that the
 * engine needs no type tags: the checker already proved the types right.
 */
import type { AggregateFn } from './ast.js';

export type Value = number | string | boolean | null;

export type FieldType = 'number' | 'string' | 'bool' | 'time';

export interface Plan {
  /** Hash of everything below: state written under one plan is read back under the same meaning. */
  fingerprint: string;
  source: SourcePlan;
  /** Topic for enter/leave events; undefined when no file declares `output`. */
  outputTopic?: string;
  events: EventPlan[];
  /** Shared per-customer states: one per distinct aggregate, sequence or absence. */
  slots: SlotPlan[];
  /** Traits and scores, in dependency order (a trait comes after the traits it uses). */
  traits: TraitPlan[];
  /** Audiences in dependency order (`in X` puts X first), declaration order otherwise. */
  audiences: AudiencePlan[];
  /** Event type → indexes into `slots` of the states that event type feeds. */
  feeds: Record<string, number[]>;
  /** Offers (activation.md, section 2), in declaration order; absent when the rules declare none. */
  offers?: OfferPlan[];
  /** Decisions, in declaration order; absent when the rules declare none. */
  decisions?: DecisionPlan[];
}

/** `offer NAME { eligible EXPR  score EXPR  cap N per W }` */
export interface OfferPlan {
  name: string;
  description?: string;
  /** Absent: always eligible. */
  eligible?: PExpr;
  eligibleText?: string;
  score: PExpr;
  scoreText: string;
  caps: CapPlan[];
}

/** `cap N per W`: at most `count` decision events in any `windowMs`. */
export interface CapPlan {
  count: number;
  windowMs: number;
}

/** `decision NAME { offers ...  cap ...  deliver between ... }` (engine/decision.ts runs it). */
export interface DecisionPlan {
  name: string;
  description?: string;
  /** Indexes into `offers`, in the order written: ties of score go to the first. */
  offers: number[];
  caps: CapPlan[];
  window?: SendWindowPlan;
  /** Index into `slots` of the decision's DecisionSlot. */
  slot: number;
}

/** `deliver between 09:00 and 20:00 in ZONE`: open while the local time of day is in [start, end), wrapping midnight when start > end. */
export interface SendWindowPlan {
  /** Minutes after local midnight. */
  startMinute: number;
  endMinute: number;
  /** The zone, as written; absent when it comes from a trait. */
  zone?: string;
  /** A string trait holding the customer's zone, and the zone when it is null or names no zone. */
  zoneTrait?: string;
  defaultZone?: string;
}

export interface SourcePlan {
  topic?: string;
  /** Field holding the customer id; undefined: the Kafka message key (or `identity`). */
  keyField?: string;
  /** Identifier fields instead of a key (customer-lifecycle.md, section 2); absent: the customer is the key. */
  identity?: IdentityPlan;
  typeField: string;
  /** Field holding the event time; when a record lacks it: the Kafka record timestamp. */
  timeField: string;
  format: 'json' | 'avro';
}

/** `identity F1, F2 limit N, ...  block "..."`. */
export interface IdentityPlan {
  /** Most trusted first; `limit`: at most this many values of the field in one profile, null for no limit (the first field's default is 1). */
  fields: { name: string; limit: number | null }[];
  /** Values that identify no one: read as if absent. */
  block: string[];
}

export interface EventPlan {
  name: string;
  fields: { name: string; type: FieldType }[];
}

export interface StepPlan {
  event: string;
  where?: PExpr;
}

/** `count(purchase where amount > 100) over 30 days` and friends. */
export interface AggregateSlot {
  kind: 'aggregate';
  /** Stable id derived from `text`: names the slot's state in a customer record across plan changes. */
  id: string;
  /** Canonical text: equal texts share one slot. */
  text: string;
  fn: AggregateFn;
  event: string;
  /** Absent for count(E), first(E), last(E). */
  field?: string;
  where?: PExpr;
  /** `over W` in ms; absent for all-time aggregates. */
  windowMs?: number;
  /** Bucket width for windowed aggregates: 1 minute up to 2 days, 1 hour beyond. */
  bucketMs?: number;
  /**
   * `distinct` and `top`: the most values kept per customer (MAX_TALLY_VALUES).
   * Past it the least recently seen value is dropped (engine/tally.ts).
   */
  maxValues?: number;
}

/**
 * The values a customer's `distinct` or `top` keeps, per aggregate. A crawler
 * with a new URL on every page view would otherwise grow its state, and the
 * cost of writing it at every commit, without end. Up to this many values
 * both are exact; past it `distinct` reads this number (a lower bound) and
 * `top` ranks the most recently seen values only.
 */
export const MAX_TALLY_VALUES = 1000;

/** `A then B within W` (two steps) and `sequence(A, B, ...) within W`. The value is the time of the latest match. */
export interface SequenceSlot {
  kind: 'sequence';
  id: string;
  text: string;
  steps: StepPlan[];
  withinMs: number;
}

/** `A then not B within W`. The value is the instant it became true, or null. */
export interface AbsenceSlot {
  kind: 'absence';
  id: string;
  text: string;
  first: StepPlan;
  second: StepPlan;
  withinMs: number;
}

/**
 * A steady audience's dwell state (SteadyPlan): since when its enter and
 * leave conditions have held, and the instant of its last enter or leave.
 * Fed by no event: the audience's evaluation writes it (engine/dwell.ts).
 * Its text names the audience, so that two audiences never share one.
 */
export interface DwellSlot {
  kind: 'dwell';
  id: string;
  text: string;
  audience: string;
}

/**
 * A decision's state per customer (engine/decision.ts): the offer last sent,
 * the version of its events, the sends its caps count and when it must be
 * evaluated again by time alone. Fed by no event. Its text names the
 * decision only: new rules that change the decision go on from what was
 * sent under the old ones.
 */
export interface DecisionSlot {
  kind: 'decision';
  id: string;
  text: string;
  decision: string;
}

export type SlotPlan = AggregateSlot | SequenceSlot | AbsenceSlot | DwellSlot | DecisionSlot;

export interface TraitPlan {
  name: string;
  kind: 'trait' | 'score';
  expr: PExpr;
  text: string;
}

export interface AudiencePlan {
  name: string;
  description?: string;
  expr: PExpr;
  text: string;
  /** Slots read directly or through traits (not through `in X`: X's changes propagate by themselves). */
  slots: number[];
  /** Audiences named by `in X`. */
  audiences: string[];
  /** Whether the value can change with time alone (windows, sequences, days_since, now()). */
  timeDependent: boolean;
  /**
   * A steady audience (`enter when` with a delay, `leave when` or `stay at
   * least`): `expr` is its enter condition, and membership follows the
   * conditions with the delays below (engine/dwell.ts). Absent: the member
   * set is exactly where `expr` is true.
   */
  steady?: SteadyPlan;
}

export interface SteadyPlan {
  /** `leave when`; absent: leave when the enter condition is not true. */
  leave?: PExpr;
  leaveText?: string;
  /** `enter after`, `leave after`, `stay at least` in ms; 0 when the clause is absent. */
  enterAfterMs: number;
  leaveAfterMs: number;
  stayMs: number;
  /** Index into `slots` of the audience's DwellSlot. */
  slot: number;
}

export type ArithOp = '+' | '-' | '*' | '/';
export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';
export type StringTestOp = 'contains' | 'starts_with' | 'ends_with';
/** The built-in functions of one or two values, by name (the planner recognises them from this list). */
export const MATH_FNS = ['logistic', 'exp', 'ln', 'abs', 'min', 'max', 'coalesce'] as const;
export type MathFn = (typeof MATH_FNS)[number];

/** A plan expression. `op` says what it is; evaluation is in engine/evaluate.ts. */
export type PExpr =
  | { op: 'const'; value: Value }
  /** A field of the event being filtered (only inside `where` and step filters). */
  | { op: 'field'; name: string }
  /** The value of a slot: an aggregate's value; for a sequence or absence, whether it matched. */
  | { op: 'slot'; slot: number }
  /** `(A then B within W) over W2`: a match in the last W2. */
  | { op: 'matched-within'; slot: number; windowMs: number }
  | { op: 'trait'; name: string }
  | { op: 'audience'; name: string }
  | { op: 'arith'; fn: ArithOp; left: PExpr; right: PExpr }
  | { op: 'compare'; fn: CompareOp; left: PExpr; right: PExpr }
  | { op: 'and'; left: PExpr; right: PExpr }
  | { op: 'or'; left: PExpr; right: PExpr }
  | { op: 'not'; operand: PExpr }
  | { op: 'neg'; operand: PExpr }
  | { op: 'in-list'; operand: PExpr; values: Value[] }
  | { op: 'string-test'; fn: StringTestOp; left: PExpr; right: PExpr }
  | { op: 'math'; fn: MathFn; args: PExpr[] }
  /** days_since / hours_since / minutes_since: whole units elapsed since a time. */
  | { op: 'since'; unitMs: number; unit: 'days' | 'hours' | 'minutes'; operand: PExpr }
  /**
   * `T cmp now() + offsetMs` (nowOnLeft false) or `now() + offsetMs cmp T`.
   * The only form in which now() may appear, so the engine knows the instant it flips.
   */
  | { op: 'now-compare'; fn: CompareOp; time: PExpr; offsetMs: number; nowOnLeft: boolean };

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/** Windows up to this width keep minute buckets; wider windows keep hour buckets. */
export const FINE_WINDOW_LIMIT_MS = 2 * DAY_MS;

export function bucketWidthFor(windowMs: number): number {
  return windowMs <= FINE_WINDOW_LIMIT_MS ? MINUTE_MS : HOUR_MS;
}
