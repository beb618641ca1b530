/**
 * Evaluation of plan expressions.
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
 * by far the commonest atom) reports the instant its *result* flips, not
 * every instant the aggregate changes: a customer far below a threshold is
 * not woken each time one of their old events leaves the window.
 */
import type { ArithOp, CompareOp, PExpr, Value } from '../dsl/plan.js';

export interface EvalScope {
  readonly now: number;
  /** An aggregate's value; for a sequence or absence, whether it holds now. */
  slot(index: number): Value;
  /**
   * `test` of a slot's value now (a comparison with a constant), reporting
   * through wakeAt the instant that result may change by time alone.
   * `ordered`: the comparison is `<`, `<=`, `>` or `>=` (a threshold).
   */
  slotCompared(index: number, test: (value: Value) => Value, ordered: boolean): Value;
  /** For `(...) over W`: the time of the latest match of a sequence or absence, or null. */
  matchTime(index: number): number | null;
  trait(name: string): Value;
  audience(name: string): boolean;
  /** A field of the event being filtered. */
  field(name: string): Value;
  wakeAt(t: number): void;
}

export function evaluate(e: PExpr, s: EvalScope): Value {
  switch (e.op) {
    case 'const': return e.value;
    case 'field': return s.field(e.name);
    case 'slot': return s.slot(e.slot);
    case 'matched-within': {
      const m = s.matchTime(e.slot);
      if (m === null) return false;
      const until = m + e.windowMs;
      if (until > s.now) { s.wakeAt(until); return true; }
      return false;
    }
    case 'trait': return s.trait(e.name);
    case 'audience': return s.audience(e.name);
    case 'arith': return arith(e.fn, evaluate(e.left, s), evaluate(e.right, s));
    case 'compare': {
      const ordered = e.fn !== '==' && e.fn !== '!=';
      if (e.left.op === 'slot' && e.right.op === 'const') {
        const k = e.right.value;
        return s.slotCompared(e.left.slot, (v) => compare(e.fn, v, k), ordered);
      }
      if (e.right.op === 'slot' && e.left.op === 'const') {
        const k = e.left.value;
        return s.slotCompared(e.right.slot, (v) => compare(e.fn, k, v), ordered);
      }
      return compare(e.fn, evaluate(e.left, s), evaluate(e.right, s));
    }
    case 'and': {
      const l = evaluate(e.left, s);
      if (l === false) return false;
      const r = evaluate(e.right, s);
      if (r === false) return false;
      return l === null || r === null ? null : true;
    }
    case 'or': {
      const l = evaluate(e.left, s);
      if (l === true) return true;
      const r = evaluate(e.right, s);
      if (r === true) return true;
      return l === null || r === null ? null : false;
    }
    case 'not': {
      const v = evaluate(e.operand, s);
      return v === null ? null : !v;
    }
    case 'neg': {
      const v = evaluate(e.operand, s);
      return typeof v === 'number' ? -v : null;
    }
    case 'in-list': {
      const v = evaluate(e.operand, s);
      return v === null ? null : e.values.includes(v);
    }
    case 'string-test': {
      const l = evaluate(e.left, s);
      const r = evaluate(e.right, s);
      if (typeof l !== 'string' || typeof r !== 'string') return null;
      return e.fn === 'contains' ? l.includes(r) : e.fn === 'starts_with' ? l.startsWith(r) : l.endsWith(r);
    }
    case 'math': return math(e.fn, e.args.map((a) => evaluate(a, s)));
    case 'since': {
      const t = evaluate(e.operand, s);
      if (typeof t !== 'number') return null;
      const units = Math.floor((s.now - t) / e.unitMs);
      s.wakeAt(t + (units + 1) * e.unitMs);
      return units;
    }
    case 'now-compare': {
      const t = evaluate(e.time, s);
      if (typeof t !== 'number') return null;
      const nowSide = s.now + e.offsetMs;
      // The comparison flips when now + offset crosses t: at t - offset, or
      // one millisecond later for the strict side of the comparison.
      const flip = t - e.offsetMs;
      if (flip > s.now) s.wakeAt(flip);
      if (flip + 1 > s.now) s.wakeAt(flip + 1);
      return e.nowOnLeft ? compare(e.fn, nowSide, t) : compare(e.fn, t, nowSide);
    }
  }
}

function arith(op: ArithOp, l: Value, r: Value): Value {
  if (typeof l !== 'number' || typeof r !== 'number') return null;
  switch (op) {
    case '+': return l + r;
    case '-': return l - r;
    case '*': return l * r;
    case '/': return r === 0 ? null : l / r;
  }
}

function compare(op: CompareOp, l: Value, r: Value): Value {
  if (l === null || r === null) return null;
  switch (op) {
    case '==': return l === r;
    case '!=': return l !== r;
    case '<': return l < r;
    case '<=': return l <= r;
    case '>': return l > r;
    case '>=': return l >= r;
  }
}

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
