/**
 * Hover: what a name or an aggregate under the cursor is.
 * - an aggregate: its meaning and its window, with the precision the engine
 *   keeps for that window (the planner's bucket width);
 * - a function: its meaning;
 * - an audience: its description and definition; a trait or score: its type
 *   (as the checker inferred it) and definition; an offer or a decision: its
 *   description and definition;
 * - an event: its declaration; a field: its type.
 */
import { MarkupKind, type Hover } from 'vscode-languageserver';
import type { DurationLiteral, Expr, RuleFile } from '../dsl/ast.js';
import type { Span } from '../dsl/diagnostics.js';
import { bucketWidthFor, HOUR_MS, MINUTE_MS } from '../dsl/plan.js';
import { AGGREGATE_DOCS, FUNCTION_DOCS } from './builtins.js';
import { spanToRange } from './positions.js';
import type { RuleSetAnalysis } from './rule-set.js';
import { occurrenceAt } from './symbol-index.js';

export function hover(analysis: RuleSetAnalysis, path: string, offset: number): Hover | null {
  const file = analysis.files.get(path);
  if (!file) return null;
  const call = callAt(file.file, offset);
  if (call) return markdown(call.text, call.span);

  const o = occurrenceAt(analysis.symbols, path, offset);
  if (!o) return null;
  const [kind, rest] = [o.key.slice(0, o.key.indexOf(':')), o.key.slice(o.key.indexOf(':') + 1)];
  const all = [...analysis.files.values()];
  const source = (span: Span): string => analysis.files.get(span.file)?.text.slice(span.offset, span.endOffset) ?? '';
  if (kind === 'event') {
    const decl = all.flatMap((f) => f.file.events).find((e) => e.name.name === rest);
    return markdown(decl ? `**event** \`${rest}\`\n\n\`\`\`aud\n${source(decl.span)}\n\`\`\`` : `**event** \`${rest}\` (not declared)`, o.span);
  }
  if (kind === 'field') {
    const [event, field] = rest.split('.') as [string, string];
    const type = all.flatMap((f) => f.file.events).find((e) => e.name.name === event)?.fields.find((f) => f.name.name === field)?.type.name;
    return markdown(`**field** \`${event}.${field}\`: ${type ?? 'not declared'}`, o.span);
  }
  const audience = all.flatMap((f) => f.file.audiences).find((a) => a.name.name === rest);
  if (audience) {
    return markdown(`**audience** \`${rest}\`${audience.description ? ` — ${audience.description}` : ''}\n\n\`\`\`aud\n${source(audience.span)}\n\`\`\``, o.span);
  }
  const trait = all.flatMap((f) => f.file.traits).find((t) => t.name.name === rest);
  if (trait) {
    const type = analysis.check.traitTypes.get(rest);
    return markdown(`**${trait.kind}** \`${rest}\`${type && type !== 'error' ? `: ${type}` : ''}\n\n\`\`\`aud\n${source(trait.span)}\n\`\`\``, o.span);
  }
  const offer = all.flatMap((f) => f.file.offers).find((x) => x.name.name === rest);
  if (offer) {
    return markdown(`**offer** \`${rest}\`${offer.description ? ` — ${offer.description}` : ''}\n\n\`\`\`aud\n${source(offer.span)}\n\`\`\``, o.span);
  }
  const decision = all.flatMap((f) => f.file.decisions).find((x) => x.name.name === rest);
  if (decision) {
    return markdown(`**decision** \`${rest}\`${decision.description ? ` — ${decision.description}` : ''}: the best eligible offer by score, sent when it changes\n\n\`\`\`aud\n${source(decision.span)}\n\`\`\``, o.span);
  }
  return markdown(`\`${rest}\` is not declared`, o.span);
}

function markdown(value: string, span: Span): Hover {
  return { contents: { kind: MarkupKind.Markdown, value }, range: spanToRange(span) };
}

function duration(ms: number): string {
  return ms % HOUR_MS === 0 ? `${ms / HOUR_MS} hour${ms === HOUR_MS ? '' : 's'}` : `${ms / MINUTE_MS} minute${ms === MINUTE_MS ? '' : 's'}`;
}

/** What an aggregate's window keeps, in the words of docs/language.md ("Windows"). */
export function windowText(window: DurationLiteral | undefined): string {
  if (!window) return 'No window: it covers all time.';
  const bucket = bucketWidthFor(window.ms);
  return `Window: the events of the last ${window.text}, kept in ${duration(bucket)} buckets: ` +
    `an event leaves the window up to ${duration(bucket)} before its exact time, never after.`;
}

/** The aggregate or function whose name is under the offset, with its hover text. */
function callAt(file: RuleFile, offset: number): { text: string; span: Span } | undefined {
  let found: { text: string; span: Span } | undefined;
  const inside = (s: Span) => s.offset <= offset && offset <= s.endOffset;
  const visit = (e: Expr, window?: DurationLiteral): void => {
    if (found || !inside(e.span)) return;
    switch (e.kind) {
      case 'over': visit(e.operand, e.window); return;
      case 'aggregate': {
        if (inside(e.fnSpan)) {
          const doc = AGGREGATE_DOCS[e.fn];
          found = { text: `**${e.fn}** (aggregate) \`${doc.signature}\`\n\n${doc.meaning}.\n\n${windowText(window)}`, span: e.fnSpan };
          return;
        }
        if (e.where) visit(e.where);
        return;
      }
      case 'call': {
        const doc = FUNCTION_DOCS[e.fn.name];
        if (inside(e.fn.span) && doc) { found = { text: `**${e.fn.name}** (function) \`${doc.signature}\`\n\n${doc.meaning}.`, span: e.fn.span }; return; }
        e.args.forEach((a) => visit(a));
        return;
      }
      case 'binary': visit(e.left); visit(e.right); return;
      case 'unary': visit(e.operand); return;
      case 'in-list': visit(e.operand); e.values.forEach((v) => visit(v)); return;
      case 'then': if (e.first.where) visit(e.first.where); if (e.second.where) visit(e.second.where); return;
      case 'sequence': e.steps.forEach((s) => s.where && visit(s.where)); return;
      default: return;
    }
  };
  for (const t of file.traits) visit(t.expr);
  for (const a of file.audiences) for (const e of a.clauses ? a.clauses.map((c) => c.value) : [a.expr]) visit(e);
  for (const o of file.offers) { if (o.eligible) visit(o.eligible); if (o.score) visit(o.score); }
  return found;
}

