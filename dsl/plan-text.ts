/**
 * Plan expressions back to text: canonical slot names (equal text, shared
 * state), `aud explain`, and error messages. The text is valid .aud syntax.
 */
import type { PExpr, SlotPlan, Value } from './plan.js';

const UNITS: [number, string, string][] = [
  [7 * 86_400_000, 'week', 'weeks'],
  [86_400_000, 'day', 'days'],
  [3_600_000, 'hour', 'hours'],
  [60_000, 'minute', 'minutes'],
  [1_000, 'second', 'seconds'],
];

/** 7776000000 → "90 days"; the largest unit that divides it exactly. */
export function durationText(ms: number): string {
  for (const [size, one, many] of UNITS) {
    if (ms % size === 0 && ms !== 0) {
      const n = ms / size;
      return `${n} ${n === 1 ? one : many}`;
    }
  }
  return `${ms / 1000} seconds`;
}

export function valueText(v: Value): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

const PRECEDENCE: Record<string, number> = {
  or: 1, and: 2, not: 3, compare: 4, 'now-compare': 4, 'string-test': 4, 'in-list': 4, '+': 5, '-': 5, '*': 6, '/': 6, neg: 7,
};

function precedence(e: PExpr): number {
  if (e.op === 'arith') return PRECEDENCE[e.fn]!;
  return PRECEDENCE[e.op] ?? 9;
}

export function exprText(e: PExpr, slots: readonly SlotPlan[]): string {
  const sub = (x: PExpr, min: number): string => {
    const t = exprText(x, slots);
    return precedence(x) < min ? `(${t})` : t;
  };
  switch (e.op) {
    case 'const': return valueText(e.value);
    case 'field': return e.name;
    case 'slot': {
      const s = slots[e.slot];
      if (!s) return `slot#${e.slot}`;
      return s.kind === 'aggregate' ? s.text : `(${s.text})`;
    }
    case 'matched-within': return `(${slots[e.slot]?.text ?? `slot#${e.slot}`}) over ${durationText(e.windowMs)}`;
    case 'trait': return e.name;
    case 'audience': return `in ${e.name}`;
    case 'arith': {
      const p = precedence(e);
      return `${sub(e.left, p)} ${e.fn} ${sub(e.right, p + 1)}`;
    }
    case 'compare': return `${sub(e.left, 5)} ${e.fn} ${sub(e.right, 5)}`;
    case 'string-test': return `${sub(e.left, 5)} ${e.fn} ${sub(e.right, 5)}`;
    case 'and': return `${sub(e.left, 2)} and ${sub(e.right, 3)}`;
    case 'or': return `${sub(e.left, 1)} or ${sub(e.right, 2)}`;
    case 'not': return `not ${sub(e.operand, 3)}`;
    case 'neg': return `-${sub(e.operand, 7)}`;
    case 'in-list': return `${sub(e.operand, 5)} in (${e.values.map(valueText).join(', ')})`;
    case 'math': return `${e.fn}(${e.args.map((a) => exprText(a, slots)).join(', ')})`;
    case 'since': return `${e.unit}_since(${exprText(e.operand, slots)})`;
    case 'now-compare': {
      const now = e.offsetMs === 0 ? 'now()' : `now() ${e.offsetMs > 0 ? '+' : '-'} ${durationText(Math.abs(e.offsetMs))}`;
      const time = sub(e.time, 5);
      return e.nowOnLeft ? `${now} ${e.fn} ${time}` : `${time} ${e.fn} ${now}`;
    }
  }
}

/** A time of day in minutes after midnight as `HH:MM` (send windows). */
export function clockText(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}
