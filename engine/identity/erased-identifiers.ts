/**
 * What the engine keeps of an erased customer: a salted hash of each of its
 * identifiers (its key, for a keyed source) and the instant of the erasure,
 * never the identifier in clear (customer-lifecycle.md, section 3). A record
 * re-read from history (a rule change's states built from history) whose
 * customer was erased at a later instant than its own time is skipped, so
 * that nothing computed after the erasure uses what came before it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ERASED_PREFIX } from '../state-keys.js';
import type { StoreWrite } from '../state/store.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Kept in the store (and so the changelog) as `x/<hash>` → the instant, written at the commit after the erasure. */
export class ErasedIdentifiers {
  private readonly erasedAt = new Map<string, number>();
  private readonly unwritten = new Set<string>();

  /** `salt`: kept with the hashes (in the partition meta); without it nothing can be matched again. */
  constructor(readonly salt: Uint8Array = randomBytes(16)) {}

  get size(): number { return this.erasedAt.size; }

  /** Remember that the customer known by this identifier was erased at `at`. */
  add(field: number, value: string, at: number): void {
    const h = this.hash(field, value);
    const before = this.erasedAt.get(h);
    if (before === undefined || at > before) {
      this.erasedAt.set(h, at);
      this.unwritten.add(h);
    }
  }

  /** A stored entry (key `x/<hash>`, value the instant) back in. */
  restore(key: string, value: Uint8Array): void {
    this.erasedAt.set(key.slice(ERASED_PREFIX.length), Number(decoder.decode(value)));
  }

  /** The store writes of the entries added since the last call. */
  takeWrites(): StoreWrite[] {
    const writes: StoreWrite[] = [];
    for (const h of this.unwritten) writes.push({ type: 'put', key: ERASED_PREFIX + h, value: encoder.encode(String(this.erasedAt.get(h)!)) });
    this.unwritten.clear();
    return writes;
  }

  /** Whether a record of this identifier at `time` came before an erasure of its customer. */
  erasedAfter(field: number, value: string, time: number): boolean {
    const at = this.erasedAt.get(this.hash(field, value));
    return at !== undefined && time <= at;
  }

  private hash(field: number, value: string): string {
    return createHash('sha256').update(this.salt).update(`${field}\u0000${value}`).digest('base64url');
  }
}
