/**
 * The audiences a customer state's membership and wake arrays are indexed
 * by, stored once per partition rather than in every customer.
 *
 * A customer keeps, per audience, the version of its last enter/leave and
 * the instant it may next change (customer-state.ts). Keyed by audience
 * name, every customer's state would carry every name, and with a thousand
 * audiences the names would be most of its bytes and most of the cost of
 * encoding it at each commit. Instead the state holds arrays in the order
 * of an audience list and the list's id; the list itself is stored under
 * `a/<id>` (and goes to the changelog with the customers). A state written
 * under another list (other rules) is read by matching names, so a rule
 * change keeps the memberships of the audiences it keeps.
 */
import { createHash } from 'node:crypto';
import { AUDIENCE_LIST_PREFIX } from './state-keys.js';
import type { PartitionStore } from './state/store.js';

export class AudienceList {
  readonly id: string;
  readonly index: Map<string, number>;

  constructor(readonly names: readonly string[]) {
    this.id = createHash('sha256').update(JSON.stringify(names)).digest('hex').slice(0, 16);
    this.index = new Map(names.map((n, i) => [n, i]));
  }

  get key(): string { return AUDIENCE_LIST_PREFIX + this.id; }

  encode(): Uint8Array { return new TextEncoder().encode(JSON.stringify(this.names)); }

  static decode(bytes: Uint8Array): AudienceList {
    return new AudienceList(JSON.parse(new TextDecoder().decode(bytes)) as string[]);
  }
}

/**
 * The lists a partition's states may be indexed by: the current rules' and
 * any stored by earlier rules, with the mapping from each to the current one.
 */
export class AudienceLists {
  private readonly byId = new Map<string, AudienceList>();
  private readonly toCurrent = new Map<string, Int32Array>();

  constructor(readonly current: AudienceList) {}

  /** Every list stored in a partition's store. */
  async load(store: PartitionStore): Promise<void> {
    for await (const [, value] of store.scan(AUDIENCE_LIST_PREFIX)) this.add(AudienceList.decode(value));
  }

  /** Whether list `id` is among those loaded or added. */
  has(id: string): boolean { return this.byId.has(id); }

  add(list: AudienceList): void {
    if (!this.byId.has(list.id)) this.byId.set(list.id, list);
  }

  /** For list `id`: each of its positions' position in the current list, -1 for an audience the rules no longer have. */
  mapping(id: string): Int32Array {
    let map = this.toCurrent.get(id);
    if (map) return map;
    const list = id === this.current.id ? this.current : this.byId.get(id);
    // A state's list is written in the same commit as the state: a missing one is a damaged store.
    if (!list) throw new Error(`customer state refers to audience list ${id}, which the store does not hold: the state store is damaged; restore it from the changelog (docs/operations.md)`);
    map = Int32Array.from(list.names, (n) => this.current.index.get(n) ?? -1);
    this.toCurrent.set(id, map);
    return map;
  }
}
