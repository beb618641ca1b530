/**
 * Every place a rule set names an event, a field, a trait, a score, an
 * audience, an offer or a decision, declaration or use, resolved the way the checker resolves names:
 * inside a `where` filter a bare name is a field of the filtered event,
 * elsewhere a trait, score, audience, offer or decision (one namespace).
 *
 * Definition, references, rename and hover all read this one index.
 */
import type { Expr, RuleFile, Step } from '../dsl/ast.js';
import type { Span } from '../dsl/diagnostics.js';

/** `event:purchase`, `field:purchase.amount`, `name:vip` (a trait, score, audience, offer or decision). */
export type SymbolKey = string;

export interface Occurrence {
  key: SymbolKey;
  span: Span;
  declaration: boolean;
}

export interface SymbolIndex {
  occurrences: Occurrence[];
}

export const eventKey = (event: string): SymbolKey => `event:${event}`;
export const fieldKey = (event: string, field: string): SymbolKey => `field:${event}.${field}`;
export const nameKey = (name: string): SymbolKey => `name:${name}`;

export function indexSymbols(files: RuleFile[]): SymbolIndex {
  const occurrences: Occurrence[] = [];
  const add = (key: SymbolKey, name: string, span: Span, declaration = false): void => {
    if (name !== '') occurrences.push({ key, span, declaration });
  };

  const step = (s: Step): void => {
    add(eventKey(s.event.name), s.event.name, s.event.span);
    if (s.where) expr(s.where, s.event.name);
  };
  const expr = (e: Expr, filtering?: string): void => {
    switch (e.kind) {
      case 'name':
        if (filtering !== undefined) add(fieldKey(filtering, e.name.name), e.name.name, e.name.span);
        else add(nameKey(e.name.name), e.name.name, e.name.span);
        return;
      case 'field':
        add(eventKey(e.event.name), e.event.name, e.event.span);
        add(fieldKey(e.event.name, e.field.name), e.field.name, e.field.span);
        return;
      case 'aggregate':
        add(eventKey(e.event.name), e.event.name, e.event.span);
        if (e.field) add(fieldKey(e.event.name, e.field.name), e.field.name, e.field.span);
        if (e.where) expr(e.where, e.event.name);
        return;
      case 'in-audience': add(nameKey(e.audience.name), e.audience.name, e.audience.span); return;
      case 'then': step(e.first); step(e.second); return;
      case 'sequence': e.steps.forEach(step); return;
      case 'binary': expr(e.left, filtering); expr(e.right, filtering); return;
      case 'unary': expr(e.operand, filtering); return;
      case 'in-list': expr(e.operand, filtering); e.values.forEach((v) => expr(v, filtering)); return;
      case 'call': e.args.forEach((a) => expr(a, filtering)); return;
      case 'over': expr(e.operand, filtering); return;
      default: return;
    }
  };

  for (const f of files) {
    for (const ev of f.events) {
      add(eventKey(ev.name.name), ev.name.name, ev.name.span, true);
      for (const fd of ev.fields) add(fieldKey(ev.name.name, fd.name.name), fd.name.name, fd.name.span, true);
    }
    for (const t of f.traits) {
      add(nameKey(t.name.name), t.name.name, t.name.span, true);
      expr(t.expr);
    }
    for (const a of f.audiences) {
      add(nameKey(a.name.name), a.name.name, a.name.span, true);
      // A steady audience's names are in all its clauses (`leave when` too).
      for (const e of a.clauses ? a.clauses.map((c) => c.value) : [a.expr]) expr(e);
    }
    for (const o of f.offers) {
      add(nameKey(o.name.name), o.name.name, o.name.span, true);
      if (o.eligible) expr(o.eligible);
      if (o.score) expr(o.score);
    }
    for (const d of f.decisions) {
      add(nameKey(d.name.name), d.name.name, d.name.span, true);
      for (const o of d.offers) add(nameKey(o.name), o.name, o.span);
      if (d.deliver?.zoneTrait) add(nameKey(d.deliver.zoneTrait.name), d.deliver.zoneTrait.name, d.deliver.zoneTrait.span);
    }
  }
  return { occurrences };
}

/** The name under a position (a 0-based offset into `file`), if any; the end of a name counts. */
export function occurrenceAt(index: SymbolIndex, file: string, offset: number): Occurrence | undefined {
  return index.occurrences.find((o) => o.span.file === file && o.span.offset <= offset && offset <= o.span.endOffset);
}

export function occurrencesOf(index: SymbolIndex, key: SymbolKey): Occurrence[] {
  return index.occurrences.filter((o) => o.key === key);
}
