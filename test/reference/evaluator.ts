/**
 * A deliberately naive reference evaluator of the audience language.
 *
 * It shares no code with the engine's operators, planner or evaluator: it
 * reads the AST and recomputes every aggregate, sequence and audience from a
 * customer's full event history, by the definitions in docs/language.md, at
 * every instant where a value could change — each event, and every window
 * boundary, sequence deadline, `*_since` tick and now() flip that the history
 * implies. From the memberships at those instants it derives the enter/leave
 * events, ordered as the engine promises (by instant; time-driven changes of
 * an instant before the events of that instant, by customer; then events in
 * arrival order; audiences in dependency order).
 *
 * Decisions (activation.md, section 2) are evaluated at each of those
 * observations too, after the memberships, by the words of
 * docs/decisions/2026-12-04-next-best-action.md: the ranking walk, caps over
 * the sends recorded, send windows by asking Intl for the wall clock of
 * every minute; the instants a cap frees or a window opens join the
 * observations.
 *
 * It is slow on purpose (each instant re-reads the history) and assumes
 * valid records in non-decreasing time order, which is what the differential
 * test generates.
 */
import { audienceConditions, type AggregateExpr, type AudienceDecl, type CapClause, type DecisionDecl, type Expr, type IdentityDecl, type OfferDecl, type RuleFile, type Step, type TraitDecl } from '../../dsl/ast.js';
import { MAX_TALLY_VALUES } from '../../dsl/plan.js';

type V = number | string | boolean | null;

export interface Ev { customer: string; type: string; time: number; fields: Record<string, V>; index: number }

export type RefReason = 'event' | 'timer' | 'rule_change' | 'merge' | 'erasure';
export type RefOutput =
  | { type: 'enter' | 'leave'; audience: string; customer: string; at: string; version: number; reason: RefReason }
  | { type: 'decision'; decision: string; offer: string | null; customer: string; at: string; score: number | null; version: number; reason: RefReason };

/** A customer's decision so far: the version and offer of its last event, and every send that named an offer. */
interface DecisionSoFar { version: number; last: string | null; sends: { at: number; offer: string }[] }

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

function bucketOf(windowMs: number): number {
  return windowMs <= 2 * DAY ? MINUTE : HOUR;
}

export class ReferenceEvaluator {
  private readonly traits = new Map<string, TraitDecl>();
  /** In dependency order. */
  readonly audiences: AudienceDecl[];
  private readonly offers = new Map<string, OfferDecl>();
  private readonly decisions: DecisionDecl[];
  private readonly fieldTypes = new Map<string, Map<string, string>>();
  readonly keyField: string;
  readonly typeField: string;
  readonly timeField: string;
  /** The source's identity clause, if it has one (profiles.ts resolves it). */
  readonly identity: IdentityDecl | undefined;

  /** `maxValues`: the most values a `distinct` or `top` keeps per customer (docs/language.md). */
  constructor(files: RuleFile[], private readonly maxValues = MAX_TALLY_VALUES) {
    for (const f of files) {
      for (const t of f.traits) this.traits.set(t.name.name, t);
      for (const e of f.events) this.fieldTypes.set(e.name.name, new Map(e.fields.map((x) => [x.name.name, x.type.name])));
    }
    const src = files.find((f) => f.source)?.source;
    this.keyField = src?.key?.name ?? 'key';
    this.typeField = src?.type?.name ?? 'type';
    this.timeField = src?.time?.name ?? 'ts';
    this.identity = src?.identity;
    this.audiences = dependencyOrder(files.flatMap((f) => f.audiences));
    for (const f of files) for (const o of f.offers) this.offers.set(o.name.name, o);
    this.decisions = files.flatMap((f) => f.decisions);
  }

  run(records: Record<string, unknown>[], until?: number): RefOutput[] {
    return ReferenceEvaluator.runDeployments(this, [], records, until);
  }

  /**
   * The rules of `first`, replaced by each deployment's at its instant
   * (customer-lifecycle.md, section 1), by the contract's own terms: at T,
   * each customer's membership of every audience under the new rules
   * (computed from the whole history up to T) is compared with the one the
   * old rules left; a difference is an enter or leave with reason
   * rule_change, `at` T; members of an audience the new rules do not have
   * leave it, and its version counter goes with it. After T the new rules
   * go on as if they had always run. A deployment whose instant the clock
   * never reaches (the last event, or `until`) does not happen. Ordered
   * after everything else at T: the leaves of dropped audiences first (by
   * customer), then the other changes (by customer, then audience order).
   */
  static runDeployments(first: ReferenceEvaluator, deployments: { at: number; rules: ReferenceEvaluator }[], records: Record<string, unknown>[], until?: number): RefOutput[] {
    const phases = [{ start: Number.NEGATIVE_INFINITY, rules: first, events: first.parse(records) }];
    for (const d of deployments) phases.push({ start: d.at, rules: d.rules, events: d.rules.parse(records) });
    let end = until ?? Number.NEGATIVE_INFINITY;
    for (const p of phases) for (const e of p.events) end = Math.max(end, e.time);
    if (!Number.isFinite(end)) return [];
    const active = phases.filter((p, k) => k === 0 || p.start <= end);

    // Every change: its sort key (instant, then as the class comment says) and the output.
    const changes: { key: (number | string)[]; out: RefOutput }[] = [];
    const customers = [...new Set(active.flatMap((p) => p.events.map((e) => e.customer)))];
    for (const customer of customers) {
      const member = new Map<string, boolean>();
      const version = new Map<string, number>();
      // Steady audiences: each observation of their conditions, and the instant of their last enter/leave.
      const samples = new Map<string, Sample[]>();
      const lastChange = new Map<string, number>();
      const emit = (key: (number | string)[], audience: string, inside: boolean, now: number, reason: RefOutput['reason']): void => {
        member.set(audience, inside);
        const v = (version.get(audience) ?? 0) + 1;
        version.set(audience, v);
        changes.push({ key, out: { type: inside ? 'enter' : 'leave', audience, customer, at: new Date(now).toISOString(), version: v, reason } });
      };
      const decided = new Map<string, DecisionSoFar>();
      // Instants a cap frees or a window opens, found at a deployment: observed in the phase after it.
      const released: number[] = [];
      /** Evaluate every decision at `now` after the memberships; returns the instants a cap frees or a window opens. */
      const decide = (rules: ReferenceEvaluator, history: Ev[], now: number, key: (order: number) => (number | string)[], reason: RefReason): number[] => {
        const instants: number[] = [];
        rules.decisions.forEach((d, k) => {
          const so = decided.get(d.name.name) ?? { version: 0, last: null, sends: [] };
          decided.set(d.name.name, so);
          const step = rules.decisionAt(d, history, now, member, decided);
          instants.push(...step.instants);
          if (!step.send) return;
          so.version++;
          so.last = step.send.offer;
          if (step.send.offer !== null) so.sends.push({ at: now, offer: step.send.offer });
          changes.push({ key: key(rules.audiences.length + k), out: { type: 'decision', decision: d.name.name, offer: step.send.offer, customer, at: new Date(now).toISOString(), score: step.send.score, version: so.version, reason } });
        });
        return instants;
      };
      active.forEach((phase, k) => {
        const { rules } = phase;
        const mine = phase.events.filter((e) => e.customer === customer);
        const stop = active[k + 1]?.start ?? end;
        let c = 0;
        // With the instants a steady audience's delay may run out, as the previous rules left it.
        const carried = [...rules.steadyInstants(phase.start, samples, lastChange), ...released];
        const candidates = [...new Set([...rules.candidateInstants(mine, stop), ...carried])].filter((s) => s > phase.start && s <= stop).sort((a, b) => a - b);
        const observe = (now: number, history: Ev[], reason: 'event' | 'timer', tie: string | number): void => {
          const values = rules.memberships(history, now, { member, samples, lastChange });
          rules.audiences.forEach((a, order) => {
            const inside = values.get(a.name.name) === true;
            if (inside === (member.get(a.name.name) ?? false)) return;
            emit([now, reason === 'timer' ? 0 : 1, tie, order], a.name.name, inside, now, reason);
          });
          const released = decide(rules, history, now, (order) => [now, reason === 'timer' ? 0 : 1, tie, order], reason);
          // A steady audience may change when a delay runs out, a decision when a cap frees or a window opens: observe those instants too.
          for (const at of [...rules.steadyInstants(now, samples, lastChange), ...released]) {
            if (at <= now || at > stop || candidates.includes(at)) continue;
            let k = c;
            while (k < candidates.length && candidates[k]! < at) k++;
            candidates.splice(k, 0, at);
          }
        };
        for (let i = 0; i < mine.length; i++) {
          const e = mine[i]!;
          if (e.time <= phase.start) continue;
          if (e.time > stop) break;
          // Instants up to and including this event's time, before it is applied.
          while (c < candidates.length && candidates[c]! <= e.time) {
            const s = candidates[c++]!;
            observe(s, mine.filter((x) => x.time < s), 'timer', customer);
          }
          observe(e.time, mine.slice(0, i + 1), 'event', e.index);
        }
        while (c < candidates.length && candidates[c]! <= stop) {
          const s = candidates[c++]!;
          observe(s, mine.filter((x) => x.time <= s), 'timer', customer);
        }
        const next = active[k + 1];
        if (!next) return;
        const at = next.start;
        const kept = new Set(next.rules.audiences.map((a) => a.name.name));
        rules.audiences.forEach((a, order) => {
          const name = a.name.name;
          if (kept.has(name)) return;
          if (member.get(name) === true) emit([at, 2, k, 0, customer, order], name, false, at, 'rule_change');
          member.delete(name);
          version.delete(name);
          samples.delete(name);
          lastChange.delete(name);
        });
        const history = next.events.filter((e) => e.customer === customer && e.time <= at);
        const values = history.length > 0 ? next.rules.memberships(history, at, undefined, member) : new Map<string, boolean>();
        next.rules.audiences.forEach((a, order) => {
          // A steady audience is kept only unchanged (the engine refuses other deployments): it goes on as it was.
          if (steadyOf(a)) return;
          const inside = values.get(a.name.name) === true;
          if (inside !== (member.get(a.name.name) ?? false)) emit([at, 2, k, 1, customer, order], a.name.name, inside, at, 'rule_change');
        });
        // A decision the new rules drop goes with what it sent; the others keep theirs, and all are evaluated again at T, for every customer known by then.
        for (const name of [...decided.keys()]) if (!next.rules.decisions.some((d) => d.name.name === name)) decided.delete(name);
        if (history.length > 0) released.push(...decide(next.rules, history, at, (order) => [at, 2, k, 1, customer, order], 'rule_change'));
      });
    }
    changes.sort((a, b) => compareKeys(a.key, b.key));
    return changes.map((c) => c.out);
  }

  /** The records of the declared event types, with their fields as the rules read them. */
  parse(records: Record<string, unknown>[]): Ev[] {
    const events: Ev[] = [];
    records.forEach((r, index) => {
      const type = String(r[this.typeField]);
      const declared = this.fieldTypes.get(type);
      if (!declared) return;
      const rawTime = r[this.timeField];
      const time = typeof rawTime === 'number' ? rawTime : Date.parse(String(rawTime));
      const fields: Record<string, V> = {};
      for (const [name, ftype] of declared) {
        const v = r[name];
        fields[name] = v === undefined || v === null ? null : ftype === 'time' ? (typeof v === 'number' ? v : Date.parse(String(v))) : (v as V);
      }
      events.push({ customer: String(r[this.keyField]), type, time, fields, index });
    });
    return events;
  }

  /** Every instant after an event at which some value might change with time alone. */
  candidateInstants(mine: Ev[], end: number): Set<number> {
    const windows = new Set<number>();
    const withins = new Set<number>();
    const sinceUnits = new Set<number>();
    const nowOffsets = new Set<number>();
    const walk = (e: Expr | undefined): void => {
      if (!e) return;
      switch (e.kind) {
        case 'over': windows.add(e.window.ms); walk(e.operand); return;
        case 'then': withins.add(e.within.ms); walk(e.first.where); walk(e.second.where); return;
        case 'sequence': e.steps.forEach((s) => walk(s.where)); return;
        case 'binary': {
          const off = nowOffsetOf(e.left) ?? nowOffsetOf(e.right);
          if (off !== undefined && ['==', '!=', '<', '<=', '>', '>='].includes(e.op)) nowOffsets.add(off);
          walk(e.left); walk(e.right); return;
        }
        case 'unary': walk(e.operand); return;
        case 'in-list': walk(e.operand); return;
        case 'call':
          if (e.fn.name === 'days_since') sinceUnits.add(DAY);
          if (e.fn.name === 'hours_since') sinceUnits.add(HOUR);
          if (e.fn.name === 'minutes_since') sinceUnits.add(MINUTE);
          e.args.forEach(walk); return;
        case 'aggregate': walk(e.where); return;
        default: return;
      }
    };
    for (const t of this.traits.values()) walk(t.expr);
    for (const a of this.audiences) audienceConditions(a).forEach(walk);
    for (const o of this.offers.values()) { walk(o.eligible); walk(o.score); }
    const out = new Set<number>();
    const add = (s: number) => { if (s <= end) out.add(s); };
    for (const ev of mine) {
      for (const w of windows) {
        add(Math.floor(ev.time / bucketOf(w)) * bucketOf(w) + w);
        add(ev.time + w);
      }
      for (const w of withins) for (const w2 of [0, ...windows]) add(ev.time + w + w2);
      for (const u of sinceUnits) for (let s = ev.time + u; s <= end; s += u) add(s);
      for (const off of nowOffsets) { add(ev.time - off); add(ev.time - off + 1); }
    }
    return out;
  }

  /**
   * The membership of every audience, from this history, at `now`. A steady
   * audience's depends on the past: each call is one observation of its
   * conditions, recorded in `steady.samples`, and its membership is decided
   * by activation.md's words over those observations (heldOver); at a
   * deployment (`carried`), it is the membership it had.
   */
  memberships(history: Ev[], now: number, steady?: SteadyObservations, carried?: Map<string, boolean>): Map<string, boolean> {
    const out = new Map<string, boolean>();
    const ctx: Ctx = { history, now, audiences: out, fields: undefined, event: undefined };
    for (const a of this.audiences) {
      const clauses = steadyOf(a);
      // At a deployment, a steady audience (kept unchanged) is what it was.
      if (clauses && carried) { out.set(a.name.name, carried.get(a.name.name) === true); continue; }
      if (!clauses || !steady) { out.set(a.name.name, this.eval(a.expr, ctx) === true); continue; }
      const name = a.name.name;
      const enter = this.eval(a.expr, ctx) === true;
      // The enter condition wins where both hold (docs/language.md).
      const leave = !enter && (clauses.leave ? this.eval(clauses.leave, ctx) === true : true);
      const list = steady.samples.get(name) ?? [];
      list.push({ at: now, enter, leave });
      steady.samples.set(name, list);
      const wasIn = steady.member.get(name) ?? false;
      const last = steady.lastChange.get(name);
      let inside = wasIn;
      if (!wasIn && heldOver(list, 'enter', now - clauses.enterAfter)) inside = true;
      if (wasIn && heldOver(list, 'leave', now - clauses.leaveAfter) && now >= last! + clauses.stay) inside = false;
      if (inside !== wasIn) steady.lastChange.set(name, now);
      out.set(name, inside);
    }
    return out;
  }

  /** Instants after `now` at which a steady audience's delay may run out, given the observations so far. */
  private steadyInstants(now: number, samples: Map<string, Sample[]>, lastChange: Map<string, number>): number[] {
    const out: number[] = [];
    for (const a of this.audiences) {
      const clauses = steadyOf(a);
      if (!clauses) continue;
      const list = samples.get(a.name.name) ?? [];
      const enterRun = runStart(list, 'enter');
      const leaveRun = runStart(list, 'leave');
      if (enterRun !== undefined) out.push(enterRun + clauses.enterAfter);
      if (leaveRun !== undefined) out.push(leaveRun + clauses.leaveAfter);
      const last = lastChange.get(a.name.name);
      if (last !== undefined) out.push(last + clauses.stay);
    }
    return out.filter((t) => t > now);
  }

  /**
   * One decision at `now`, by the decision record's words: the eligible
   * offers ranked (score, then their order in `offers`), walked until one is
   * the last sent or every cap lets it out; a change goes out unless the
   * send window is closed. Returns the send, if any, and the instants to
   * look again: when a passed-over offer's caps free, when a held window opens.
   */
  private decisionAt(d: DecisionDecl, history: Ev[], now: number, member: Map<string, boolean>, decided: Map<string, DecisionSoFar>): { send?: { offer: string | null; score: number | null }; instants: number[] } {
    const ctx: Ctx = { history, now, audiences: member, fields: undefined, event: undefined };
    const so = decided.get(d.name.name)!;
    const ranked: { name: string; score: number; order: number }[] = [];
    d.offers.forEach((id, order) => {
      const o = this.offers.get(id.name)!;
      if (o.eligible && this.eval(o.eligible, ctx) !== true) return;
      const score = this.eval(o.score!, ctx);
      if (typeof score !== 'number' || !Number.isFinite(score)) return;
      ranked.push({ name: id.name, score, order });
    });
    ranked.sort((a, b) => b.score - a.score || a.order - b.order);
    const instants: number[] = [];
    let value: { offer: string | null; score: number | null } = { offer: null, score: null };
    for (const r of ranked) {
      if (r.name === so.last) { value = { offer: r.name, score: r.score }; break; }
      const counted = (cap: CapClause, sends: { at: number }[]): number[] => sends.map((x) => x.at).filter((at) => at > now - cap.per.ms).sort((a, b) => a - b);
      let free = -Infinity;
      for (const cap of this.offers.get(r.name)!.caps) {
        const times = counted(cap, [...decided.values()].flatMap((x) => x.sends.filter((y) => y.offer === r.name)));
        if (times.length >= cap.count) free = Math.max(free, times[times.length - cap.count]! + cap.per.ms);
      }
      for (const cap of d.caps) {
        const times = counted(cap, so.sends);
        if (times.length >= cap.count) free = Math.max(free, times[times.length - cap.count]! + cap.per.ms);
      }
      if (free <= now) { value = { offer: r.name, score: r.score }; break; }
      instants.push(free);
    }
    if (value.offer === so.last) return { instants };
    const w = d.deliver;
    if (w) {
      let zone = w.zone?.name;
      if (zone === undefined) {
        const v = this.eval(this.traits.get(w.zoneTrait!.name)!.expr, ctx);
        zone = typeof v === 'string' && isZone(v) ? v : w.defaultZone!.name;
      }
      if (!openAt(w.start.minute, w.end.minute, zone, now)) {
        let t = Math.floor(now / MINUTE) * MINUTE + MINUTE;
        while (!openAt(w.start.minute, w.end.minute, zone, t)) t += MINUTE;
        instants.push(t);
        return { instants };
      }
    }
    return { send: value, instants };
  }

  private eval(e: Expr, ctx: Ctx): V {
    switch (e.kind) {
      case 'number': case 'string': case 'bool': return e.value;
      case 'null': return null;
      case 'duration': case 'time': return e.ms;
      case 'name':
        if (ctx.fields) return ctx.fields[e.name.name] ?? null;
        return this.eval(this.traits.get(e.name.name)!.expr, ctx);
      case 'field': return ctx.fields ? ctx.fields[e.field.name] ?? null : null;
      case 'in-audience': return ctx.audiences.get(e.audience.name) === true;
      case 'unary': {
        const v = this.eval(e.operand, ctx);
        if (v === null) return null;
        return e.op === 'not' ? !v : -(v as number);
      }
      case 'in-list': {
        const v = this.eval(e.operand, ctx);
        if (v === null) return null;
        return e.values.some((x) => this.eval(x, ctx) === v);
      }
      case 'binary': return this.binary(e.op, e.left, e.right, ctx);
      case 'call': return this.call(e.fn.name, e.args, ctx);
      case 'aggregate': return this.aggregate(e, undefined, ctx);
      case 'over': {
        const inner = e.operand;
        if (inner.kind === 'aggregate') return this.aggregate(inner, e.window.ms, ctx);
        const m = inner.kind === 'then' ? this.matchTime([inner.first, inner.second], inner.within.ms, ctx) : inner.kind === 'sequence' ? this.matchTime(inner.steps, inner.within.ms, ctx) : null;
        return m !== null && ctx.now - e.window.ms < m;
      }
      case 'then':
        if (e.negated) return this.absence(e.first, e.second, e.within.ms, ctx);
        return this.matchTime([e.first, e.second], e.within.ms, ctx) !== null;
      case 'sequence': return this.matchTime(e.steps, e.within.ms, ctx) !== null;
    }
  }

  private binary(op: string, left: Expr, right: Expr, ctx: Ctx): V {
    if (op === 'and') {
      const l = this.eval(left, ctx);
      const r = this.eval(right, ctx);
      if (l === false || r === false) return false;
      return l === null || r === null ? null : true;
    }
    if (op === 'or') {
      const l = this.eval(left, ctx);
      const r = this.eval(right, ctx);
      if (l === true || r === true) return true;
      return l === null || r === null ? null : false;
    }
    const lo = nowOffsetOf(left);
    const ro = nowOffsetOf(right);
    const l = lo !== undefined ? ctx.now + lo : this.eval(left, ctx);
    const r = ro !== undefined ? ctx.now + ro : this.eval(right, ctx);
    if (l === null || r === null) return null;
    switch (op) {
      case '+': return (l as number) + (r as number);
      case '-': return (l as number) - (r as number);
      case '*': return (l as number) * (r as number);
      case '/': return r === 0 ? null : (l as number) / (r as number);
      case '==': return l === r;
      case '!=': return l !== r;
      case '<': return l < r;
      case '<=': return l <= r;
      case '>': return l > r;
      case '>=': return l >= r;
      case 'contains': return (l as string).includes(r as string);
      case 'starts_with': return (l as string).startsWith(r as string);
      case 'ends_with': return (l as string).endsWith(r as string);
      default: throw new Error(`reference: operator ${op}`);
    }
  }

  private call(fn: string, args: Expr[], ctx: Ctx): V {
    const v = args.map((a) => this.eval(a, ctx));
    if (fn === 'coalesce') return v[0] !== null ? v[0]! : v[1]!;
    if (v.some((x) => x === null)) return null;
    const n = v as number[];
    switch (fn) {
      case 'logistic': return 1 / (1 + Math.exp(-n[0]!));
      case 'exp': return Math.exp(n[0]!);
      case 'ln': return n[0]! > 0 ? Math.log(n[0]!) : null;
      case 'abs': return Math.abs(n[0]!);
      case 'min': return Math.min(n[0]!, n[1]!);
      case 'max': return Math.max(n[0]!, n[1]!);
      case 'days_since': return Math.floor((ctx.now - n[0]!) / DAY);
      case 'hours_since': return Math.floor((ctx.now - n[0]!) / HOUR);
      case 'minutes_since': return Math.floor((ctx.now - n[0]!) / MINUTE);
      default: throw new Error(`reference: function ${fn}`);
    }
  }

  private passes(step: { event: { name: string }; where?: Expr }, e: Ev, ctx: Ctx): boolean {
    if (e.type !== step.event.name) return false;
    if (!step.where) return true;
    return this.eval(step.where, { ...ctx, fields: e.fields, event: e }) === true;
  }

  /** The aggregate by its definition, over the history, at ctx.now. */
  private aggregate(a: AggregateExpr, windowMs: number | undefined, ctx: Ctx): V {
    let picked = ctx.history.filter((e) => this.passes(a, e, ctx));
    if (windowMs !== undefined) {
      const b = bucketOf(windowMs);
      picked = picked.filter((e) => ctx.now - windowMs < Math.floor(e.time / b) * b);
    }
    const valued = picked
      .map((e) => ({ e, v: a.field ? e.fields[a.field.name] ?? null : e.time }))
      .filter((x) => x.v !== null);
    const nums = valued.map((x) => x.v as number);
    switch (a.fn) {
      case 'count': return a.field ? valued.length : picked.length;
      case 'sum': return nums.reduce((s, x) => s + x, 0);
      case 'avg': return nums.length ? nums.reduce((s, x) => s + x, 0) / nums.length : null;
      case 'min': return nums.length ? Math.min(...nums) : null;
      case 'max': return nums.length ? Math.max(...nums) : null;
      case 'distinct': return this.keptValues(a, windowMs, ctx).size;
      case 'top': {
        let best: { n: number; t: number; i: number; v: V } | undefined;
        for (const kept of this.keptValues(a, windowMs, ctx).values()) {
          const latest = kept[kept.length - 1]!;
          const x = { n: kept.length, t: latest.e.time, i: latest.e.index, v: latest.v };
          if (!best || x.n > best.n || (x.n === best.n && (x.t > best.t || (x.t === best.t && x.i > best.i)))) best = x;
        }
        return best ? best.v : null;
      }
      case 'first': {
        const sorted = [...valued].sort((x, y) => x.e.time - y.e.time || x.e.index - y.e.index);
        return sorted.length ? sorted[0]!.v : null;
      }
      case 'last': {
        const sorted = [...valued].sort((x, y) => x.e.time - y.e.time || x.e.index - y.e.index);
        return sorted.length ? sorted[sorted.length - 1]!.v : null;
      }
    }
  }

  /**
   * What `distinct` and `top` count at ctx.now: per value (its JSON text),
   * its events in the window, in arrival order. At most `maxValues` values
   * are kept: adding one past that drops the value whose latest event is
   * the earliest (by time, then arrival), with all its events, so that a
   * value dropped and seen again counts from then. Events come in time
   * order, so the clock at each addition is that event's time.
   */
  private keptValues(a: AggregateExpr, windowMs: number | undefined, ctx: Ctx): Map<string, { e: Ev; v: V }[]> {
    const b = windowMs === undefined ? 0 : bucketOf(windowMs);
    const inWindow = (e: Ev, at: number): boolean => windowMs === undefined || at - windowMs < Math.floor(e.time / b) * b;
    const kept = new Map<string, { e: Ev; v: V }[]>();
    const leaveWindow = (at: number): void => {
      for (const [k, xs] of [...kept]) {
        const live = xs.filter((x) => inWindow(x.e, at));
        if (live.length > 0) kept.set(k, live); else kept.delete(k);
      }
    };
    for (const e of ctx.history) {
      if (!this.passes(a, e, ctx)) continue;
      const v = e.fields[a.field!.name] ?? null;
      if (v === null) continue;
      leaveWindow(e.time);
      const k = JSON.stringify(v);
      kept.set(k, [...(kept.get(k) ?? []), { e, v }]);
      if (kept.size > this.maxValues) {
        let oldest: [string, Ev] | undefined;
        for (const [k2, xs] of kept) {
          const latest = xs[xs.length - 1]!.e;
          if (!oldest || latest.time < oldest[1].time || (latest.time === oldest[1].time && latest.index < oldest[1].index)) oldest = [k2, latest];
        }
        kept.delete(oldest![0]);
      }
    }
    leaveWindow(ctx.now);
    return kept;
  }

  /** The time of the latest event that completes a match of the steps within W, or null. */
  private matchTime(steps: Step[], within: number, ctx: Ctx): number | null {
    const h = ctx.history;
    let best: number | null = null;
    // ending(k, i): the latest start of a chain of steps 0..k that ends at event i (memoised).
    const memo = new Map<number, number | null>();
    const ending = (k: number, i: number): number | null => {
      const key = k * 100_000 + i;
      if (memo.has(key)) return memo.get(key)!;
      const v = endingUncached(k, i);
      memo.set(key, v);
      return v;
    };
    const endingUncached = (k: number, i: number): number | null => {
      if (!this.passes(steps[k]!, h[i]!, ctx)) return null;
      if (k === 0) return h[i]!.time;
      let latest: number | null = null;
      for (let j = 0; j < i; j++) {
        if (h[j]!.time > h[i]!.time) continue;
        const start = ending(k - 1, j);
        if (start !== null && h[i]!.time - start <= within && (latest === null || start > latest)) latest = start;
      }
      return latest;
    };
    for (let i = 0; i < h.length; i++) {
      if (ending(steps.length - 1, i) !== null && (best === null || h[i]!.time > best)) best = h[i]!.time;
    }
    return best;
  }

  /** `A then not B within W`: the latest A, no B after it, and W passed. */
  private absence(a: Step, b: Step, within: number, ctx: Ctx): boolean {
    const h = ctx.history;
    let last = -1;
    for (let i = 0; i < h.length; i++) if (this.passes(a, h[i]!, ctx)) last = i;
    if (last < 0) return false;
    for (let i = last + 1; i < h.length; i++) if (this.passes(b, h[i]!, ctx)) return false;
    return ctx.now >= h[last]!.time + within;
  }
}

interface Sample { at: number; enter: boolean; leave: boolean }

interface SteadyObservations { member: Map<string, boolean>; samples: Map<string, Sample[]>; lastChange: Map<string, number> }

interface SteadyClauses { leave: Expr | undefined; enterAfter: number; leaveAfter: number; stay: number }

/**
 * An audience's steady clauses, or undefined for one whose membership is its
 * condition now: the expression form, and `enter when X` alone.
 */
function steadyOf(a: AudienceDecl): SteadyClauses | undefined {
  if (!a.clauses) return undefined;
  const get = (key: string) => a.clauses!.find((c) => c.key === key)?.value;
  const ms = (key: string): number => { const v = get(key); return v?.kind === 'duration' ? v.ms : 0; };
  const clauses = { leave: get('leave when'), enterAfter: ms('enter after'), leaveAfter: ms('leave after'), stay: ms('stay at least') };
  if (!clauses.leave && clauses.enterAfter === 0 && clauses.leaveAfter === 0 && clauses.stay === 0) return undefined;
  return clauses;
}

/**
 * Whether the condition has been true at every instant from `from` to the
 * latest observation: the condition keeps its value between observations
 * (they include every instant it may change), so it holds when the last
 * observation at or before `from` and every later one found it true.
 */
function heldOver(list: Sample[], key: 'enter' | 'leave', from: number): boolean {
  let j = -1;
  for (let i = 0; i < list.length; i++) if (list[i]!.at <= from) j = i;
  if (j < 0) return false;
  for (let i = j; i < list.length; i++) if (!list[i]![key]) return false;
  return true;
}

/** The instant of the first observation of the condition's current run of true, or undefined when it is false now. */
function runStart(list: Sample[], key: 'enter' | 'leave'): number | undefined {
  let start: number | undefined;
  for (let i = list.length - 1; i >= 0 && list[i]![key]; i--) start = list[i]!.at;
  return start;
}

const wallClocks = new Map<string, Intl.DateTimeFormat>();

/** Whether Intl takes `name` as a time zone. */
function isZone(name: string): boolean {
  try { new Intl.DateTimeFormat('en-US', { timeZone: name }); return name.length > 0; } catch { return false; }
}

/** A send window by its definition: Intl's local time of day of `t`, to the minute, in [start, end) (wrapping midnight when start > end). */
function openAt(start: number, end: number, zone: string, t: number): boolean {
  let f = wallClocks.get(zone);
  if (!f) wallClocks.set(zone, f = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }));
  const parts = f.formatToParts(new Date(t));
  const m = Number(parts.find((p) => p.type === 'hour')!.value) * 60 + Number(parts.find((p) => p.type === 'minute')!.value);
  return start < end ? m >= start && m < end : m >= start || m < end;
}

interface Ctx { history: Ev[]; now: number; audiences: Map<string, boolean>; fields: Record<string, V> | undefined; event: Ev | undefined }

function compareTie(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareKeys(a: (number | string)[], b: (number | string)[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = compareTie(a[i] ?? -Infinity, b[i] ?? -Infinity);
    if (d !== 0) return d;
  }
  return 0;
}

function nowOffsetOf(e: Expr): number | undefined {
  if (e.kind === 'call' && e.fn.name === 'now' && e.args.length === 0) return 0;
  if (e.kind === 'binary' && (e.op === '+' || e.op === '-') && e.right.kind === 'duration') {
    const base = nowOffsetOf(e.left);
    if (base !== undefined) return e.op === '+' ? base + e.right.ms : base - e.right.ms;
  }
  return undefined;
}

/** Audiences after the audiences they name with `in`, declaration order otherwise. */
function dependencyOrder(list: AudienceDecl[]): AudienceDecl[] {
  const byName = new Map(list.map((a) => [a.name.name, a]));
  const out: AudienceDecl[] = [];
  const done = new Set<string>();
  const uses = (e: Expr | undefined, acc: string[]): string[] => {
    if (!e) return acc;
    if (e.kind === 'in-audience') acc.push(e.audience.name);
    if (e.kind === 'binary') { uses(e.left, acc); uses(e.right, acc); }
    if (e.kind === 'unary') uses(e.operand, acc);
    if (e.kind === 'over') uses(e.operand, acc);
    if (e.kind === 'call') e.args.forEach((x) => uses(x, acc));
    return acc;
  };
  const visit = (a: AudienceDecl): void => {
    if (done.has(a.name.name)) return;
    done.add(a.name.name);
    for (const e of audienceConditions(a)) for (const n of uses(e, [])) { const d = byName.get(n); if (d) visit(d); }
    out.push(a);
  };
  list.forEach(visit);
  return out;
}
