/**
 * The checker: every file of a program together, every error at once.
 *
 * 1. declarations (declarations.ts): one source, one output, events and their
 *    fields, one namespace for traits, scores and audiences;
 * 2. expressions (this file): names, types, where-filters, the now() rule;
 *    trait types are inferred on demand, which also finds trait cycles;
 * 3. audience cycles through `in X` (cycles.ts);
 * 4. offers and decisions: eligibility, scores, caps, send windows.
 *
 * It never throws on a partial AST: every optional part is guarded, and an
 * unknown name has the type 'error', which fits everywhere.
 */
import { STEADY_CLAUSES, type AggregateExpr, type AudienceClause, type AudienceDecl, type BinaryExpr, type CallExpr, type CapClause, type DecisionDecl, type DeliverClause, type Expr, type OfferDecl, type RuleFile, type Step, type TraitDecl } from '../ast.js';
import type { Diagnostic, DiagnosticCode, Span } from '../diagnostics.js';
import { didYouMean } from '../suggest.js';
import { findAudienceCycles } from './cycles.js';
import { collectDeclarations, type Declarations } from './declarations.js';
import { arithmeticResult, comparable, fits, typeName, type ValueType } from './types.js';
import { MAX_TALLY_VALUES } from '../plan.js';
import { isTimeZone, suggestTimeZone } from '../time-zone.js';

/** `c OP x` as `x OP' c`. */
const MIRRORED: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

/** `distinct(...)`, windowed or not. */
function isDistinct(e: Expr): boolean {
  const inner = e.kind === 'over' ? e.operand : e;
  return inner.kind === 'aggregate' && inner.fn === 'distinct';
}

export type { ValueType } from './types.js';

export interface CheckResult {
  diagnostics: Diagnostic[];
  /** Inferred type of every trait and score, by name. */
  traitTypes: Map<string, ValueType>;
}

const FIELD_TYPES: Record<string, ValueType> = { number: 'number', string: 'string', bool: 'bool', time: 'time' };

interface FunctionSig { arity: number; args: ValueType[][]; result: (args: ValueType[]) => ValueType }
const NUM: ValueType[] = ['number'];
export const FUNCTIONS: Record<string, FunctionSig> = {
  logistic: { arity: 1, args: [NUM], result: () => 'number' },
  exp: { arity: 1, args: [NUM], result: () => 'number' },
  ln: { arity: 1, args: [NUM], result: () => 'number' },
  abs: { arity: 1, args: [NUM], result: () => 'number' },
  min: { arity: 2, args: [['number', 'time'], ['number', 'time']], result: (a) => a.find((t) => t !== 'null' && t !== 'error') ?? 'error' },
  max: { arity: 2, args: [['number', 'time'], ['number', 'time']], result: (a) => a.find((t) => t !== 'null' && t !== 'error') ?? 'error' },
  coalesce: { arity: 2, args: [[], []], result: (a) => a.find((t) => t !== 'null' && t !== 'error') ?? 'null' },
  days_since: { arity: 1, args: [['time']], result: () => 'number' },
  hours_since: { arity: 1, args: [['time']], result: () => 'number' },
  minutes_since: { arity: 1, args: [['time']], result: () => 'number' },
  now: { arity: 0, args: [], result: () => 'time' },
};
const FIELD_AGGREGATES = new Set(['sum', 'avg', 'min', 'max', 'distinct', 'top']);

/** Inside a `where` or a step filter: the event whose fields bare names are. */
interface Scope { filtering?: string }

export function checkRuleFiles(files: RuleFile[]): CheckResult {
  return new Checker(files).run();
}

class Checker {
  private readonly diagnostics: Diagnostic[] = [];
  private readonly decls: Declarations;
  private readonly traitTypes = new Map<string, ValueType>();
  private readonly traitStack: string[] = [];

  constructor(private readonly files: RuleFile[]) {
    this.decls = collectDeclarations(files, (d) => this.diagnostics.push(d));
  }

  run(): CheckResult {
    for (const t of this.decls.traits.values()) this.traitType(t);
    for (const f of this.files) {
      for (const a of f.audiences) this.audience(a);
      for (const o of f.offers) this.offer(o);
      for (const d of f.decisions) this.decision(d);
    }
    for (const cycle of findAudienceCycles(this.decls)) {
      this.report('audience-cycle', cycle.span, `audience cycle: ${cycle.path.join(' → ')}`, 'an audience cannot depend on itself through "in"');
    }
    return { diagnostics: this.diagnostics, traitTypes: this.traitTypes };
  }

  private report(code: DiagnosticCode, span: Span, message: string, suggestion?: string): void {
    const d: Diagnostic = { code, span, message };
    if (suggestion) d.suggestion = suggestion;
    this.diagnostics.push(d);
  }

  private audience(a: AudienceDecl): void {
    if (a.clauses) { this.steadyAudience(a, a.clauses); return; }
    const t = this.typeOf(a.expr, {});
    if (!fits(t, 'bool')) this.report('type-mismatch', a.expr.span, `audience ${a.name.name} must be a condition (true/false), but this is ${typeName(t)}`, 'compare it, e.g. "... >= 1"');
  }

  /** The clause form: each clause known and at most once, `enter when` present, conditions boolean, durations positive. */
  private steadyAudience(a: AudienceDecl, clauses: AudienceClause[]): void {
    const seen = new Set<string>();
    for (const c of clauses) {
      const kind = STEADY_CLAUSES[c.key];
      const wordsSpan = { ...c.words[0]!.span, endLine: c.words[c.words.length - 1]!.span.endLine, endColumn: c.words[c.words.length - 1]!.span.endColumn, endOffset: c.words[c.words.length - 1]!.span.endOffset };
      if (kind === undefined) {
        this.report('bad-clause', wordsSpan, `unknown clause "${c.key}" in audience ${a.name.name}`,
          didYouMean(c.key, Object.keys(STEADY_CLAUSES))
            ?? sameFirstWord(c.words[0]!.name)
            ?? `the clauses are ${Object.keys(STEADY_CLAUSES).map((k) => `"${k}"`).join(', ')}`);
        continue;
      }
      if (seen.has(c.key)) {
        this.report('bad-clause', wordsSpan, `"${c.key}" appears twice in audience ${a.name.name}`, 'keep one of them');
        continue;
      }
      seen.add(c.key);
      if (kind === 'condition') {
        const t = this.typeOf(c.value, {});
        if (!fits(t, 'bool')) this.report('type-mismatch', c.value.span, `"${c.key}" of audience ${a.name.name} must be a condition (true/false), but this is ${typeName(t)}`, 'compare it, e.g. "... >= 1"');
      } else if (c.value.kind === 'unary' && c.value.op === '-' && c.value.operand.kind === 'duration') {
        this.report('bad-duration', c.value.span, `"${c.key}" must be longer than zero`, `write a positive duration, e.g. "${c.key} ${c.value.operand.text}"`);
      } else if (c.value.kind !== 'duration') {
        this.report('bad-duration', c.value.span, `"${c.key}" takes a duration`, `write e.g. "${c.key} 1 hour"`);
      } else if (!(c.value.ms > 0)) {
        this.report('bad-duration', c.value.span, `"${c.key}" must be longer than zero`, `remove the clause for no delay`);
      }
    }
    if (!seen.has('enter when')) {
      this.report('bad-clause', a.name.span, `audience ${a.name.name} has clauses but no "enter when"`, 'add "enter when CONDITION": the condition that lets a customer in');
    }
  }

  /** An offer: a condition for `eligible`, a number for `score` (required), positive caps. */
  private offer(o: OfferDecl): void {
    if (o.eligible) {
      const t = this.typeOf(o.eligible, {});
      if (!fits(t, 'bool')) this.report('type-mismatch', o.eligible.span, `"eligible" of offer ${o.name.name} must be a condition (true/false), but this is ${typeName(t)}`, 'for example: eligible in lapsed_vip');
    }
    if (!o.score) {
      this.report('bad-clause', o.name.span, `offer ${o.name.name} has no score`, 'add "score EXPR": a number that ranks it against the other offers of a decision, e.g. "score 0.5"');
    } else {
      const t = this.typeOf(o.score, {});
      if (!fits(t, 'number')) this.report('type-mismatch', o.score.span, `the score of offer ${o.name.name} must be a number, but this is ${typeName(t)}`, 'a score ranks offers: write a number or an expression of numbers');
    }
    for (const cap of o.caps) this.cap(cap);
  }

  /** A decision: known offers, each once; positive caps; a send window that is one, in a known zone. */
  private decision(d: DecisionDecl): void {
    if (d.offers.length === 0) {
      this.report('bad-clause', d.name.span, `decision ${d.name.name} has no offers`, 'add "offers A, B": the offers it chooses between, best score first');
    }
    const listed = new Set<string>();
    for (const o of d.offers) {
      if (!o.name) continue;
      if (!this.decls.offers.has(o.name)) {
        this.report('unknown-name', o.span, `unknown offer "${o.name}"`, didYouMean(o.name, this.decls.offers.keys()) ?? 'declare it: offer NAME { eligible ...  score ... }');
        continue;
      }
      if (listed.has(o.name)) this.report('duplicate-name', o.span, `offer ${o.name} is listed twice in decision ${d.name.name}`, 'list each offer once');
      listed.add(o.name);
    }
    for (const cap of d.caps) this.cap(cap);
    if (d.deliver) this.deliver(d.deliver);
  }

  private cap(cap: CapClause): void {
    if (!Number.isInteger(cap.count) || cap.count < 1) {
      this.report('bad-clause', cap.countSpan, `a cap of ${cap.count} ${cap.count === 0 ? 'would never let a decision event out' : 'is not a count'}`, 'write a whole number of events from 1 up, e.g. "cap 1 per 7 days"; remove the cap for none');
    }
    if (!(cap.per.ms > 0)) this.report('bad-duration', cap.per.span, `a cap's period must be longer than zero`, 'for example: cap 1 per 7 days');
  }

  private deliver(w: DeliverClause): void {
    if (w.start.minute === w.end.minute) {
      this.report('bad-time', w.end.span, `the send window ${w.start.text} to ${w.end.text} is empty`, 'give two different times, or remove the clause to send at any hour');
    }
    const zoneError = (zone: { name: string; span: Span }): void => {
      if (isTimeZone(zone.name)) return;
      this.report('bad-time', zone.span, `"${zone.name}" is not a time zone`, suggestTimeZone(zone.name) ?? 'write an IANA zone name such as "Europe/Oslo" or "America/New_York"');
    };
    if (w.zone) zoneError(w.zone);
    if (w.zoneTrait) {
      const name = w.zoneTrait.name;
      const trait = this.decls.traits.get(name);
      if (!trait) {
        this.report('unknown-name', w.zoneTrait.span, `unknown trait "${name}" for the send window's zone`, didYouMean(name, this.decls.traits.keys()) ?? 'declare it, e.g. trait timezone = last(profile_update.tz), or write a zone name in quotes');
      } else {
        const t = this.traitType(trait);
        if (!fits(t, 'string')) this.report('type-mismatch', w.zoneTrait.span, `the send window's zone comes from trait ${name}, which is ${typeName(t)}, not a string`, 'use a trait that holds zone names such as "Europe/Oslo"');
      }
      if (!w.defaultZone) this.report('bad-time', w.zoneTrait.span, `the send window takes its zone from trait ${name} but has no default for customers without one`, `add one: in ${name} default "Europe/Oslo"`);
      else zoneError(w.defaultZone);
    }
  }

  private traitType(t: TraitDecl): ValueType {
    const name = t.name.name;
    const known = this.traitTypes.get(name);
    if (known) return known;
    if (this.traitStack.includes(name)) {
      const path = [...this.traitStack.slice(this.traitStack.indexOf(name)), name];
      this.report('trait-cycle', t.name.span, `trait cycle: ${path.join(' → ')}`, 'a trait cannot depend on itself');
      this.traitTypes.set(name, 'error');
      return 'error';
    }
    this.traitStack.push(name);
    let type = this.typeOf(t.expr, {});
    this.traitStack.pop();
    if (this.traitTypes.get(name) === 'error') return 'error';
    if (t.kind === 'score' && !fits(type, 'number')) {
      this.report('type-mismatch', t.expr.span, `score ${name} must be a number, but this is ${typeName(type)}`);
      type = 'error';
    }
    this.traitTypes.set(name, type);
    return type;
  }

  typeOf(e: Expr, scope: Scope): ValueType {
    switch (e.kind) {
      case 'number': return 'number';
      case 'string': return 'string';
      case 'bool': return 'bool';
      case 'null': return 'null';
      case 'duration':
        if (e.ms <= 0) this.report('bad-duration', e.span, `duration "${e.text}" must be more than zero`);
        return 'duration';
      case 'time': return 'time';
      case 'name': return this.name(e.name.name, e.span, scope);
      case 'field': return this.field(e.event.name, e.event.span, e.field.name, e.field.span, scope);
      case 'unary': {
        const t = this.typeOf(e.operand, scope);
        if (e.op === 'not') {
          if (!fits(t, 'bool')) this.report('type-mismatch', e.span, `"not" needs a condition, but this is ${typeName(t)}`);
          return 'bool';
        }
        if (!fits(t, 'number') && !fits(t, 'duration')) this.report('type-mismatch', e.span, `"-" needs a number, but this is ${typeName(t)}`);
        return t;
      }
      case 'binary': return this.binary(e, scope);
      case 'in-list': {
        const t = this.typeOf(e.operand, scope);
        for (const v of e.values) {
          const vt = this.typeOf(v, scope);
          if (!['number', 'string', 'bool', 'null', 'duration', 'time'].includes(v.kind) && !(v.kind === 'unary' && v.operand.kind === 'number')) {
            this.report('type-mismatch', v.span, 'the list after "in" holds literal values only', 'write values such as ("gold", "silver")');
          } else if (!comparable('==', t, vt)) {
            this.report('type-mismatch', v.span, `this list value is ${typeName(vt)}, but it is compared with ${typeName(t)}`);
          }
        }
        return 'bool';
      }
      case 'in-audience': {
        if (scope.filtering !== undefined) {
          this.report('type-mismatch', e.span, `"in ${e.audience.name}" cannot be used inside a where filter: a filter looks at one ${scope.filtering} event`);
          return 'error';
        }
        if (!this.decls.audiences.has(e.audience.name)) {
          this.report('unknown-audience', e.audience.span, `unknown audience "${e.audience.name}"`, didYouMean(e.audience.name, this.decls.audiences.keys()));
          return 'error';
        }
        return 'bool';
      }
      case 'call': return this.call(e, scope);
      case 'aggregate': return this.aggregate(e, scope);
      case 'then': {
        if (!this.notInFilter(e.span, scope, 'a then-sequence')) return 'error';
        this.step(e.first);
        this.step(e.second);
        this.typeOf(e.within, scope);
        return 'bool';
      }
      case 'sequence': {
        if (!this.notInFilter(e.span, scope, 'a sequence')) return 'error';
        if (e.steps.length < 2) this.report('arity', e.span, 'a sequence needs at least two steps', 'for one event, use count(E) >= 1');
        e.steps.forEach((s) => this.step(s));
        this.typeOf(e.within, scope);
        return 'bool';
      }
      case 'over': {
        const inner = e.operand;
        this.typeOf(e.window, scope);
        if (inner.kind !== 'aggregate' && inner.kind !== 'then' && inner.kind !== 'sequence') {
          this.typeOf(inner, scope);
          this.report('type-mismatch', e.window.span, '"over" applies to an aggregate, a then or a sequence',
            'write it right after the aggregate: count(purchase) over 30 days');
          return 'error';
        }
        if (inner.kind === 'then' && inner.negated) {
          this.report('type-mismatch', e.window.span, '"over" does not apply to "then not": it is true only while the wait has passed and no B came');
          return 'error';
        }
        return this.typeOf(inner, scope);
      }
    }
  }

  private notInFilter(span: Span, scope: Scope, what: string): boolean {
    if (scope.filtering === undefined) return true;
    this.report('type-mismatch', span, `${what} cannot be used inside a where filter: a filter looks at the fields of one ${scope.filtering} event`);
    return false;
  }

  private name(name: string, span: Span, scope: Scope): ValueType {
    if (scope.filtering !== undefined) {
      const ev = this.decls.events.get(scope.filtering);
      if (!ev) return 'error';
      const ft = ev.fields.get(name);
      if (ft) return FIELD_TYPES[ft] ?? 'error';
      this.report('unknown-field', span, `unknown field "${name}" of event ${scope.filtering}`, didYouMean(name, ev.fields.keys()));
      return 'error';
    }
    const trait = this.decls.traits.get(name);
    if (trait) return this.traitType(trait);
    if (this.decls.audiences.has(name)) {
      this.report('unknown-name', span, `"${name}" is an audience, not a value`, `write "in ${name}" to test membership`);
      return 'error';
    }
    if (this.decls.events.has(name)) {
      this.report('unknown-name', span, `"${name}" is an event, not a value`, `aggregate it, e.g. count(${name})`);
      return 'error';
    }
    this.report('unknown-name', span, `unknown name "${name}": no trait or score has it`,
      didYouMean(name, [...this.decls.traits.keys(), ...this.decls.audiences.keys()]));
    return 'error';
  }

  private field(event: string, eventSpan: Span, field: string, fieldSpan: Span, scope: Scope): ValueType {
    const ev = this.decls.events.get(event);
    if (!ev) {
      this.report('unknown-event', eventSpan, `unknown event "${event}"`, didYouMean(event, this.decls.events.keys()));
      return 'error';
    }
    const ft = ev.fields.get(field);
    if (!ft) {
      this.report('unknown-field', fieldSpan, `unknown field "${field}" of event ${event}`, didYouMean(field, ev.fields.keys()));
      return 'error';
    }
    if (scope.filtering === undefined) {
      this.report('type-mismatch', eventSpan, `${event}.${field} is a field of each ${event} event, not one value per customer`, `aggregate it, e.g. last(${event}.${field})`);
      return 'error';
    }
    if (scope.filtering !== event) {
      this.report('foreign-field', eventSpan, `"${event}.${field}" is a field of ${event}, but this where filters ${scope.filtering} events`,
        `refer to fields of ${scope.filtering} only`);
      return 'error';
    }
    return FIELD_TYPES[ft] ?? 'error';
  }

  /**
   * `distinct` keeps at most MAX_TALLY_VALUES values per customer, so a
   * comparison with a constant that tells apart counts above that would
   * silently never (or always) hold: refuse it.
   */
  private checkDistinctBound(e: BinaryExpr): void {
    const distinctLeft = isDistinct(e.left);
    if (!distinctLeft && !isDistinct(e.right)) return;
    const constant = distinctLeft ? e.right : e.left;
    if (constant.kind !== 'number') return;
    // As `distinct OP c`: the counts it must tell apart are c-1 and c (>=, <), or c and c+1 (>, <=, ==, !=).
    const op = distinctLeft ? e.op : MIRRORED[e.op] ?? e.op;
    const highest = op === '>=' || op === '<' ? constant.value : constant.value + 1;
    if (highest <= MAX_TALLY_VALUES) return;
    this.report('beyond-bound', constant.span,
      `distinct reads at most ${MAX_TALLY_VALUES} (it keeps the ${MAX_TALLY_VALUES} most recently seen values per customer), so comparing it with ${constant.value} cannot tell whether a customer has more`,
      `compare with a number up to ${MAX_TALLY_VALUES}, e.g. ">= ${MAX_TALLY_VALUES}"`);
  }

  private binary(e: BinaryExpr, scope: Scope): ValueType {
    const op = e.op;
    if (op === 'and' || op === 'or') {
      for (const side of [e.left, e.right]) {
        const t = this.typeOf(side, scope);
        if (!fits(t, 'bool')) this.report('type-mismatch', side.span, `"${op}" joins conditions, but this is ${typeName(t)}`, 'compare it, e.g. "... >= 1"');
      }
      return 'bool';
    }
    if (op === 'contains' || op === 'starts_with' || op === 'ends_with') {
      for (const side of [e.left, e.right]) {
        const t = this.typeOf(side, scope);
        if (!fits(t, 'string')) this.report('type-mismatch', side.span, `"${op}" works on strings, but this is ${typeName(t)}`);
      }
      return 'bool';
    }
    if (op === '==' || op === '!=' || op === '<' || op === '<=' || op === '>' || op === '>=') {
      const leftNow = isNowForm(e.left);
      const rightNow = isNowForm(e.right);
      if (leftNow || rightNow) {
        if (scope.filtering !== undefined) {
          this.report('time-dependent', e.span, 'now() cannot be used inside a where filter', 'compare the event time with last(E) or days_since instead');
          return 'error';
        }
        if (leftNow && rightNow) {
          this.report('time-dependent', e.span, 'comparing now() with now() says nothing');
          return 'bool';
        }
        const other = leftNow ? e.right : e.left;
        const t = this.typeOf(other, scope);
        if (!fits(t, 'time')) this.report('type-mismatch', other.span, `now() is compared with times only, but this is ${typeName(t)}`, 'for counts of days use days_since(t)');
        return 'bool';
      }
      const l = this.typeOf(e.left, scope);
      const r = this.typeOf(e.right, scope);
      if (!comparable(op, l, r)) {
        const hint = (l === 'number' && r === 'duration') || (l === 'duration' && r === 'number')
          ? 'a duration where a number is expected: write a plain number' : undefined;
        this.report('type-mismatch', e.span, hint ? `cannot compare ${typeName(l)} with ${typeName(r)}: ${hint}` : `cannot compare ${typeName(l)} with ${typeName(r)} using "${op}"`);
      }
      this.checkDistinctBound(e);
      return 'bool';
    }
    const l = this.typeOf(e.left, scope);
    const r = this.typeOf(e.right, scope);
    const result = arithmeticResult(op, l, r);
    if (result === undefined) {
      const durationForNumber = (l === 'number' && r === 'duration') || (l === 'duration' && r === 'number');
      this.report('type-mismatch', e.span, durationForNumber
        ? `a duration where a number is expected ("${op}" of ${typeName(l)} and ${typeName(r)})`
        : `"${op}" cannot combine ${typeName(l)} and ${typeName(r)}`);
      return 'error';
    }
    return result;
  }

  private call(e: CallExpr, scope: Scope): ValueType {
    const name = e.fn.name;
    const sig = FUNCTIONS[name];
    if (!sig) {
      const aggregateWithArgs = ['count', 'sum', 'avg', 'distinct', 'top', 'first', 'last'].includes(name);
      if (aggregateWithArgs) {
        this.report('arity', e.span, `${name}() takes one event or event.field, e.g. ${name}(purchase${name === 'count' || name === 'first' || name === 'last' ? '' : '.amount'})`);
      } else {
        this.report('unknown-function', e.fn.span, `unknown function "${name}"`, didYouMean(name, [...Object.keys(FUNCTIONS), 'count', 'sum', 'avg', 'distinct', 'top', 'first', 'last']));
      }
      e.args.forEach((a) => this.typeOf(a, scope));
      return 'error';
    }
    if (name === 'now') {
      this.report('time-dependent', e.span, 'now() may only be compared with a time, e.g. last(login) < now() - 30 days',
        'for a number of days, hours or minutes use days_since(t), hours_since(t) or minutes_since(t)');
      return 'error';
    }
    if (scope.filtering !== undefined && name.endsWith('_since')) {
      this.report('time-dependent', e.span, `${name}() cannot be used inside a where filter: a filter looks at one event`);
      return 'error';
    }
    if (e.args.length !== sig.arity) {
      this.report('arity', e.span, `${name}() takes ${sig.arity} argument${sig.arity === 1 ? '' : 's'}, not ${e.args.length}`);
      e.args.forEach((a) => this.typeOf(a, scope));
      return 'error';
    }
    const types = e.args.map((a) => this.typeOf(a, scope));
    types.forEach((t, i) => {
      const allowed = sig.args[i]!;
      if (allowed.length > 0 && !allowed.some((a) => fits(t, a))) {
        this.report('type-mismatch', e.args[i]!.span, t === 'duration' && allowed.includes('number')
          ? `a duration where a number is expected in ${name}()`
          : `${name}() needs ${allowed.map(typeName).join(' or ')} here, but this is ${typeName(t)}`);
      }
    });
    if ((name === 'min' || name === 'max' || name === 'coalesce') && !comparable('==', types[0]!, types[1]!)) {
      this.report('type-mismatch', e.span, `${name}() needs two values of one type, not ${typeName(types[0]!)} and ${typeName(types[1]!)}`);
    }
    return sig.result(types);
  }

  private aggregate(e: AggregateExpr, scope: Scope): ValueType {
    if (!this.notInFilter(e.span, scope, `${e.fn}()`)) return 'error';
    const ev = this.decls.events.get(e.event.name);
    if (!ev) {
      this.report('unknown-event', e.event.span, `unknown event "${e.event.name}"`, didYouMean(e.event.name, this.decls.events.keys()));
      return 'error';
    }
    let fieldType: ValueType | undefined;
    if (e.field) {
      const ft = ev.fields.get(e.field.name);
      if (!ft) {
        this.report('unknown-field', e.field.span, `unknown field "${e.field.name}" of event ${e.event.name}`, didYouMean(e.field.name, ev.fields.keys()));
        fieldType = 'error';
      } else {
        fieldType = FIELD_TYPES[ft] ?? 'error';
      }
    }
    if (e.where) {
      const wt = this.typeOf(e.where, { filtering: e.event.name });
      if (!fits(wt, 'bool')) this.report('type-mismatch', e.where.span, `a where filter must be a condition, but this is ${typeName(wt)}`);
    }
    if (FIELD_AGGREGATES.has(e.fn) && !e.field) {
      this.report('arity', e.span, `${e.fn}() needs a field: ${e.fn}(${e.event.name}.FIELD)`,
        ev.fields.size > 0 ? `for example ${e.fn}(${e.event.name}.${[...ev.fields.keys()][0]})` : undefined);
      return 'error';
    }
    if (fieldType === 'error') return 'error';
    switch (e.fn) {
      case 'count': case 'distinct': return 'number';
      case 'sum': case 'avg':
        if (fieldType !== 'number') {
          this.report('type-mismatch', e.field?.span ?? e.span, `${e.fn}() needs a number field, but ${e.event.name}.${e.field?.name} is ${typeName(fieldType!)}`,
            e.fn === 'sum' ? `to count them, use count(${e.event.name})` : undefined);
          return 'error';
        }
        return 'number';
      case 'min': case 'max':
        if (fieldType !== 'number' && fieldType !== 'time') {
          this.report('type-mismatch', e.field?.span ?? e.span, `${e.fn}() needs a number or time field, but ${e.event.name}.${e.field?.name} is ${typeName(fieldType!)}`);
          return 'error';
        }
        return fieldType;
      case 'top': return fieldType!;
      case 'first': case 'last': return fieldType ?? 'time';
    }
  }

  private step(s: Step): void {
    const ev = this.decls.events.get(s.event.name);
    if (!ev) {
      this.report('unknown-event', s.event.span, `unknown event "${s.event.name}"`, didYouMean(s.event.name, this.decls.events.keys()));
      return;
    }
    if (s.where) {
      const t = this.typeOf(s.where, { filtering: s.event.name });
      if (!fits(t, 'bool')) this.report('type-mismatch', s.where.span, `a step filter must be a condition, but this is ${typeName(t)}`);
    }
  }
}

/** `now()`, `now() + D`, `now() - D`. */
function isNowForm(e: Expr): boolean {
  if (e.kind === 'call' && e.fn.name === 'now' && e.args.length === 0) return true;
  return e.kind === 'binary' && (e.op === '+' || e.op === '-') && e.right.kind === 'duration' && isNowForm(e.left);
}

/** The clauses that begin with this word, as a suggestion (`stay at` → "stay at least"); undefined for none. */
function sameFirstWord(word: string): string | undefined {
  const found = Object.keys(STEADY_CLAUSES).filter((k) => k.startsWith(`${word} `));
  return found.length === 0 ? undefined : `did you mean ${found.map((k) => `"${k}"`).join(' or ')}?`;
}
