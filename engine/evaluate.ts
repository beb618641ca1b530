/**
 * Evaluation of plan expressions, compiled once into closures.
 *
 * A plan expression is turned into a tree of small functions when a
 * partition opens; evaluating it is then a call, not a walk over the tree
 * with a switch per node. With a thousand audiences evaluated per event, the
 * walk is what the engine would spend its time on. Nothing is generated from
 * rule text: every closure is one of the fixed functions below, and literals
 * stay values.
 *
 * Null follows SQL: arithmetic, comparisons, string tests and functions of a
 * null are null (`coalesce` excepted); `and`/`or`/`not` are three-valued.
 *
 * Besides the value, evaluation reports through `scope.wakeAt(t)` every
 * instant after `now` at which the value may change with no new event: the
 * day `days_since` ticks over, the instant `last(login) < now() - 30 days`
 * flips, the moment a windowed aggregate's oldest bucket leaves its window.
 * The engine keeps the earliest of them as the customer's timer. Only the
 * parts actually evaluated report (a short-circuited `and` does not): a part
 * that was skipped cannot change the result until something that was
 * evaluated changes, and that reports its own instant.
 *
 * A comparison of an aggregate with a constant (`count(x) over 7 days >= 3`,
 * by far the commonest atom) is a `SlotComparison`: one per distinct
 * comparison in the whole plan, however many audiences and traits use it,
 * so that a customer's pass computes it (and the instant its result flips)
 * once. It reports the instant its *result* flips, not every instant the
 * aggregate changes: a customer far below a threshold is not woken each time
 * one of their old events leaves the window.
 */
import type { ArithOp, CompareOp, PExpr, Value } from '../dsl/plan.js';

/** `slot OP constant`, shared by every expression of a plan that contains it. */
export interface SlotComparison {
  /** Position in the plan's comparison table (ExpressionCompiler.comparisons). */
  readonly index: number;
  readonly slot: number;
  /** The comparison applied to a value of the slot. */
  readonly test: (value: Value) => Value;
  /** `<`, `<=`, `>` or `>=`: a threshold, whose result changes at most once as a value only falls or only rises. */
  readonly ordered: boolean;
}

export interface EvalScope {
  readonly now: number;
  /** An aggregate's value; for a sequence or absence, whether it holds now. */
  slot(index: number): Value;
  /** A slot compared with a constant, reporting through wakeAt the instant that result may change by time alone. */
  compared(c: SlotComparison): Value;
  /** For `(...) over W`: the time of the latest match of a sequence or absence, or null. */
  matchTime(index: number): number | null;
  trait(name: string): Value;
  audience(name: string): boolean;
  /** A field of the event being filtered. */
  field(name: string): Value;
  wakeAt(t: number): void;
}

export type Compiled = (s: EvalScope) => Value;

/** What an expression reads, as far as knowing when it may change goes. */
export interface ExpressionInputs {
  /** Slots read other than through a SlotComparison (a value, a match time). */
  slots: Set<number>;
  /** SlotComparison indexes. */
  comparisons: Set<number>;
  /** Traits and scores named. */
  traits: Set<string>;
}

/**
 * Compiles the expressions of one plan, sharing equal slot comparisons
 * between them. Filters (`where`) and rules may use one compiler each or the
 * same one; only the comparisons table differs.
 */
export class ExpressionCompiler {
  readonly comparisons: SlotComparison[] = [];
  private readonly byKey = new Map<string, SlotComparison>();
  /** Where compile() records what the expression at hand reads. */
  private reads: ExpressionInputs | undefined;

  /** Compile `e` and say what it reads: which slots (other than through comparisons), comparisons and traits. */
  compileWithInputs(e: PExpr): { fn: Compiled; inputs: ExpressionInputs } {
    const inputs: ExpressionInputs = { slots: new Set(), comparisons: new Set(), traits: new Set() };
    this.reads = inputs;
    try {
      return { fn: this.compile(e), inputs };
    } finally {
      this.reads = undefined;
    }
  }

  compile(e: PExpr): Compiled {
    switch (e.op) {
      case 'const': { const v = e.value; return () => v; }
      case 'field': { const name = e.name; return (s) => s.field(name); }
      case 'slot': { const slot = e.slot; this.reads?.slots.add(slot); return (s) => s.slot(slot); }
      case 'matched-within': {
        const { slot, windowMs } = e;
        this.reads?.slots.add(slot);
        return (s) => {
          const m = s.matchTime(slot);
          if (m === null) return false;
          const until = m + windowMs;
          if (until > s.now) { s.wakeAt(until); return true; }
          return false;
        };
      }
      case 'trait': { const name = e.name; this.reads?.traits.add(name); return (s) => s.trait(name); }
      case 'audience': { const name = e.name; return (s) => s.audience(name); }
      case 'arith': {
        const op = ARITH[e.fn];
        const l = this.compile(e.left);
        const r = this.compile(e.right);
        return (s) => op(l(s), r(s));
      }
      case 'compare': {
        const c = this.comparison(e);
        if (c) { this.reads?.comparisons.add(c.index); return (s) => s.compared(c); }
        const op = COMPARE[e.fn];
        const l = this.compile(e.left);
        const r = this.compile(e.right);
        return (s) => op(l(s), r(s));
      }
      case 'and': {
        const l = this.compile(e.left);
        const r = this.compile(e.right);
        return (s) => {
          const a = l(s);
          if (a === false) return false;
          const b = r(s);
          if (b === false) return false;
          return a === null || b === null ? null : true;
        };
      }
      case 'or': {
        const l = this.compile(e.left);
        const r = this.compile(e.right);
        return (s) => {
          const a = l(s);
          if (a === true) return true;
          const b = r(s);
          if (b === true) return true;
          return a === null || b === null ? null : false;
        };
      }
      case 'not': {
        const x = this.compile(e.operand);
        return (s) => { const v = x(s); return v === null ? null : !v; };
      }
      case 'neg': {
        const x = this.compile(e.operand);
        return (s) => { const v = x(s); return typeof v === 'number' ? -v : null; };
      }
      case 'in-list': {
        const x = this.compile(e.operand);
        const values = e.values;
        return (s) => { const v = x(s); return v === null ? null : values.includes(v); };
      }
      case 'string-test': {
        const l = this.compile(e.left);
        const r = this.compile(e.right);
        const fn = e.fn;
        return (s) => {
          const a = l(s);
          const b = r(s);
          if (typeof a !== 'string' || typeof b !== 'string') return null;
          return fn === 'contains' ? a.includes(b) : fn === 'starts_with' ? a.startsWith(b) : a.endsWith(b);
        };
      }
      case 'math': {
        const fn = e.fn;
        const args = e.args.map((a) => this.compile(a));
        return (s) => math(fn, args.map((a) => a(s)));
      }
      case 'since': {
        const x = this.compile(e.operand);
        const unitMs = e.unitMs;
        return (s) => {
          const t = x(s);
          if (typeof t !== 'number') return null;
          const units = Math.floor((s.now - t) / unitMs);
          s.wakeAt(t + (units + 1) * unitMs);
          return units;
        };
      }
      case 'now-compare': {
        const time = this.compile(e.time);
        const { offsetMs, nowOnLeft } = e;
        const op = COMPARE[e.fn];
        return (s) => {
          const t = time(s);
          if (typeof t !== 'number') return null;
          const nowSide = s.now + offsetMs;
          // The comparison flips when now + offset crosses t: at t - offset, or
          // one millisecond later for the strict side of the comparison.
          const flip = t - offsetMs;
          if (flip > s.now) s.wakeAt(flip);
          if (flip + 1 > s.now) s.wakeAt(flip + 1);
          return nowOnLeft ? op(nowSide, t) : op(t, nowSide);
        };
      }
    }
  }

  /** The shared comparison for `slot OP constant` (either side), or undefined for any other comparison. */
  private comparison(e: Extract<PExpr, { op: 'compare' }>): SlotComparison | undefined {
    let slot: number;
    let k: Value;
    let constantLeft: boolean;
    if (e.left.op === 'slot' && e.right.op === 'const') { slot = e.left.slot; k = e.right.value; constantLeft = false; }
    else if (e.right.op === 'slot' && e.left.op === 'const') { slot = e.right.slot; k = e.left.value; constantLeft = true; }
    else return undefined;
    // JSON.stringify tells 1 from "1" and null from "null".
    const key = `${slot} ${e.fn} ${constantLeft ? 'L' : 'R'} ${JSON.stringify(k)}`;
    const known = this.byKey.get(key);
    if (known) return known;
    const op = COMPARE[e.fn];
    const c: SlotComparison = {
      index: this.comparisons.length, slot,
      test: constantLeft ? (v) => op(k, v) : (v) => op(v, k),
      ordered: e.fn !== '==' && e.fn !== '!=',
    };
    this.comparisons.push(c);
    this.byKey.set(key, c);
    return c;
  }
}

/** Evaluate one expression once (tests, tools): compiles it and throws the closures away. */
export function evaluate(e: PExpr, s: EvalScope): Value {
  return new ExpressionCompiler().compile(e)(s);
}

type Binary = (l: Value, r: Value) => Value;

const ARITH: Record<ArithOp, Binary> = {
  '+': (l, r) => (typeof l === 'number' && typeof r === 'number' ? l + r : null),
  '-': (l, r) => (typeof l === 'number' && typeof r === 'number' ? l - r : null),
  '*': (l, r) => (typeof l === 'number' && typeof r === 'number' ? l * r : null),
  '/': (l, r) => (typeof l === 'number' && typeof r === 'number' && r !== 0 ? l / r : null),
};

const COMPARE: Record<CompareOp, Binary> = {
  '==': (l, r) => (l === null || r === null ? null : l === r),
  '!=': (l, r) => (l === null || r === null ? null : l !== r),
  '<': (l, r) => (l === null || r === null ? null : l < r),
  '<=': (l, r) => (l === null || r === null ? null : l <= r),
  '>': (l, r) => (l === null || r === null ? null : l > r),
  '>=': (l, r) => (l === null || r === null ? null : l >= r),
};

function math(fn: string, args: Value[]): Value {
  if (fn === 'coalesce') return args[0] ?? args[1] ?? null;
  if (args.some((a) => typeof a !== 'number')) return null;
  const [a, b] = args as number[];
  switch (fn) {
    case 'logistic': return 1 / (1 + Math.exp(-a!));
    case 'exp': return Math.exp(a!);
    case 'ln': return a! > 0 ? Math.log(a!) : null;
    case 'abs': return Math.abs(a!);
    case 'min': return Math.min(a!, b!);
    case 'max': return Math.max(a!, b!);
    default: return null;
  }
}
