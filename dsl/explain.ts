/**
 * `aud explain`: the plan as text for a person — which states are kept per
 * customer and what feeds them, what each audience reads, what fires timers.
 */
import { clockText, durationText } from './plan-text.js';
import type { Plan, PExpr, SlotPlan } from './plan.js';

function slotState(slot: SlotPlan): string {
  switch (slot.kind) {
    case 'aggregate': {
      const kept = slot.windowMs === undefined
        ? 'all time, one value'
        : `window ${durationText(slot.windowMs)} in ${durationText(slot.bucketMs!)} buckets (expires by timer)`;
      return slot.maxValues === undefined ? kept : `${kept}; at most ${slot.maxValues} values, the most recently seen (past them approximate)`;
    }
    case 'sequence':
      return `sequence of ${slot.steps.length} steps within ${durationText(slot.withinMs)}: latest partial match per step + latest match time`;
    case 'absence':
      return `absence: time of the latest ${slot.first.event} + whether a ${slot.second.event} followed (deadline by timer)`;
    case 'dwell':
      return `dwell of ${slot.audience}: since when its enter and leave conditions hold + its last enter/leave (delays by timer)`;
    case 'decision':
      return `decision ${slot.decision}: the offer last sent, its version, the sends its caps count (window and caps by timer)`;
  }
}

function fedBy(slot: SlotPlan): string {
  switch (slot.kind) {
    case 'aggregate': return slot.event;
    case 'sequence': return [...new Set(slot.steps.map((s) => s.event))].join(', ');
    case 'absence': return [...new Set([slot.first.event, slot.second.event])].join(', ');
    case 'dwell': return 'no event (written by its audience)';
    case 'decision': return 'no event (written by its decision)';
  }
}

/** For each slot, the audiences that read it, in evaluation order: one pass over the audiences. */
function audiencesBySlot(plan: Plan): string[][] {
  const readers = plan.slots.map((): string[] => []);
  for (const a of plan.audiences) {
    for (const slot of a.slots) readers[slot]!.push(a.name);
    if (a.steady) readers[a.steady.slot]!.push(a.name);
  }
  for (const d of plan.decisions ?? []) {
    readers[d.slot]!.push(`decision ${d.name}`);
    for (const o of d.offers) for (const slot of offerSlots(plan, o)) if (!readers[slot]!.includes(`decision ${d.name}`)) readers[slot]!.push(`decision ${d.name}`);
  }
  return readers;
}

export function explainPlan(plan: Plan): string {
  const out: string[] = [];
  const src = plan.source;
  out.push(`plan ${plan.fingerprint}`);
  const customers = src.identity
    ? `identity=${src.identity.fields.map((f) => (f.limit === null ? f.name : `${f.name}(limit ${f.limit})`)).join(',')}${src.identity.block.length > 0 ? ` block=${src.identity.block.map((b) => JSON.stringify(b)).join(',')}` : ''}`
    : `key=${src.keyField ?? '(message key)'}`;
  out.push(`source  ${src.topic ?? '(no topic: aud run needs one)'}  ${customers} type=${src.typeField} time=${src.timeField} format=${src.format}`);
  out.push(`output  ${plan.outputTopic ?? '(none declared)'}`);
  out.push('');
  out.push(`events (${plan.events.length})`);
  for (const e of plan.events) {
    const feeds = plan.feeds[e.name] ?? [];
    out.push(`  ${e.name} { ${e.fields.map((f) => `${f.name}: ${f.type}`).join(', ')} }  feeds ${feeds.length ? feeds.map((i) => '#' + i).join(' ') : 'nothing'}`);
  }
  out.push('');
  out.push(`shared states per customer (${plan.slots.length})`);
  const readers = audiencesBySlot(plan);
  plan.slots.forEach((s, i) => {
    const users = readers[i]!;
    out.push(`  #${i} ${s.text}`);
    out.push(`       ${slotState(s)}; fed by ${fedBy(s)}; read by ${users.length ? users.join(', ') : 'traits only'}`);
  });
  out.push('');
  out.push(`traits and scores (${plan.traits.length}, in evaluation order)`);
  for (const t of plan.traits) out.push(`  ${t.kind} ${t.name} = ${t.text}`);
  out.push('');
  out.push(`audiences (${plan.audiences.length}, in evaluation order)`);
  for (const a of plan.audiences) {
    out.push(`  ${a.name}${a.description ? ` "${a.description}"` : ''}`);
    if (a.steady) {
      const st = a.steady;
      out.push(`       enter when ${a.text}`);
      out.push(`       leave when ${st.leaveText ?? `not (enter condition true)`}`);
      const delays = [
        st.enterAfterMs > 0 ? `enter after ${durationText(st.enterAfterMs)}` : '',
        st.leaveAfterMs > 0 ? `leave after ${durationText(st.leaveAfterMs)}` : '',
        st.stayMs > 0 ? `stay at least ${durationText(st.stayMs)}` : '',
      ].filter(Boolean).join(', ');
      out.push(`       steady: ${delays || 'no delay'}; dwell state #${st.slot}`);
    } else out.push(`       = ${a.text}`);
    const deps = [
      a.slots.length ? `states ${a.slots.map((i) => '#' + i).join(' ')}` : '',
      a.audiences.length ? `audiences ${a.audiences.join(', ')}` : '',
    ].filter(Boolean).join('; ');
    out.push(`       reads ${deps || 'nothing'}; ${a.timeDependent ? 'changes with time alone: re-evaluated by timer' : 'changes only on events'}`);
  }
  const offers = plan.offers ?? [];
  const decisions = plan.decisions ?? [];
  if (offers.length > 0 || decisions.length > 0) {
    out.push('');
    out.push(`offers (${offers.length})`);
    for (const o of offers) {
      out.push(`  ${o.name}${o.description ? ` "${o.description}"` : ''}`);
      out.push(`       eligible ${o.eligibleText ?? 'always'}`);
      out.push(`       score ${o.scoreText}`);
      for (const c of o.caps) out.push(`       cap ${c.count} per ${durationText(c.windowMs)}`);
    }
    out.push('');
    out.push(`decisions (${decisions.length}, evaluated after the audiences, for every customer an event or timer touches)`);
    for (const d of decisions) {
      out.push(`  ${d.name}${d.description ? ` "${d.description}"` : ''}`);
      out.push(`       offers ${d.offers.map((i) => offers[i]!.name).join(', ')} (highest score wins; ties: this order)`);
      for (const c of d.caps) out.push(`       cap ${c.count} per ${durationText(c.windowMs)} (all its offers together)`);
      const w = d.window;
      if (w) out.push(`       deliver between ${clockText(w.startMinute)} and ${clockText(w.endMinute)} in ${w.zone !== undefined ? JSON.stringify(w.zone) : `${w.zoneTrait} default ${JSON.stringify(w.defaultZone)}`}`);
      out.push(`       decision state #${d.slot}`);
    }
  }
  out.push('');
  out.push('timers: one per customer, at the earliest instant a time-dependent audience may change');
  out.push('        (a window bucket expiring, a then-not deadline, a days_since tick, a now() comparison flipping)');
  if (plan.audiences.some((a) => a.steady)) out.push('        and at the instant a steady audience\'s enter after, leave after or stay at least runs out');
  if ((plan.decisions ?? []).length > 0) out.push('        and at the instant a held decision\'s send window opens or a cap lets an offer out again');
  return out.join('\n') + '\n';
}


/** The slots an offer's eligibility and score read, directly or through traits. */
function offerSlots(plan: Plan, offer: number): number[] {
  const o = plan.offers![offer]!;
  const traits = new Map(plan.traits.map((t) => [t.name, t]));
  const out = new Set<number>();
  const walk = (e: PExpr | undefined, seen: Set<string>): void => {
    if (!e) return;
    if (e.op === 'slot' || e.op === 'matched-within') out.add(e.slot);
    if (e.op === 'trait') {
      if (seen.has(e.name)) return;
      seen.add(e.name);
      walk(traits.get(e.name)?.expr, seen);
      return;
    }
    for (const v of Object.values(e)) {
      if (Array.isArray(v)) for (const x of v) { if (x && typeof x === 'object' && 'op' in x) walk(x as PExpr, seen); }
      else if (v && typeof v === 'object' && 'op' in v) walk(v as PExpr, seen);
    }
  };
  walk(o.eligible, new Set());
  walk(o.score, new Set());
  return [...out];
}
