/**
 * The reference evaluator with identities and erasure
 * (customer-lifecycle.md, sections 2 and 3; the cases the spec leaves open
 * as docs/decisions/2026-12-05-identities-and-erasure.md decides them).
 *
 * Naive on purpose, and sharing no code with the engine's identity graph or
 * state merges: profiles are a list searched from end to end for every
 * record, and a merged profile's history is the merged profiles' records
 * re-keyed, from which every membership is computed again at every
 * instant, as evaluator.ts does for a customer.
 *
 * The stream is cut into **lives**: a life is one id's history between two
 * instants. A profile starts a life at its first record; a merge ends the
 * lives of the profiles it joins and starts one for the merged profile,
 * whose history is theirs merged by time (the survivor's records first
 * among records of one instant, then the absorbed ones', in order); an
 * erasure ends one. A life under the same id as the one it follows goes
 * on from its memberships and versions. Each life is evaluated like a
 * customer: at its records and at every instant its history implies.
 *
 * Keyed sources go through here too when the stream has `aud.forget`
 * records: a key is a profile of one identifier that never merges.
 */
import type { AudienceDecl } from '../../dsl/ast.js';
import { compareKeys, type Ev, type RefOutput, type ReferenceEvaluator } from './evaluator.js';

type Key = (number | string)[];

interface Identifier { field: number; value: string; seen: number }

interface Life {
  id: string;
  start: number;
  /** How it started: a profile's first record, or a merge (or a new id) at record `startIndex`. */
  startKind: 'new' | 'merge';
  startIndex: number;
  /** The life of the same id it goes on from (memberships and versions), if any. */
  follows: Life | undefined;
  /** The history it starts with (merge), in merged order. */
  base: Ev[];
  /** Its own records, in arrival order. */
  own: Ev[];
  /** How it ended: absorbed, renamed (its profile took another id), continued (merged, same id) or erased; at record `index`, `rank`-th among the lives that ended there. */
  end?: { at: number; index: number; kind: 'absorbed' | 'renamed' | 'continued' | 'erased'; rank: number };
  /** After evaluation: memberships and versions at its end. */
  member?: Map<string, boolean>;
  version?: Map<string, number>;
}

interface Profile { identifiers: Identifier[]; life: Life }

export function runProfiles(rules: ReferenceEvaluator, records: Record<string, unknown>[], until?: number): RefOutput[] {
  const fields = rules.identity ? rules.identity.fields.map((f) => f.name.name) : [rules.keyField];
  const limits = rules.identity ? rules.identity.fields.map((f, i) => f.limit?.value ?? (i === 0 ? 1 : Infinity)) : [1];
  const blocked = new Set(rules.identity ? rules.identity.block.map((b) => b.value) : []);
  const events = new Map(rules.parse(records).map((e) => [e.index, e]));
  let end = until ?? Number.NEGATIVE_INFINITY;
  for (const e of events.values()) end = Math.max(end, e.time);
  for (const r of records) if (r[rules.typeField] === 'aud.forget') end = Math.max(end, timeOf(r[rules.timeField]));
  if (!Number.isFinite(end)) return [];

  const identifiersOf = (r: Record<string, unknown>): (string | null)[] => fields.map((f) => {
    const v = r[f];
    const id = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
    return id === null || blocked.has(id) ? null : id;
  });
  let profiles: Profile[] = [];
  const lives: Life[] = [];
  let seen = 0;
  const holding = (field: number, value: string): Profile | undefined =>
    profiles.find((p) => p.identifiers.some((i) => i.field === field && i.value === value));
  const idOf = (ids: Identifier[]): string => {
    const best = [...ids].sort((a, b) => a.field - b.field || a.seen - b.seen)[0]!;
    return best.value;
  };
  const historyOf = (life: Life): Ev[] => [...life.base, ...life.own];

  records.forEach((r, index) => {
    const type = r[rules.typeField];
    const ids = identifiersOf(r);
    if (type === 'aud.forget') {
      const at = timeOf(r[rules.timeField]);
      const named: Profile[] = [];
      ids.forEach((v, f) => { if (v !== null) { const p = holding(f, v); if (p && !named.includes(p)) named.push(p); } });
      named.forEach((p, rank) => { p.life.end = { at, index, kind: 'erased', rank }; });
      profiles = profiles.filter((p) => !named.includes(p));
      return;
    }
    const e = events.get(index);
    if (!e) return;
    let present = ids.map((v, f) => (v === null ? -1 : f)).filter((f) => f >= 0);
    if (present.length === 0) return;
    // The profiles the identifiers find; while they break a limit, drop the least trusted identifier.
    const found = (): Profile[] => {
      const out: Profile[] = [];
      for (const f of present) { const p = holding(f, ids[f]!); if (p && !out.includes(p)) out.push(p); }
      return out;
    };
    const breaks = (ps: Profile[]): boolean => fields.some((_, f) => {
      const values = new Set(ps.flatMap((p) => p.identifiers.filter((i) => i.field === f).map((i) => i.value)));
      if (present.includes(f)) values.add(ids[f]!);
      return values.size > limits[f]!;
    });
    let ps = found();
    while (present.length > 1 && breaks(ps)) { present = present.slice(0, -1); ps = found(); }
    seen++;
    if (ps.length === 0) {
      const identifiers = present.map((f) => ({ field: f, value: ids[f]!, seen }));
      const life: Life = { id: idOf(identifiers), start: e.time, startKind: 'new', startIndex: index, follows: undefined, base: [], own: [e] };
      lives.push(life);
      profiles.push({ identifiers, life });
      return;
    }
    const identifiers = ps.flatMap((p) => p.identifiers);
    for (const f of present) if (!identifiers.some((i) => i.field === f && i.value === ids[f])) identifiers.push({ field: f, value: ids[f]!, seen });
    const id = idOf(identifiers);
    if (ps.length === 1 && ps[0]!.life.id === id) {
      ps[0]!.identifiers = identifiers;
      ps[0]!.life.own.push(e);
      return;
    }
    const survivor = ps.find((p) => p.life.id === id) ?? ps[0]!;
    const absorbed = ps.filter((p) => p !== survivor);
    absorbed.forEach((p, rank) => { p.life.end = { at: e.time, index, kind: 'absorbed', rank }; });
    survivor.life.end = { at: e.time, index, kind: survivor.life.id === id ? 'continued' : 'renamed', rank: 0 };
    // Merged by time, stably: of records of one instant, the survivor's come first, then each absorbed profile's in order.
    // Their arrival numbers (index) are renumbered in that order, below every record's still to come.
    const merged = [survivor, ...absorbed].flatMap((p) => historyOf(p.life)).sort((a, b) => a.time - b.time);
    const base = merged.map((x, k) => ({ ...x, index: k - merged.length }));
    const life: Life = { id, start: e.time, startKind: 'merge', startIndex: index, follows: survivor.life.id === id ? survivor.life : undefined, base, own: [e] };
    lives.push(life);
    profiles = profiles.filter((p) => !absorbed.includes(p));
    survivor.identifiers = identifiers;
    survivor.life = life;
  });

  const changes: { key: Key; out: RefOutput }[] = [];
  for (const life of lives) evaluateLife(rules, life, end, changes);
  changes.sort((a, b) => compareKeys(a.key, b.key));
  return changes.map((c) => c.out);
}

function timeOf(v: unknown): number {
  return typeof v === 'number' ? v : Date.parse(String(v));
}

/**
 * One life, like one customer of evaluator.ts: observed at each of its
 * records and at every instant its history implies, up to its end; at a
 * merge start, once more before its first record (reason merge); at its
 * end, the leaves its end makes.
 */
function evaluateLife(rules: ReferenceEvaluator, life: Life, end: number, changes: { key: Key; out: RefOutput }[]): void {
  const member = new Map(life.follows?.member ?? []);
  const version = new Map(life.follows?.version ?? []);
  const audiences: AudienceDecl[] = rules.audiences;
  const emit = (key: Key, audience: string, inside: boolean, now: number, reason: RefOutput['reason']): void => {
    member.set(audience, inside);
    const v = (version.get(audience) ?? 0) + 1;
    version.set(audience, v);
    changes.push({ key, out: { type: inside ? 'enter' : 'leave', audience, customer: life.id, at: new Date(now).toISOString(), version: v, reason } });
  };
  const observe = (now: number, history: Ev[], key: (order: number) => Key, reason: RefOutput['reason']): void => {
    const values = rules.memberships(history, now);
    audiences.forEach((a, order) => {
      const inside = values.get(a.name.name) === true;
      if (inside !== (member.get(a.name.name) ?? false)) emit(key(order), a.name.name, inside, now, reason);
    });
  };
  const stop = life.end?.at ?? end;
  if (life.startKind === 'merge') observe(life.start, life.base, (order) => [life.start, 1, life.startIndex, 2, 0, order], 'merge');
  const all = [...life.base, ...life.own];
  const candidates = [...rules.candidateInstants(all, stop)].filter((s) => s > life.start && s <= stop).sort((a, b) => a - b);
  let c = 0;
  const timer = (s: number, history: Ev[]) => observe(s, history, (order) => [s, 0, life.id, order], 'timer');
  life.own.forEach((e, i) => {
    while (c < candidates.length && candidates[c]! <= e.time) {
      const s = candidates[c++]!;
      timer(s, [...life.base, ...life.own.filter((x) => x.time < s)]);
    }
    observe(e.time, [...life.base, ...life.own.slice(0, i + 1)], (order) => [e.time, 1, e.index, 3, 0, order], 'event');
  });
  while (c < candidates.length && candidates[c]! <= stop) {
    const s = candidates[c++]!;
    timer(s, [...life.base, ...life.own.filter((x) => x.time <= s)]);
  }
  const ending = life.end;
  if (ending && ending.kind !== 'continued') {
    const phase = ending.kind === 'renamed' ? 1 : 0;
    const reason = ending.kind === 'erased' ? 'erasure' : 'merge';
    audiences.forEach((a, order) => {
      if (member.get(a.name.name) === true) emit([ending.at, 1, ending.index, phase, ending.rank, order], a.name.name, false, ending.at, reason);
    });
  }
  // An erased id starts again from nothing; a renamed or absorbed one never comes back.
  life.member = ending?.kind === 'continued' ? member : new Map();
  life.version = ending?.kind === 'continued' ? version : new Map();
}
