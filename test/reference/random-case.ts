/**
 * Random rule files and event streams for the differential test: every
 * aggregate (with and without where and over), then / then not / sequence
 * (with filters and over), traits, in AUDIENCE, arithmetic, null, string
 * tests, lists, coalesce, *_since and now() comparisons. Events come in
 * non-decreasing time order with ties, gaps from seconds to days, and null
 * fields. Some cases keep at most one to three values per `distinct`/`top`,
 * so that the bound on their state (engine/tally.ts) is reached. A seed
 * gives one case, so any mismatch can be replayed by its seed. A quarter of
 * the cases add steady audiences (enter when, leave when, enter after,
 * leave after, stay at least). A quarter of the cases add offers and
 * decisions (with rule changes, each version may drop, add or change one): eligibility from audiences and conditions,
 * scores that tie or may be null, offer and decision caps that bind within
 * the stream, send windows in zones with and without daylight saving time
 * or in a zone from a trait (with a default; the trait's values sometimes
 * spelt otherwise: lower case, an alias, an offset); some of them move the
 * stream to just before a daylight saving change.
 *
 * Three cases in ten are identity or erasure cases instead (drawn last,
 * with draws of their own): a source with `identity u, e limit N, a` and
 * records carrying any few of small pools of user ids, e-mails and
 * anonymous ids (anonymous visitors who log in, shared devices that break
 * a limit, chains of merges, ids that change, blocked values), some
 * `aud.forget` records; or a keyed source with `aud.forget` records. They
 * leave out what a merge cannot combine exactly (sequences, `then not`,
 * steady audiences, decisions; docs/decisions/2026-12-05-identities-and-erasure.md),
 * rule changes, and small bounds on distinct/top.
 */
import { prng } from '../../examples/retail/generate.js';

export interface RandomCase {
  seed: number;
  rules: string;
  events: Record<string, unknown>[];
  until: number;
  /** The most values a `distinct` or `top` keeps; small in some cases so that the bound is reached. */
  maxTallyValues?: number;
  /** Rule changes: from `at` (epoch ms) on, `rules` replace those in force (`aud replay --deploy`). */
  deployments: { at: number; rules: string }[];
}

const HEADER = [
  'source "events" { key c  type type  time ts }',
  'output "segments"',
  'event buy  { amount: number, cat: string, web: bool }',
  'event view { page: string, amount: number }',
  'event cart { amount: number }',
  'event prof { tz: string }',
].join('\n');

const EVENTS = ['buy', 'view', 'cart'];
const WINDOWS = ['30 minutes', '2 hours', '1 day', '3 days'];
const WITHINS = ['10 minutes', '1 hour', '6 hours'];
/** Steady audiences' delays: from below the streams' shortest gaps to above their longest. */
const DWELLS = ['30 seconds', '5 minutes', '1 hour', '6 hours', '1 day'];
const T0 = Date.parse('2026-01-01T00:00:00Z');
const CAP_WINDOWS = ['10 minutes', '1 hour', '6 hours', '1 day'];
const ZONES = ['UTC', 'Europe/Oslo', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe'];
/** What a `prof` event's tz holds: zones, and strings that are none. */
const TZ_VALUES = ['America/New_York', 'Asia/Tokyo', 'Europe/Oslo', 'Mars/Base', ''];
/** The same values spelt as Intl also takes them, or as no zone at all (an offset, on Node 20). */
const TZ_SPELLINGS: Record<string, string> = { 'America/New_York': 'EST5EDT', 'Asia/Tokyo': '+09:00', 'Europe/Oslo': 'europe/oslo' };
/** Daylight saving changes of 2026 (UTC): Oslo's spring and autumn, New York's, Lord Howe's half-hour ones. */
const DST_CHANGES = ['2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z', '2026-03-08T07:00:00Z', '2026-11-01T06:00:00Z', '2026-04-04T15:00:00Z', '2026-10-03T15:30:00Z'].map(Date.parse);

class Gen {
  private numericTraits: string[] = [];
  private audiences: string[] = [];
  /** Whether conditions may use `then`, `then not` and `sequence(...)`. */
  sequences = true;
  constructor(private readonly r: () => number) {}

  int(lo: number, hi: number): number { return lo + Math.floor(this.r() * (hi - lo + 1)); }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.r() * xs.length)]!; }
  chance(p: number): boolean { return this.r() < p; }

  filter(event: string, depth = 0): string {
    const options: string[] = [`amount > ${this.int(0, 15)}`, `amount <= ${this.int(0, 15)}`];
    if (event === 'buy') options.push(`cat == "${this.pick(['a', 'b', 'c'])}"`, 'web == true', 'cat in ("a", "b")', 'not web');
    if (event === 'view') options.push('page starts_with "/sale"', 'page == "/home"', 'page contains "p"');
    const base = this.pick(options);
    if (depth === 0 && this.chance(0.25)) return `${base} ${this.pick(['and', 'or'])} ${this.filter(event, 1)}`;
    return base;
  }

  window(): string { return this.chance(0.5) ? ` over ${this.pick(WINDOWS)}` : ''; }

  aggregate(): string {
    const event = this.pick(EVENTS);
    const where = this.chance(0.35) ? ` where ${this.filter(event)}` : '';
    const fn = this.pick(['count', 'count', 'sum', 'avg', 'min', 'max', 'distinct']);
    if (fn === 'count') return `count(${event}${where})${this.window()}`;
    if (fn === 'distinct') {
      const f = event === 'buy' ? 'buy.cat' : event === 'view' ? 'view.page' : 'cart.amount';
      return `distinct(${f}${where})${this.window()}`;
    }
    return `${fn}(${event}.amount${where})${this.window()}`;
  }

  num(depth: number): string {
    const roll = this.r();
    if (depth <= 0 || roll < 0.45) return this.aggregate();
    if (roll < 0.55) return String(this.int(0, 10));
    if (roll < 0.7) return `${this.num(depth - 1)} ${this.pick(['+', '-', '*'])} ${this.num(depth - 1)}`;
    if (roll < 0.78) return `coalesce(${this.num(depth - 1)}, ${this.int(0, 3)})`;
    if (roll < 0.88) return `${this.pick(['hours_since', 'days_since'])}(${this.pick(['last', 'first'])}(${this.pick(EVENTS)}))`;
    if (this.numericTraits.length > 0) return this.pick(this.numericTraits);
    return this.aggregate();
  }

  step(): string {
    const event = this.pick(EVENTS);
    return this.chance(0.3) ? `${event} where ${this.filter(event)}` : event;
  }

  bool(depth: number): string {
    const roll = this.r();
    if (depth <= 0 || roll < 0.35) return `${this.num(depth - 1)} ${this.pick(['>=', '>', '<', '<=', '==', '!='])} ${this.int(0, 8)}`;
    if (roll < 0.5) return `${this.bool(depth - 1)} ${this.pick(['and', 'or'])} ${this.bool(depth - 1)}`;
    if (roll < 0.55) return `not (${this.bool(depth - 1)})`;
    if (roll < 0.68 && !this.sequences) return `${this.num(depth - 1)} ${this.pick(['>=', '>', '<='])} ${this.int(0, 8)}`;
    if (roll < 0.63) {
      const negated = this.chance(0.4);
      const then = `${this.step()} then ${negated ? 'not ' : ''}${this.step()} within ${this.pick(WITHINS)}`;
      return !negated && this.chance(0.3) ? `(${then}) over ${this.pick(WINDOWS)}` : `(${then})`;
    }
    if (roll < 0.68) {
      const seq = `sequence(${this.step()}, ${this.step()}, ${this.step()}) within ${this.pick(WITHINS)}`;
      return this.chance(0.3) ? `(${seq}) over ${this.pick(WINDOWS)}` : seq;
    }
    if (roll < 0.75 && this.audiences.length > 0) return `in ${this.pick(this.audiences)}`;
    if (roll < 0.8) return `top(buy.cat${this.chance(0.3) ? ` where ${this.filter('buy')}` : ''})${this.window()} ${this.pick(['== "a"', 'in ("a", "c")', '!= "b"'])}`;
    if (roll < 0.85) return `last(view.page) ${this.pick(['starts_with "/sale"', 'ends_with "1"', '== "/home"'])}`;
    if (roll < 0.92) return `${this.pick(['last', 'first'])}(${this.pick(EVENTS)}) ${this.pick(['<', '>=', '>'])} now() - ${this.pick(['2 hours', '1 day'])}`;
    return `${this.pick(['last', 'first'])}(buy.web) == ${this.pick(['true', 'false'])}`;
  }

  rules(header = HEADER): string {
    const lines = [header];
    const traits = this.int(0, 2);
    for (let i = 0; i < traits; i++) {
      const name = `t${i}`;
      const line = `trait ${name} = ${this.num(2)}`;
      lines.push(line);
      this.traitLines.push(line);
      this.numericTraits.push(name);
    }
    const audiences = this.int(2, 5);
    for (let i = 0; i < audiences; i++) {
      const name = `a${i}`;
      const line = `audience ${name} { ${this.bool(3)} }`;
      lines.push(line);
      this.audienceLines.push(line);
      this.audiences = [...this.audiences, name];
    }
    return lines.join('\n') + '\n';
  }

  /**
   * Steady audiences (activation.md, section 1), added after the others:
   * `enter when` with any of the other clauses, in any order, durations
   * short beside the streams' gaps so that their timers fire, some naming
   * an earlier audience (steady or not) with `in`, and a plain audience
   * that names one of them.
   */
  steadyAudiences(portable = false): string[] {
    const lines: string[] = [];
    // Portable: the same lines in rules before and after a deployment define the same audiences,
    // so they may name no trait and no other audience that a deployment redefines.
    const saved = { traits: this.numericTraits, audiences: this.audiences };
    if (portable) { this.numericTraits = []; this.audiences = []; }
    const n = this.int(1, 3);
    for (let i = 0; i < n; i++) {
      const clauses = [`enter when ${this.bool(2)}`];
      if (this.chance(0.4)) clauses.push(`leave when ${this.bool(2)}`);
      if (this.chance(0.6)) clauses.push(`enter after ${this.pick(DWELLS)}`);
      if (this.chance(0.5)) clauses.push(`leave after ${this.pick(DWELLS)}`);
      if (this.chance(0.4)) clauses.push(`stay at least ${this.pick(DWELLS)}`);
      for (let k = clauses.length - 1; k > 0; k--) {
        const j = this.int(0, k);
        [clauses[k], clauses[j]] = [clauses[j]!, clauses[k]!];
      }
      const name = `s${i}`;
      lines.push(this.chance(0.5) ? `audience ${name} {\n  ${clauses.join('\n  ')}\n}` : `audience ${name} { ${clauses.join(' ')} }`);
      this.audiences = [...this.audiences, name];
    }
    if (this.chance(0.5)) lines.push(`audience u0 { in s${this.int(0, n - 1)} ${this.pick(['and', 'or'])} ${this.bool(1)} }`);
    if (portable) { this.numericTraits = saved.traits; this.audiences = saved.audiences; }
    return lines;
  }

  /**
   * Offers over the audiences and values above, and one or two decisions
   * choosing between them (activation.md, section 2). `zoneTrait`: some
   * windows take their zone from trait tz (declared here when used).
   */
  decisionLines(portable = false): { lines: string[]; zoneTrait: boolean } {
    const lines: string[] = [];
    // Portable: every version of the rules has audience a0 and the same traits (nextRules keeps them), and no other audience for sure.
    const saved = this.audiences;
    if (portable) this.audiences = ['a0'];
    const n = this.int(1, 4);
    const offers: string[] = [];
    for (let i = 0; i < n; i++) {
      const name = `o${i}`;
      offers.push(name);
      const clauses: string[] = [];
      if (this.chance(0.8)) {
        const roll = this.r();
        clauses.push(`eligible ${roll < 0.4 && this.audiences.length > 0 ? `in ${this.pick(this.audiences)}${this.chance(0.4) ? ` ${this.pick(['and', 'and not'])} ${this.bool(1)}` : ''}` : this.bool(2)}`);
      }
      const roll = this.r();
      const score = roll < 0.4 ? String(this.int(0, 3))
        : roll < 0.55 ? `count(${this.pick(EVENTS)}) over ${this.pick(WINDOWS)} / count(${this.pick(EVENTS)}) over ${this.pick(WINDOWS)}`
          : roll < 0.7 ? `${this.int(0, 2)} + days_since(last(${this.pick(EVENTS)}))`
            : this.num(1);
      clauses.push(`score ${score}`);
      if (this.chance(0.45)) clauses.push(`cap ${this.int(1, 3)} per ${this.pick(CAP_WINDOWS)}`);
      lines.push(this.chance(0.5) ? `offer ${name} {\n  ${clauses.join('\n  ')}\n}` : `offer ${name} { ${clauses.join('  ')} }`);
    }
    let zoneTrait = false;
    const decisions = this.int(1, 2);
    for (let k = 0; k < decisions; k++) {
      const listed = offers.filter(() => this.chance(0.7));
      if (listed.length === 0) listed.push(this.pick(offers));
      for (let i = listed.length - 1; i > 0; i--) {
        const j = this.int(0, i);
        [listed[i], listed[j]] = [listed[j]!, listed[i]!];
      }
      const clauses = [`offers ${listed.join(', ')}`];
      if (this.chance(0.35)) clauses.push(`cap ${this.int(1, 3)} per ${this.pick(CAP_WINDOWS)}`);
      if (this.chance(0.4)) {
        const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
        const start = this.int(0, 95) * 15 + (this.chance(0.2) ? this.int(1, 14) : 0);
        let end = this.chance(0.2) ? (start + this.int(1, 120)) % 1440 : this.int(0, 95) * 15;
        if (end === start) end = (start + 60) % 1440;
        let zone: string;
        if (this.chance(0.3)) { zone = `tz default "${this.pick(ZONES)}"`; zoneTrait = true; } else zone = `"${this.pick(ZONES)}"`;
        clauses.push(`deliver between ${hhmm(start)} and ${hhmm(end)} in ${zone}`);
      }
      lines.push(`decision d${k} {\n  ${clauses.join('\n  ')}\n}`);
    }
    if (zoneTrait) lines.unshift('trait tz = last(prof.tz)');
    this.audiences = saved;
    return { lines, zoneTrait };
  }

  /**
   * Decision lines as a rule change may leave them: the same, or with the
   * last decision dropped, a decision added, or an offer's score changed.
   * Caps stay as they were: what a decision keeps of its sends is what the
   * caps it had could count.
   */
  decisionVariant(lines: string[]): string[] {
    const roll = this.r();
    if (roll < 0.3) return lines;
    if (roll < 0.5) {
      const last = lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('decision ')).pop();
      return last && lines.filter((l) => l.startsWith('decision ')).length > 1 ? lines.filter((_, i) => i !== last[1]) : lines;
    }
    if (roll < 0.75) {
      const offers = lines.filter((l) => l.startsWith('offer ')).map((l) => /^offer (\w+)/.exec(l)![1]!);
      return [...lines, `decision d9 { offers ${offers.filter(() => this.chance(0.6)).concat(offers[0]!).filter((o, i, a) => a.indexOf(o) === i).join(', ')} }`];
    }
    const k = lines.findIndex((l) => l.startsWith('offer '));
    return lines.map((l, i) => (i === k ? l.replace(/score [^\n]*?(?=(\n|  cap| }|$))/, `score ${this.int(0, 3)}`) : l));
  }

  /**
   * The stream moved in time, whole hours, so that it starts up to half a
   * day before a daylight saving change: send windows then open across it.
   * Every rule reads times relative to the events or now(), so only the
   * zones' wall clocks see the move.
   */
  nearDstChange(events: Record<string, unknown>[], until: number): { events: Record<string, unknown>[]; until: number } {
    const target = this.pick(DST_CHANGES) - this.int(0, 12) * 3_600_000;
    const shift = Math.floor((target - Date.parse(String(events[0]!.ts))) / 3_600_000) * 3_600_000;
    return { events: events.map((e) => ({ ...e, ts: new Date(Date.parse(String(e.ts)) + shift).toISOString() })), until: until + shift };
  }

  /** `prof` events setting customers' zones, among the stream's (each at the time of the event it follows). */
  withZoneEvents(events: Record<string, unknown>[]): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const e of events) {
      out.push(e);
      if (this.chance(0.15)) out.push({ c: e.c, type: 'prof', ts: e.ts, tz: this.chance(0.1) ? null : this.pick(TZ_VALUES) });
    }
    return out;
  }

  private traitLines: string[] = [];
  private audienceLines: string[] = [];

  /**
   * The next rules of a deployment: the same traits, each sometimes
   * redefined; each audience kept as it was, redefined, or (at the end of
   * the list) removed; sometimes new audiences after them; sometimes an
   * audience declared again with other whitespace only.
   */
  nextRules(): string {
    const lines = [HEADER];
    const traits = this.numericTraits;
    this.traitLines = this.traitLines.map((line, i) => {
      if (!this.chance(0.3)) return line;
      // A trait uses only those declared before it.
      this.numericTraits = traits.slice(0, i);
      return `trait t${i} = ${this.num(2)}`;
    });
    this.numericTraits = traits;
    lines.push(...this.traitLines);
    const keep = this.int(1, this.audienceLines.length);
    const total = keep + (this.chance(0.4) ? this.int(1, 2) : 0);
    this.audiences = [];
    const next: string[] = [];
    for (let i = 0; i < total; i++) {
      const old = i < keep ? this.audienceLines[i] : undefined;
      const roll = this.r();
      const line = old !== undefined && roll < 0.5 ? old
        : old !== undefined && roll < 0.6 ? old.replace(' { ', ' {\n  ').replace(/ }$/, '\n}')
          : `audience a${i} { ${this.bool(3)} }`;
      next.push(line);
      this.audiences = [...this.audiences, `a${i}`];
    }
    this.audienceLines = next;
    lines.push(...next);
    return lines.join('\n') + '\n';
  }

  events(): { events: Record<string, unknown>[]; until: number } {
    const customers = Array.from({ length: this.int(1, 4) }, (_, i) => `c${i + 1}`);
    const n = this.int(5, 45);
    let t = T0;
    const out: Record<string, unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const gap = this.r();
      t += gap < 0.1 ? 0 : gap < 0.3 ? this.int(1, 59) * 1000 : gap < 0.6 ? this.int(1, 30) * 60_000 : gap < 0.9 ? this.int(1, 6) * 3_600_000 : this.int(1, 2) * 86_400_000;
      const type = this.pick(EVENTS);
      // Some negative amounts (refunds): a sum that can rise as buckets leave.
      const amount = this.chance(0.1) ? null : this.chance(0.1) ? -this.int(1, 10) : this.int(0, 20);
      const e: Record<string, unknown> = { c: this.pick(customers), type, ts: new Date(t).toISOString(), amount };
      if (type === 'buy') { e.cat = this.chance(0.05) ? null : this.pick(['a', 'b', 'c']); e.web = this.chance(0.6); }
      if (type === 'view') e.page = this.pick(['/sale/x', '/p/1', '/home', '/sale/p1']);
      out.push(e);
    }
    return { events: out, until: t + this.int(0, 3 * 24) * 3_600_000 };
  }
}

/** A source with identities instead of a key: user ids, e-mails (limited), anonymous ids (some values blocked). */
function identityHeader(g: Gen): string {
  const user = g.chance(0.2) ? 'u limit 2' : 'u';
  return HEADER.replace('key c', `identity ${user}, e limit ${g.int(1, 3)}, a block "", "none"`);
}

/** Values of each identifier field: few, so that records keep meeting the same profiles. */
const POOLS: Record<string, string[]> = { u: ['u1', 'u2', 'u3'], e: ['e1', 'e2', 'e3', 'e4'], a: ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'] };
/** Which identifiers a record carries, by weight: alone, in pairs, all three. */
const CARRIES: [string[], number][] = [[['a'], 35], [['u'], 25], [['e'], 10], [['a', 'u'], 15], [['a', 'e'], 8], [['u', 'e'], 5], [['a', 'u', 'e'], 2]];

/** Records with identifiers instead of a key, and some erasures among them. */
function identityStream(g: Gen, base: Record<string, unknown>[]): Record<string, unknown>[] {
  const total = CARRIES.reduce((n, [, w]) => n + w, 0);
  const out: Record<string, unknown>[] = [];
  for (const e of base) {
    const { c: _c, ...rest } = e;
    let roll = g.int(0, total - 1);
    const [fields] = CARRIES.find(([, w]) => (roll -= w) < 0)!;
    const ids: Record<string, string> = {};
    for (const f of fields) ids[f] = g.chance(0.04) ? g.pick(['', 'none']) : g.pick(POOLS[f]!);
    out.push({ ...ids, ...rest });
    if (g.chance(0.06)) {
      const f = g.pick(['u', 'e', 'a']);
      out.push({ [f]: g.pick(POOLS[f]!), type: 'aud.forget', ts: e['ts'] });
    }
  }
  return out;
}

/** A keyed stream with some erasures among its records. */
function withErasures(g: Gen, base: Record<string, unknown>[]): Record<string, unknown>[] {
  const customers = [...new Set(base.map((e) => e['c']))];
  const out: Record<string, unknown>[] = [];
  for (const e of base) {
    out.push(e);
    if (g.chance(0.08)) out.push({ c: g.pick(customers), type: 'aud.forget', ts: e['ts'] });
  }
  return out;
}

/** An identity case (or a keyed one with erasures), from draws of its own. */
function identityCase(seed: number): RandomCase {
  const g = new Gen(prng((seed * 2654435761) >>> 0));
  g.sequences = false;
  const keyed = g.chance(0.3);
  const rules = g.rules(keyed ? HEADER : identityHeader(g));
  const { events, until } = g.events();
  return { seed, rules, events: keyed ? withErasures(g, events) : identityStream(g, events), until, deployments: [] };
}

export function randomCase(seed: number): RandomCase {
  const g = new Gen(prng(seed));
  let rules = g.rules();
  const drawn = g.events();
  const { events } = drawn;
  let until = drawn.until;
  // Drawn last, so that a seed's rules and events are those of earlier versions.
  const maxTallyValues = g.chance(0.4) ? g.int(1, 3) : undefined;
  // Half the cases change their rules once or twice: at an event's instant, between events, or after the last.
  const deployments: { at: number; rules: string }[] = [];
  if (g.chance(0.5)) {
    const first = Date.parse(String(events[0]!.ts));
    const times = Array.from({ length: g.int(1, 2) }, () => (g.chance(0.3)
      ? Date.parse(String(g.pick(events).ts))
      : first + g.int(0, until + 3_600_000 - first))).sort((a, b) => a - b);
    for (const at of new Set(times)) deployments.push({ at, rules: g.nextRules() });
  }
  // Drawn after everything else, so that a seed's other parts are those of earlier versions. A
  // deployment that adds or changes a steady audience is refused (engine/rule-change.ts): cases with
  // deployments get only steady audiences that every version of their rules keeps unchanged.
  if (deployments.length === 0 && g.chance(0.5)) rules = `${rules}${g.steadyAudiences().join('\n')}\n`;
  // With deployments, some cases keep the same steady audiences in every version of the rules: their state must carry over.
  if (deployments.length > 0 && g.chance(0.3)) {
    const steady = `${g.steadyAudiences(true).join('\n')}\n`;
    rules = `${rules}${steady}`;
    for (const d of deployments) d.rules = `${d.rules}${steady}`;
  }
  // Drawn after everything else again: a quarter of the cases choose offers; with rule changes, each version keeps, drops, adds or changes decisions.
  let stream = events;
  if (g.chance(0.25)) {
    const { lines, zoneTrait } = g.decisionLines(deployments.length > 0);
    rules = `${rules}${lines.join('\n')}\n`;
    for (const d of deployments) d.rules = `${d.rules}${g.decisionVariant(lines).join('\n')}\n`;
    if (zoneTrait) {
      stream = g.withZoneEvents(events);
      // Drawn after the decisions, as below: other spellings of the zones in some cases.
      if (g.chance(0.3)) stream = stream.map((e) => (typeof e.tz === 'string' && TZ_SPELLINGS[e.tz] ? { ...e, tz: TZ_SPELLINGS[e.tz] } : e));
    }
    // Drawn after the decisions, so that decision cases of earlier versions keep theirs.
    if (g.chance(0.3)) {
      const before = until;
      ({ events: stream, until } = g.nearDstChange(stream, until));
      // A rule change moves with the stream.
      for (const d of deployments) d.at += until - before;
    }
  }
  // Drawn last: three cases in ten are identity or erasure cases instead.
  if (g.chance(0.3)) return identityCase(seed);
  return { seed, rules, events: stream, until, ...(maxTallyValues !== undefined ? { maxTallyValues } : {}), deployments };
}
