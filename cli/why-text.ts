/**
 * The why view (engine/customer-why.ts) as text for a terminal: what
 * `aud why` prints without --json. For a marketer as much as for an
 * engineer: each audience's verdict first, then the rule as a tree with the
 * value of every part and the parts that decided it marked, then the
 * customer's decisions (each offer's eligibility, score, rank and caps, and
 * the verdict), then the customer's last enter/leave with what caused them.
 *
 *     vip: IN (v3) since 2026-02-10T09:12:00.000Z; may change 2026-03-05T10:00:00.000Z
 *       → ✓ sum(purchase.amount) over 365 days >= 10000 and count(purchase) over 90 days >= 3
 *         → ✓ sum(purchase.amount) over 365 days >= 10000
 *           → sum(purchase.amount) over 365 days = 12500
 *         → ✓ count(purchase) over 90 days >= 3   (changes 2026-03-05T10:00:00.000Z)
 *           → count(purchase) over 90 days = 4   (changes 2026-03-05T10:00:00.000Z)
 */
import type { Plan, Value } from '../dsl/plan.js';
import type { CustomerWhy, TransitionWhy, WhyNode } from '../engine/customer-why.js';
import type { CapWhy } from '../engine/decision-why.js';

const INDENT = '  ';

/**
 * `plan`, when given, tells which values are instants (`last(purchase)`, a
 * field of type time), shown as ISO text rather than epoch milliseconds.
 */
export function whyText(why: CustomerWhy, plan?: Plan): string {
  const out: string[] = [];
  const instants = plan ? instantTexts(plan) : new Set<string>();
  const valueText = (text: string, v: Value): string => (typeof v === 'number' && instants.has(text) ? new Date(v).toISOString() : plainValueText(v));
  const tree = (node: WhyNode, depth: number): void => {
    const mark = node.decisive ? '→' : ' ';
    const { value } = node;
    const line = value === true ? `✓ ${node.text}` : value === false ? `✗ ${node.text}` : value === null ? `? ${node.text} (no value)` : `${node.text} = ${valueText(node.text, value)}`;
    out.push(`${INDENT.repeat(depth)}${mark} ${line}${node.nextChangeAt ? `   (changes ${node.nextChangeAt})` : ''}`);
    for (const child of node.children) tree(child, depth + 1);
  };
  const where = why.partition === null ? '' : `, partition ${why.partition}`;
  out.push(`customer ${why.customer}${where}, as of ${why.asOf ?? '(no event yet)'}`);
  out.push('→ decided the result   ✓ true   ✗ false   ? unknown (a value is missing)');
  out.push('');
  out.push('audiences');
  for (const a of why.audiences) {
    out.push(`${INDENT}${a.name}: ${verdict(a.member, a.version, why.transitions.find((t) => t.audience === a.name))}${mayChange(a.nextChangeAt)}`);
    if (a.steady) {
      const st = a.steady;
      const since = (iso: string | null): string => (iso === null ? 'not true now' : `true since ${iso}`);
      out.push(`${INDENT}${INDENT}steady: enter condition ${since(st.enterHeldSince)}; leave condition ${since(st.leaveHeldSince)}`
        + `${st.dueAt !== null ? `; ${a.member ? 'leaves' : 'enters'} at ${st.dueAt} if it holds until then` : ''}`);
      out.push(`${INDENT}${INDENT}enter when`);
      tree(a.expression, 3);
      if (st.leave) {
        out.push(`${INDENT}${INDENT}leave when`);
        tree(st.leave, 3);
      }
    } else tree(a.expression, 2);
  }
  if (why.traits.length > 0) {
    out.push('');
    out.push('traits and scores');
    for (const t of why.traits) {
      out.push(`${INDENT}${t.kind} ${t.name} = ${valueText(t.name, t.value)}${mayChange(t.nextChangeAt)}`);
      // A trait that is one aggregate says all on its first line.
      if (t.expression.children.length > 0) tree(t.expression, 2);
    }
  }
  if (why.decisions.length > 0) {
    out.push('');
    out.push('decisions');
    for (const d of why.decisions) {
      const sent = d.version === 0 ? 'nothing sent yet' : `last sent ${d.lastSent ?? 'no offer'} (v${d.version})`;
      out.push(`${INDENT}${d.name}: ${d.value ?? 'no offer'} — ${d.verdict}; ${sent}`);
      if (d.window) {
        const from = d.window.zoneFrom === 'rule' ? '' : d.window.zoneFrom === 'trait' ? ' (the customer\'s zone)' : ' (the default zone)';
        out.push(`${INDENT}${INDENT}window ${d.window.between} in ${d.window.zone}${from}: ${d.window.open ? 'open' : `closed, opens ${d.window.opensAt}`}`);
      }
      for (const c of d.caps) out.push(`${INDENT}${INDENT}cap ${capText(c)}`);
      for (const o of d.offers) {
        const rank = o.rank === null ? '-' : `${o.rank}.`;
        const score = o.score === null ? 'no score' : `score ${plainValueText(o.score)}`;
        const caps = o.caps.length > 0 ? `; cap ${o.caps.map(capText).join(', ')}` : '';
        const eligible = o.eligible === true ? 'eligible' : o.eligible === false ? 'not eligible' : 'eligibility unknown';
        out.push(`${INDENT}${INDENT}${rank} ${o.name}: ${o.outcome === 'not eligible' ? '' : `${o.outcome}; `}${eligible}, ${score}${caps}`);
        if (o.eligibility) { out.push(`${INDENT.repeat(3)}eligible`); tree(o.eligibility, 4); }
        out.push(`${INDENT.repeat(3)}score`);
        tree(o.scoreExpression, 4);
      }
    }
  }
  out.push('');
  if (why.transitions.length === 0) out.push('no enter or leave recorded for this customer');
  else {
    out.push('last enter/leave, newest first');
    for (const t of why.transitions) out.push(`${INDENT}${transitionLine(t)}`);
  }
  if (why.approximate.length > 0) {
    out.push('');
    out.push(`approximate (a distinct or top holding its most values): ${why.approximate.join('; ')}`);
  }
  return out.join('\n') + '\n';
}

/** `1 per 1 week: 1 sent, full until 2026-…` */
function capText(c: CapWhy): string {
  return `${c.cap}: ${c.sent} sent${c.full ? `, full until ${c.freesAt}` : ''}`;
}

/** `IN (v3) since …` or `OUT`, with the latest transition of the audience when one is known. */
function verdict(member: boolean, version: number, last: TransitionWhy | undefined): string {
  if (member) return `IN (v${version})${last && last.type === 'enter' ? ` since ${last.at}` : ''}`;
  if (version === 0) return 'OUT (never entered)';
  return `OUT (v${version})${last && last.type === 'leave' ? ` since ${last.at}` : ''}`;
}

function mayChange(at: string | null): string {
  return at === null ? '' : `; may change ${at}`;
}

/** The texts (aggregates, and traits that are one) whose values are instants: `first(E)`, `last(E)`, and of fields of type time. */
function instantTexts(plan: Plan): Set<string> {
  const out = new Set<string>();
  const instantSlots = new Set<number>();
  plan.slots.forEach((slot, i) => {
    if (slot.kind !== 'aggregate') return;
    const fieldType = slot.field === undefined ? undefined : plan.events.find((e) => e.name === slot.event)?.fields.find((f) => f.name === slot.field)?.type;
    const instant = slot.field === undefined ? slot.fn === 'first' || slot.fn === 'last' : fieldType === 'time' && ['first', 'last', 'min', 'max'].includes(slot.fn);
    if (!instant) return;
    out.add(slot.text);
    instantSlots.add(i);
  });
  for (const t of plan.traits) if (t.expr.op === 'slot' && instantSlots.has(t.expr.slot)) out.add(t.name);
  return out;
}

/** Numbers to six significant digits (0.3 * 101 is 30.3, not 30.299999999999997); the JSON has them exact. */
function plainValueText(v: Value): string {
  if (v === null) return 'null (no value)';
  if (typeof v === 'number' && !Number.isInteger(v)) return String(Number(v.toPrecision(6)));
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** `2026-02-10T09:12:00.000Z  enter vip (v3)  event  retail.events/3@812`. */
export function transitionLine(t: TransitionWhy): string {
  const cause = t.cause === undefined ? '' : 'line' in t.cause ? `  line ${t.cause.line}` : `  ${t.cause.topic}/${t.cause.partition}@${t.cause.offset}`;
  return `${t.at}  ${t.type} ${t.audience} (v${t.version})  ${reasonText(t)}${cause}`;
}

function reasonText(t: TransitionWhy): string {
  switch (t.reason) {
    case 'event': return 'on an event';
    case 'timer': return 'by time (a window or deadline passed)';
    case 'rule_change': return 'on a rule change';
    case 'merge': return 'on a merge of profiles';
    case 'erasure': return 'on an erasure';
  }
}
