/**
 * Identity resolution: which profile an event's identifiers belong to, and
 * the merges they cause (customer-lifecycle.md, section 2; the cases the
 * spec leaves open are decided in
 * docs/decisions/2026-12-05-identities-and-erasure.md).
 *
 * A profile is a set of identifiers, each a (field, value) pair. Every
 * identifier belongs to at most one profile. An event's identifiers, most
 * trusted first, find the profiles holding any of them; if joining them all
 * would put more values of one field in a profile than the field's limit,
 * the event's least trusted identifier is dropped and the lookup is done
 * again. Then the event starts a profile, joins one, or merges several.
 *
 * The profile's id (the `customer` of output events) is the value of its
 * most trusted field; of several values, the one first seen. An id changes
 * when a more trusted identifier joins (an anonymous visitor logs in).
 *
 * Erased identifiers are dropped from the graph and remembered only as
 * salted hashes with the erasure's time (erased-identifiers.ts), which is
 * what a re-read of history needs to skip the profile's earlier records.
 */
import type { IdentityPlan } from '../../dsl/plan.js';
import { PROFILE_PREFIX } from '../state-keys.js';
import type { StoreWrite } from '../state/store.js';

/** A profile: its identifiers, and its id as output events name it. */
export interface Profile {
  /** Its number in the store (`p/<key>`): stable while its id changes. */
  key: number;
  id: string;
  /** [field index, value, first seen (arrival number)] per identifier. */
  identifiers: [number, string, number][];
}

/** What resolving one event did to the profiles. */
export interface Resolution {
  /** The profile's id after the event: the customer the event applies to. */
  customer: string;
  /**
   * Set when the event merged profiles or changed the profile's id:
   * `survivor` is the id (before the event) of the profile whose state goes
   * on, `absorbed` the ids of the others, in the order of the event's
   * identifiers. `customer` may differ from `survivor` (the id changed).
   */
  merge?: { survivor: string; absorbed: string[] };
  /** Identifiers the event carried that did not join (a limit): for metrics and logs. */
  dropped: number;
}

/** The graph's counters, kept in the partition meta. */
export interface IdentityCounters { arrivals: number; profiles: number }

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Kept in memory whole, and in the store as one record per profile
 * (`p/<number>`: its id and identifiers), written at the commit after it
 * changed and deleted when it is merged away or erased. The store's
 * records, through the changelog, are what a restore rebuilds it from.
 */
export class IdentityGraph {
  /** Per field (by index): value → the profile holding it. */
  private readonly byField: Map<string, Profile>[];
  private readonly byId = new Map<string, Profile>();
  private readonly limits: (number | null)[];
  private arrivals = 0;
  private nextKey = 0;
  /** Profiles changed and removed since the last takeWrites. */
  private readonly changed = new Set<Profile>();
  private readonly removed = new Set<number>();

  constructor(readonly plan: IdentityPlan, counters?: IdentityCounters) {
    this.limits = plan.fields.map((f) => f.limit);
    this.byField = plan.fields.map(() => new Map());
    if (counters) { this.arrivals = counters.arrivals; this.nextKey = counters.profiles; }
  }

  get counters(): IdentityCounters { return { arrivals: this.arrivals, profiles: this.nextKey }; }

  /** A profile as stored (a `p/` record's value), back into the graph. */
  restore(value: Uint8Array): void {
    const p = JSON.parse(decoder.decode(value)) as Profile;
    this.byId.set(p.id, p);
    for (const [f, v] of p.identifiers) this.byField[f]!.set(v, p);
  }

  /** The store writes of the profiles changed since the last call: a put per changed one, a delete per removed one. */
  takeWrites(): StoreWrite[] {
    const writes: StoreWrite[] = [];
    for (const key of this.removed) writes.push({ type: 'del', key: profileKey(key) });
    for (const p of this.changed) writes.push({ type: 'put', key: profileKey(p.key), value: encoder.encode(JSON.stringify(p)) });
    this.removed.clear();
    this.changed.clear();
    return writes;
  }

  get profiles(): number { return this.byId.size; }

  /** The profile holding this identifier (field by index), if any. */
  profileOf(field: number, value: string): Profile | undefined {
    return this.byField[field]?.get(value);
  }

  /** The profile whose id this is, if any. */
  profile(id: string): Profile | undefined {
    return this.byId.get(id);
  }

  /** The profile of any identifier with this value, whatever its field, most trusted field first. */
  find(value: string): Profile | undefined {
    for (let f = 0; f < this.limits.length; f++) {
      const p = this.profileOf(f, value);
      if (p) return p;
    }
    return undefined;
  }

  /**
   * Resolve one event's identifiers: `ids[f]` is the value of field f, or
   * null when the event has none (absent, null or blocked). At least one is
   * a value (the decoder makes an event with none a bad record).
   */
  resolve(ids: readonly (string | null)[]): Resolution {
    // Most events carry one identifier: a lookup, or a new profile.
    let only = -1;
    for (let f = 0; f < ids.length; f++) {
      if (ids[f] === null) continue;
      if (only >= 0) { only = -2; break; }
      only = f;
    }
    if (only >= 0) {
      const arrival = ++this.arrivals;
      const known = this.byField[only]!.get(ids[only]!);
      if (known) return { customer: known.id, dropped: 0 };
      const profile: Profile = { key: this.nextKey++, id: ids[only]!, identifiers: [[only, ids[only]!, arrival]] };
      this.byField[only]!.set(profile.id, profile);
      this.byId.set(profile.id, profile);
      this.changed.add(profile);
      return { customer: profile.id, dropped: 0 };
    }
    const present: number[] = [];
    for (let f = 0; f < ids.length; f++) if (ids[f] !== null) present.push(f);
    let dropped = 0;
    let found = this.profilesOf(ids, present);
    while (present.length > 1 && !this.withinLimits(ids, present, found)) {
      present.pop();
      dropped++;
      found = this.profilesOf(ids, present);
    }
    const arrival = ++this.arrivals;
    if (found.length === 0) {
      const profile: Profile = { key: this.nextKey++, id: '', identifiers: present.map((f) => [f, ids[f]!, arrival]) };
      profile.id = idOf(profile);
      for (const [f, v] of profile.identifiers) this.byField[f]!.set(v, profile);
      this.byId.set(profile.id, profile);
      this.changed.add(profile);
      return { customer: profile.id, dropped };
    }
    const before = found.map((p) => p.id);
    const into = found[0]!;
    const identifiersBefore = into.identifiers.length;
    for (const other of found.slice(1)) {
      for (const identifier of other.identifiers) {
        into.identifiers.push(identifier);
        this.byField[identifier[0]]!.set(identifier[1], into);
      }
      this.byId.delete(other.id);
      this.changed.delete(other);
      this.removed.add(other.key);
    }
    for (const f of present) {
      const byValue = this.byField[f]!;
      if (byValue.has(ids[f]!)) continue;
      into.identifiers.push([f, ids[f]!, arrival]);
      byValue.set(ids[f]!, into);
    }
    if (into.identifiers.length !== identifiersBefore) this.changed.add(into);
    this.byId.delete(into.id);
    into.id = idOf(into);
    this.byId.set(into.id, into);
    if (found.length === 1 && before[0] === into.id) return { customer: into.id, dropped };
    // The survivor: the profile whose id the merged one keeps, else the first found.
    const kept = before.indexOf(into.id);
    const survivor = kept >= 0 ? kept : 0;
    return { customer: into.id, merge: { survivor: before[survivor]!, absorbed: before.filter((_, i) => i !== survivor) }, dropped };
  }

  /**
   * Forget the profiles these identifiers name (ids as in resolve); returns
   * them, in the order of the identifiers, their identifiers gone from the graph.
   */
  forget(ids: readonly (string | null)[]): Profile[] {
    const out: Profile[] = [];
    for (let f = 0; f < ids.length; f++) {
      const v = ids[f];
      if (v === null || v === undefined) continue;
      const p = this.profileOf(f, v);
      if (!p || out.includes(p)) continue;
      out.push(p);
    }
    for (const p of out) {
      for (const [f, v] of p.identifiers) this.byField[f]!.delete(v);
      this.byId.delete(p.id);
      this.changed.delete(p);
      this.removed.add(p.key);
    }
    return out;
  }

  /** The distinct profiles holding the identifiers `present` of `ids`, in their order. */
  private profilesOf(ids: readonly (string | null)[], present: readonly number[]): Profile[] {
    const out: Profile[] = [];
    for (const f of present) {
      const p = this.byField[f]!.get(ids[f]!);
      if (p && !out.includes(p)) out.push(p);
    }
    return out;
  }

  /** Whether the profiles found and the event's identifiers together keep every field within its limit. */
  private withinLimits(ids: readonly (string | null)[], present: readonly number[], found: readonly Profile[]): boolean {
    for (let f = 0; f < this.limits.length; f++) {
      const limit = this.limits[f];
      if (limit === null || limit === undefined) continue;
      const values = new Set<string>();
      for (const p of found) for (const [g, v] of p.identifiers) if (g === f) values.add(v);
      if (present.includes(f)) values.add(ids[f]!);
      if (values.size > limit) return false;
    }
    return true;
  }
}

/** A profile's identifiers by field name (fields most trusted first, each field's values in the order seen). */
export function identifiersByField(p: Profile, fields: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const sorted = [...p.identifiers].sort((a, b) => a[0] - b[0] || a[2] - b[2]);
  for (const [f, v] of sorted) (out[fields[f]!] ??= []).push(v);
  return out;
}

function profileKey(key: number): string {
  return `${PROFILE_PREFIX}${key}`;
}

/** The value of the profile's most trusted field; of several, the one first seen. */
function idOf(p: Profile): string {
  let best: [number, string, number] | undefined;
  for (const identifier of p.identifiers) {
    if (!best || identifier[0] < best[0] || (identifier[0] === best[0] && identifier[2] < best[2])) best = identifier;
  }
  return best![1];
}
