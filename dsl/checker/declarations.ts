/**
 * The program's declarations, across all its files, with the errors they
 * have on their own: a second source or output, an unknown format or field
 * type, duplicate events, fields and names. Traits, scores and audiences
 * share one namespace with offers and decisions, so `in vip` and a trait
 * `vip` cannot both exist.
 */
import type { AudienceDecl, DecisionDecl, EventDecl, OfferDecl, RuleFile, SourceDecl, TraitDecl } from '../ast.js';
import type { Diagnostic } from '../diagnostics.js';
import { didYouMean } from '../suggest.js';

export interface EventInfo {
  decl: EventDecl;
  fields: Map<string, string>;
}

export interface Declarations {
  events: Map<string, EventInfo>;
  traits: Map<string, TraitDecl>;
  audiences: Map<string, AudienceDecl>;
  offers: Map<string, OfferDecl>;
  decisions: Map<string, DecisionDecl>;
}

const FIELD_TYPES = ['number', 'string', 'bool', 'time'];

export function collectDeclarations(files: RuleFile[], report: (d: Diagnostic) => void): Declarations {
  const decls: Declarations = { events: new Map(), traits: new Map(), audiences: new Map(), offers: new Map(), decisions: new Map() };

  const sources = files.flatMap((f) => (f.source ? [f.source] : []));
  for (const extra of sources.slice(1)) {
    report({ code: 'bad-declaration', span: extra.span, message: `a second source declaration (the first is in ${sources[0]!.span.file}:${sources[0]!.span.line}): a program reads one source` });
  }
  for (const s of sources) {
    if (s.format && s.format.name !== 'json' && s.format.name !== 'avro') {
      const d: Diagnostic = { code: 'bad-declaration', span: s.format.span, message: `unknown format "${s.format.name}": use json or avro` };
      const hint = didYouMean(s.format.name, ['json', 'avro']);
      if (hint) d.suggestion = hint;
      report(d);
    }
  }
  for (const s of sources) checkIdentity(s, files, report);
  const outputs = files.flatMap((f) => f.outputs);
  for (const extra of outputs.slice(1)) {
    report({ code: 'bad-declaration', span: extra.span, message: `a second output declaration (the first is in ${outputs[0]!.span.file}:${outputs[0]!.span.line}): a program writes one output topic` });
  }

  for (const f of files) {
    for (const e of f.events) {
      const name = e.name.name;
      if (!name) continue;
      const prev = decls.events.get(name);
      if (prev) {
        report({ code: 'duplicate-name', span: e.name.span, message: `event "${name}" is declared twice (first in ${prev.decl.span.file}:${prev.decl.span.line})` });
        continue;
      }
      const fields = new Map<string, string>();
      for (const fd of e.fields) {
        if (fields.has(fd.name.name)) {
          report({ code: 'duplicate-name', span: fd.name.span, message: `field "${fd.name.name}" is declared twice in event ${name}` });
          continue;
        }
        if (!FIELD_TYPES.includes(fd.type.name)) {
          const d: Diagnostic = { code: 'bad-declaration', span: fd.type.span, message: `unknown field type "${fd.type.name}": use number, string, bool or time` };
          const hint = didYouMean(fd.type.name, FIELD_TYPES);
          if (hint) d.suggestion = hint;
          report(d);
          fields.set(fd.name.name, 'error');
          continue;
        }
        fields.set(fd.name.name, fd.type.name);
      }
      decls.events.set(name, { decl: e, fields });
    }
  }

  const firstByName = new Map<string, { kind: string; span: { file: string; line: number } }>();
  const claim = (name: string, kind: string, span: TraitDecl['span'], nameSpan: TraitDecl['span']): boolean => {
    if (!name) return false;
    const prev = firstByName.get(name);
    if (prev) {
      report({ code: 'duplicate-name', span: nameSpan, message: `"${name}" is already declared as ${/^[aeiou]/.test(prev.kind) ? 'an' : 'a'} ${prev.kind} (${prev.span.file}:${prev.span.line}); traits, scores, audiences, offers and decisions share one namespace` });
      return false;
    }
    firstByName.set(name, { kind, span });
    return true;
  };
  // Declaration order across files: traits first would misreport which came first, so go file by file in position order.
  for (const f of files) {
    const items = [
      ...f.traits.map((t) => ({ pos: t.span.offset, run: () => { if (claim(t.name.name, t.kind, t.span, t.name.span)) decls.traits.set(t.name.name, t); } })),
      ...f.audiences.map((a) => ({ pos: a.span.offset, run: () => { if (claim(a.name.name, 'audience', a.span, a.name.span)) decls.audiences.set(a.name.name, a); } })),
      ...f.offers.map((o) => ({ pos: o.span.offset, run: () => { if (claim(o.name.name, 'offer', o.span, o.name.span)) decls.offers.set(o.name.name, o); } })),
      ...f.decisions.map((d) => ({ pos: d.span.offset, run: () => { if (claim(d.name.name, 'decision', d.span, d.name.span)) decls.decisions.set(d.name.name, d); } })),
    ].sort((x, y) => x.pos - y.pos);
    items.forEach((i) => i.run());
  }
  return decls;
}

/**
 * `identity F1, F2 limit N, ...  block "..."` (customer-lifecycle.md,
 * section 2): instead of `key`, fields no two of which are one, none of
 * them the type or time field, each a string wherever an event declares
 * it, limits of at least one.
 */
function checkIdentity(s: SourceDecl, files: RuleFile[], report: (d: Diagnostic) => void): void {
  const id = s.identity;
  if (!id) return;
  if (s.key) {
    report({
      code: 'bad-declaration', span: s.key.span,
      message: `a source has either key or identity, not both: key "${s.key.name}" names one customer field, identity lists a customer's identifier fields`,
      suggestion: id.fields.some((f) => f.name.name === s.key!.name) ? `remove "key ${s.key.name}"` : `remove "key ${s.key.name}", or add ${s.key.name} to the identity fields`,
    });
  }
  if (id.fields.length === 0) {
    report({ code: 'bad-declaration', span: id.span, message: 'identity lists no fields', suggestion: 'write the identifier fields, most trusted first, e.g. "identity user_id, email, anonymous_id"' });
  }
  const seen = new Set<string>();
  const declared = new Map<string, { type: string; event: string; span: SourceDecl['span'] }>();
  for (const f of files) {
    for (const e of f.events) for (const fd of e.fields) if (!declared.has(fd.name.name)) declared.set(fd.name.name, { type: fd.type.name, event: e.name.name, span: fd.type.span });
  }
  const typeField = s.type?.name ?? 'type';
  const timeField = s.time?.name ?? 'ts';
  for (const field of id.fields) {
    const name = field.name.name;
    if (seen.has(name)) {
      report({ code: 'duplicate-name', span: field.name.span, message: `identity lists "${name}" twice`, suggestion: 'keep it once, where its trust puts it (most trusted first)' });
      continue;
    }
    seen.add(name);
    if (name === typeField || name === timeField) {
      report({ code: 'bad-declaration', span: field.name.span, message: `"${name}" is the source's ${name === typeField ? 'type' : 'time'} field and cannot identify a customer`, suggestion: 'list the fields that hold customer identifiers (user id, e-mail, device or cookie id)' });
    }
    const d = declared.get(name);
    if (d && d.type !== 'string' && d.type !== 'error') {
      report({
        code: 'type-mismatch', span: field.name.span,
        message: `identifier field "${name}" is declared as ${d.type} in event ${d.event} (${d.span.file}:${d.span.line}); identifiers are strings`,
        suggestion: `declare it as "${name}: string" (numbers in records are read as their decimal text)`,
      });
    }
    const limit = field.limit;
    if (limit && (!Number.isInteger(limit.value) || limit.value < 1)) {
      report({ code: 'bad-declaration', span: limit.span, message: `limit ${limit.value} on "${name}": a limit is a whole number of values of at least 1`, suggestion: `write e.g. "${name} limit 5", or no limit for any number` });
    }
  }
  const blocked = new Set<string>();
  for (const b of id.block) {
    if (blocked.has(b.value)) report({ code: 'duplicate-name', span: b.span, message: `block lists ${JSON.stringify(b.value)} twice`, suggestion: 'keep it once' });
    blocked.add(b.value);
  }
}
