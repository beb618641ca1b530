/**
 * A keyed retail stream turned into one with identities
 * (customer-lifecycle.md, section 2), for the fault run and the benchmark.
 *
 * Each customer `c` has a user id (`c` itself), an e-mail and one or two
 * devices, whose anonymous ids are the only thing some events carry. An
 * event carries, at random:
 *   - the device alone (`anonymousShare`): browsing before logging in, so
 *     a device's first anonymous events start a profile of their own;
 *   - the device and the user id (`linkShare`): a log-in, which merges the
 *     device's profile into the customer's (or renames it, when the device
 *     came first);
 *   - otherwise the user id, and now and then the e-mail beside it.
 * Every `sharedEvery`-th customer shares a tablet with the next (a
 * family's): the log-ins on it as the second of them break `user_id`'s
 * limit of 1, so the tablet is dropped from those. With `forgetShare`, that share
 * of customers ask to be forgotten once, by e-mail, half-way through their
 * events, and come back afterwards as strangers.
 *
 * Records are keyed by the identifier they carry first (the engine takes
 * any). Deterministic for a seed.
 */
import { prng } from '../../examples/retail/generate.js';

export interface IdentityWorkloadOptions {
  seed: number;
  /** Share of events that carry a device's anonymous id only (default 0.3). */
  anonymousShare?: number;
  /** Share of events that carry a device and the user id: a log-in (default 0.05). */
  linkShare?: number;
  /** Share of customers erased once (default 0). */
  forgetShare?: number;
  /** One customer in this many shares a device with the next (default 50; 0: none). */
  sharedEvery?: number;
  /** The field the input names the customer by (default customer_id); it is removed. */
  keyField?: string;
  /** The type and time fields, for the forget records (default type, ts). */
  typeField?: string;
  timeField?: string;
}

/** The source block of a rule file over these events, instead of one keyed by customer. */
export const IDENTITY_SOURCE_CLAUSE = 'identity user_id, email limit 2, anonymous_id block "", "null"';

/** `text`'s source block with `key F` replaced by the identity clause above. */
export function withIdentitySource(text: string): string {
  const out = text.replace(/(source\s+"[^"]*"\s*\{[^}]*?)\bkey\s+[A-Za-z_][A-Za-z0-9_]*/, `$1${IDENTITY_SOURCE_CLAUSE}`);
  if (out === text) throw new Error('withIdentitySource: the rules\' source block has no key clause to replace');
  return out;
}

export function* identityEvents(events: Iterable<Record<string, unknown>>, opts: IdentityWorkloadOptions): Generator<Record<string, unknown>> {
  const r = prng(opts.seed);
  const anonymousShare = opts.anonymousShare ?? 0.3;
  const linkShare = opts.linkShare ?? 0.05;
  const forgetShare = opts.forgetShare ?? 0;
  const sharedEvery = opts.sharedEvery ?? 50;
  const keyField = opts.keyField ?? 'customer_id';
  const typeField = opts.typeField ?? 'type';
  const timeField = opts.timeField ?? 'ts';
  /** Per customer: events seen, whether it was forgotten, its generation (after a forget, new ids). */
  const seen = new Map<string, { n: number; forgetAt: number; generation: number }>();
  let customers = 0;
  for (const e of events) {
    const c = String(e[keyField]);
    let s = seen.get(c);
    if (!s) {
      customers++;
      // Forgotten after its 2nd to 20th event: early enough for most customers of a stream to have it.
      s = { n: 0, forgetAt: r() < forgetShare ? 2 + Math.floor(r() * 19) : -1, generation: 0 };
      seen.set(c, s);
    }
    s.n++;
    const g = s.generation === 0 ? '' : `.${s.generation}`;
    const user = `${c}${g}`;
    const email = `${c}${g}@mail.example`;
    const index = Number(/\d+/.exec(c)?.[0] ?? customers);
    // Customers k and k + 1 (k a multiple of sharedEvery) share a tablet for half their device events.
    const shared = sharedEvery > 0 && index % sharedEvery <= 1 && r() < 0.5;
    const device = shared ? `tablet-${Math.floor(index / sharedEvery)}` : `dev-${c}${g}-${r() < 0.7 ? 'a' : 'b'}`;
    const { [keyField]: _key, ...rest } = e;
    const u = r();
    const ids: Record<string, string> = u < anonymousShare ? { anonymous_id: device }
      : u < anonymousShare + linkShare ? { user_id: user, anonymous_id: device }
      : r() < 0.1 ? { user_id: user, email } : { user_id: user };
    yield { ...ids, ...rest };
    if (s.n === s.forgetAt) {
      yield { [typeField]: 'aud.forget', email, user_id: user, [timeField]: e[timeField] };
      s.generation++;
    }
  }
}

/** The key an identity record is produced with: its first identifier. */
export function identityKey(e: Record<string, unknown>): string {
  return String(e['user_id'] ?? e['email'] ?? e['anonymous_id'] ?? '');
}
