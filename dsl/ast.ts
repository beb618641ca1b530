/**
 * The abstract syntax tree of a `.aud` file.
 *
 * Produced by the parser (dsl/parse.ts) from Chevrotain's CST, read by the
 * checker (dsl/checker/) and the planner (dsl/planner.ts). Every node carries
 * the span it came from, so that any phase can point at the exact text that
 * is wrong. The tree says only what the text says: names are not resolved
 * here (that is the checker's job), and a `Name` may turn out to be a trait,
 * a score or an event field.
 */
import type { Span } from './diagnostics.js';

export interface Identifier {
  name: string;
  span: Span;
}

export interface RuleFile {
  path: string;
  source?: SourceDecl;
  outputs: OutputDecl[];
  events: EventDecl[];
  /** Traits and scores in file order. */
  traits: TraitDecl[];
  audiences: AudienceDecl[];
  offers: OfferDecl[];
  decisions: DecisionDecl[];
}

/** `source "topic" { key F | identity F1, F2 limit N, ... block "v", ...  type F  time F  format json|avro }`; every clause optional. */
export interface SourceDecl {
  topic: string;
  topicSpan: Span;
  key?: Identifier;
  /** `identity`: identifier fields, most trusted first (customer-lifecycle.md, section 2). */
  identity?: IdentityDecl;
  type?: Identifier;
  time?: Identifier;
  /** The word as written; the checker accepts `json` and `avro`. */
  format?: Identifier;
  span: Span;
}

/** `identity user_id, email limit 5, anonymous_id  block "", "0"` */
export interface IdentityDecl {
  /** Most trusted first. */
  fields: IdentityFieldDecl[];
  /** Values that identify no one (`block "..."`), as written. */
  block: { value: string; span: Span }[];
  span: Span;
}

/** One identifier field; `limit`: at most this many of its values in one profile, as written. */
export interface IdentityFieldDecl {
  name: Identifier;
  limit?: { value: number; span: Span };
}

/** `output "topic"` */
export interface OutputDecl {
  topic: string;
  span: Span;
}

/** `event NAME { field: type, ... }`; the type is a word the checker validates (number|string|bool|time). */
export interface EventDecl {
  name: Identifier;
  fields: FieldDecl[];
  span: Span;
}

export interface FieldDecl {
  name: Identifier;
  type: Identifier;
  span: Span;
}

/** `trait NAME = EXPR` or `score NAME = EXPR` */
export interface TraitDecl {
  kind: 'trait' | 'score';
  name: Identifier;
  expr: Expr;
  span: Span;
}

/**
 * `audience NAME ["description"] { EXPR }`, or with clauses in the braces
 * (`enter when EXPR`, `leave after 10 minutes`, ...). For the clause form
 * `expr` is the `enter when` condition (a null literal at the braces when
 * there is none: the checker reports it), so that every phase that walks an
 * audience's condition finds it where it always has.
 */
export interface AudienceDecl {
  name: Identifier;
  description?: string;
  expr: Expr;
  /** The clauses as written, in order; absent for the one-expression form. */
  clauses?: AudienceClause[];
  span: Span;
}

/**
 * One clause of a steady audience: its words (`enter when`, `stay at least`)
 * and its value, a condition or a duration. The parser accepts any words;
 * the checker knows which exist (STEADY_CLAUSES).
 */
export interface AudienceClause {
  words: Identifier[];
  /** The words joined by one space: `stay at least`. */
  key: string;
  value: Expr;
  span: Span;
}

/** The clauses of a steady audience and whether each takes a condition or a duration. */
export const STEADY_CLAUSES: Readonly<Record<string, 'condition' | 'duration'>> = {
  'enter when': 'condition',
  'leave when': 'condition',
  'enter after': 'duration',
  'leave after': 'duration',
  'stay at least': 'duration',
};

/** The conditions of an audience: its expression, and a steady audience's `leave when`. */
export function audienceConditions(a: AudienceDecl): Expr[] {
  const leave = a.clauses?.find((c) => c.key === 'leave when');
  return leave ? [a.expr, leave.value] : [a.expr];
}

/**
 * `offer NAME ["description"] { eligible EXPR  score EXPR  cap N per W }`
 * (activation.md, section 2). Every clause is optional to the parser; the
 * checker wants a score. Without `eligible` the offer is always eligible.
 */
export interface OfferDecl {
  name: Identifier;
  description?: string;
  eligible?: Expr;
  score?: Expr;
  caps: CapClause[];
  span: Span;
}

/** `cap N per W`: at most N decision events in any W (activation.md, section 2). */
export interface CapClause {
  count: number;
  countSpan: Span;
  per: DurationLiteral;
  span: Span;
}

/**
 * `decision NAME ["description"] { offers A, B  cap N per W  deliver between HH:MM and HH:MM in ZONE }`.
 */
export interface DecisionDecl {
  name: Identifier;
  description?: string;
  /** In order of preference on equal scores; empty when the clause is missing (the checker reports it). */
  offers: Identifier[];
  caps: CapClause[];
  deliver?: DeliverClause;
  span: Span;
}

/** `09:00`: minutes after local midnight. */
export interface ClockTime { minute: number; text: string; span: Span }

/**
 * `deliver between 09:00 and 20:00 in "Europe/Oslo"`, or with the zone from
 * a string trait: `in timezone default "Europe/Oslo"`.
 */
export interface DeliverClause {
  start: ClockTime;
  end: ClockTime;
  /** A zone name as written (a string literal). */
  zone?: { name: string; span: Span };
  /** A trait holding each customer's zone, and the zone for customers whose trait is null or no zone. */
  zoneTrait?: Identifier;
  defaultZone?: { name: string; span: Span };
  span: Span;
}

export type Expr =
  | NumberLiteral
  | StringLiteral
  | BoolLiteral
  | NullLiteral
  | DurationLiteral
  | TimeLiteral
  | NameRef
  | FieldRef
  | BinaryExpr
  | UnaryExpr
  | InListExpr
  | InAudienceExpr
  | CallExpr
  | AggregateExpr
  | ThenExpr
  | SequenceExpr
  | OverExpr;

export interface NumberLiteral { kind: 'number'; value: number; span: Span }
export interface StringLiteral { kind: 'string'; value: string; span: Span }
export interface BoolLiteral { kind: 'bool'; value: boolean; span: Span }
export interface NullLiteral { kind: 'null'; span: Span }
/** `30 days`, `2w`, `45s`: value in milliseconds. */
export interface DurationLiteral { kind: 'duration'; ms: number; text: string; span: Span }
/** `@2026-01-31T00:00:00Z`: epoch milliseconds. */
export interface TimeLiteral { kind: 'time'; ms: number; text: string; span: Span }

/** A bare identifier: a trait, a score, or (inside `where` and step filters) a field of the event. */
export interface NameRef { kind: 'name'; name: Identifier; span: Span }

/** `E.f`: a field of an event (aggregate arguments, `where` filters). */
export interface FieldRef { kind: 'field'; event: Identifier; field: Identifier; span: Span }

export type BinaryOp =
  | '+' | '-' | '*' | '/'
  | '==' | '!=' | '<' | '<=' | '>' | '>='
  | 'and' | 'or'
  | 'contains' | 'starts_with' | 'ends_with';

export interface BinaryExpr { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; span: Span }

/** `not X` or `-X` */
export interface UnaryExpr { kind: 'unary'; op: 'not' | '-'; operand: Expr; span: Span }

/** `X in ("a", "b")` */
export interface InListExpr { kind: 'in-list'; operand: Expr; values: Expr[]; span: Span }

/** `in AUDIENCE` */
export interface InAudienceExpr { kind: 'in-audience'; audience: Identifier; span: Span }

/**
 * A function call that is not an aggregate: `logistic(x)`, `min(a, b)`,
 * `days_since(t)`, `now()`, ... The parser decides aggregate vs function:
 * the names count/sum/avg/min/max/distinct/top/first/last with exactly one
 * argument (optionally followed by `where`) are aggregates; `min`/`max` with
 * two arguments are functions. Unknown names stay calls for the checker to report.
 */
export interface CallExpr { kind: 'call'; fn: Identifier; args: Expr[]; span: Span }

export type AggregateFn = 'count' | 'sum' | 'avg' | 'min' | 'max' | 'distinct' | 'top' | 'first' | 'last';

/**
 * `count(E [where P])`, `sum(E.f [where P])`, `first(E)`, `last(E.f)`, ...
 * `field` is absent when the argument is a bare event name.
 * A trailing `over W` is represented by an enclosing OverExpr.
 */
export interface AggregateExpr {
  kind: 'aggregate';
  fn: AggregateFn;
  fnSpan: Span;
  event: Identifier;
  field?: Identifier;
  where?: Expr;
  span: Span;
}

/** One step of a sequence: `E [where P]`. */
export interface Step { event: Identifier; where?: Expr; span: Span }

/** `A then B within W` and `A then not B within W`. */
export interface ThenExpr {
  kind: 'then';
  first: Step;
  negated: boolean;
  second: Step;
  within: DurationLiteral;
  span: Span;
}

/** `sequence(A, B, C, ...) within W` */
export interface SequenceExpr { kind: 'sequence'; steps: Step[]; within: DurationLiteral; span: Span }

/**
 * `X over W`: a window on an aggregate, a `then` or a `sequence`.
 * The parser accepts `over` after any primary expression; the checker rejects
 * it on anything else.
 */
export interface OverExpr { kind: 'over'; operand: Expr; window: DurationLiteral; span: Span }

export const AGGREGATE_FNS: readonly AggregateFn[] = ['count', 'sum', 'avg', 'min', 'max', 'distinct', 'top', 'first', 'last'];
