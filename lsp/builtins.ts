/**
 * What each aggregate and function means, for hover and completion. The
 * names themselves come from the language (AGGREGATE_FNS, the checker's
 * FUNCTIONS); test/lsp/builtins.test.ts keeps these texts in step with them.
 */
import type { AggregateFn } from '../dsl/ast.js';

export interface BuiltinDoc {
  /** How it is written, e.g. `count(E [where P])`. */
  signature: string;
  meaning: string;
}

export const AGGREGATE_DOCS: Record<AggregateFn, BuiltinDoc> = {
  count: { signature: 'count(E [where P]) | count(E.f [where P])', meaning: 'the number of such events (of E.f: where f is not null); 0 of nothing' },
  sum: { signature: 'sum(E.f [where P])', meaning: 'the sum of the field, null values skipped; 0 of nothing' },
  avg: { signature: 'avg(E.f [where P])', meaning: 'the average of the field; null of nothing' },
  min: { signature: 'min(E.f [where P])', meaning: 'the least value of a number or time field; null of nothing' },
  max: { signature: 'max(E.f [where P])', meaning: 'the greatest value of a number or time field; null of nothing' },
  distinct: { signature: 'distinct(E.f [where P])', meaning: 'the number of distinct values of the field; 0 of nothing' },
  top: { signature: 'top(E.f [where P])', meaning: 'the most frequent value; ties go to the value seen most recently; null of nothing' },
  first: { signature: 'first(E [where P]) | first(E.f [where P])', meaning: 'the time of the earliest such event (of E.f: the field on the earliest event where it is not null); null of nothing' },
  last: { signature: 'last(E [where P]) | last(E.f [where P])', meaning: 'the time of the latest such event (of E.f: the field on the latest event where it is not null); null of nothing' },
};

export const FUNCTION_DOCS: Record<string, BuiltinDoc> = {
  logistic: { signature: 'logistic(x)', meaning: '1 / (1 + e^-x)' },
  exp: { signature: 'exp(x)', meaning: 'e^x' },
  ln: { signature: 'ln(x)', meaning: 'the natural logarithm; null for zero or less' },
  abs: { signature: 'abs(x)', meaning: 'the absolute value' },
  min: { signature: 'min(a, b)', meaning: 'the lesser of two numbers or two times' },
  max: { signature: 'max(a, b)', meaning: 'the greater of two numbers or two times' },
  coalesce: { signature: 'coalesce(a, b)', meaning: 'a unless it is null, else b' },
  days_since: { signature: 'days_since(t)', meaning: 'whole days elapsed since the time t (floor); null when t is null; re-evaluated as days pass' },
  hours_since: { signature: 'hours_since(t)', meaning: 'whole hours elapsed since the time t (floor); null when t is null; re-evaluated as hours pass' },
  minutes_since: { signature: 'minutes_since(t)', meaning: 'whole minutes elapsed since the time t (floor); null when t is null; re-evaluated as minutes pass' },
  now: { signature: 'now()', meaning: "the engine's clock; only in a comparison with a time, e.g. last(login) < now() - 30 days" },
};
