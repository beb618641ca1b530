/**
 * What the engine keeps of an erased customer: a salted hash of each of its
 * identifiers (its key, for a keyed source) and the instant of the erasure,
 * never the identifier in clear (customer-lifecycle.md, section 3). A record
 * re-read from history (a rule change's states built from history) whose
 * customer was erased at a later instant than its own time is skipped, so
 * that nothing computed after the erasure uses what came before it.
 */
import { createHash, randomBytes } from 'node:crypto';

export class ErasedIdentifiers {
  private readonly erasedAt = new Map<string, number>();

  /** `salt`: kept with the hashes (a fresh one for a new store); without it nothing can be matched again. */
  constructor(readonly salt: Uint8Array = randomBytes(16)) {}

  get size(): number { return this.erasedAt.size; }

  /** Remember that the customer known by this identifier was erased at `at`. */
  add(field: number, value: string, at: number): void {
    const h = this.hash(field, value);
    const before = this.erasedAt.get(h);
    if (before === undefined || at > before) this.erasedAt.set(h, at);
  }

  /** Whether a record of this identifier at `time` came before an erasure of its customer. */
  erasedAfter(field: number, value: string, time: number): boolean {
    const at = this.erasedAt.get(this.hash(field, value));
    return at !== undefined && time <= at;
  }

  /** The hashes and their instants, for a store to keep. */
  entries(): IterableIterator<[string, number]> {
    return this.erasedAt.entries();
  }

  private hash(field: number, value: string): string {
    return createHash('sha256').update(this.salt).update(`${field}\u0000${value}`).digest('base64url');
  }
}
