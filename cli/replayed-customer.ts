/**
 * A customer's state from a file of events: what `aud why --input` explains.
 *
 * The events are replayed with the event clock (engine/replay.ts) up to
 * `at` when given (later events are left out, and the clock then moves on to
 * `at` so that timers due by then fire), and the customer's state is read
 * from the partition at the end. Its transitions are taken from the replay's
 * own enter/leave events, which hold every one with its cause (the input
 * line), rather than from the few the state keeps: the last
 * RECENT_TRANSITIONS, as a running engine keeps, and beyond them the latest
 * of each audience, so that one audience flickering in and out does not
 * hide since when the customer is in another.
 *
 * With an identity source the customer may be named by any identifier of
 * its profile: the state is the profile's, and its transitions those of the
 * profile's id, found by a second replay when the id differs from the one
 * asked for.
 */
import { closest } from '../dsl/suggest.js';
import type { Plan } from '../dsl/plan.js';
import type { CustomerState } from '../engine/customer-state.js';
import type { WhyInput } from '../engine/customer-why.js';
import { RecordDecoder, type InputRecord } from '../engine/input-record.js';
import { replay } from '../engine/replay.js';
import { RECENT_TRANSITIONS, type Transition } from '../engine/transition-history.js';
import { inputRecords } from './input-file.js';

/** The customer has no event in the input (up to `at`): a user's mistake, told as such. */
export class UnknownCustomerError extends Error {
  readonly code = 'unknown-customer';
}

export interface ReplayedCustomerOptions {
  plan: Plan;
  /** A .jsonl or .avro file of events, or - for stdin. */
  input: string;
  customer: string;
  /** Epoch ms: the events up to it, then the clock moved to it. */
  at?: number;
}

/** `customer`: the id the state is the customer's under (an identity source's profile id, whichever identifier was asked for). */
export async function replayedCustomer(opts: ReplayedCustomerOptions): Promise<WhyInput & { bad: number; customer: string }> {
  const first = await replayedOnce(opts, opts.customer);
  if (!first.result) throw new UnknownCustomerError(unknownCustomerMessage(opts, first.known, first.onlyLater));
  if (first.profileId === undefined || first.profileId === opts.customer) return { ...first.result, customer: opts.customer };
  const again = await replayedOnce(opts, first.profileId);
  return { ...again.result!, customer: first.profileId };
}

async function replayedOnce(opts: ReplayedCustomerOptions, customer: string): Promise<{ result?: WhyInput & { bad: number }; profileId?: string; known: Set<string>; onlyLater: Set<string> }> {
  const { plan, at } = opts;
  const decoder = new RecordDecoder(plan);
  const known = new Set<string>();
  const onlyLater = new Set<string>();
  async function* upToAt(): AsyncGenerator<InputRecord> {
    for await (const r of inputRecords(opts.input)) {
      const d = decoder.decode(r.value, r.key, r.timestamp);
      if (d.kind === 'event') {
        // An identity source's records name customers by their identifiers, any of which finds the profile.
        const names = d.event.ids ? d.event.ids.filter((v): v is string => v !== null) : [d.event.customer];
        if (at !== undefined && d.event.time > at) {
          for (const n of names) if (!known.has(n)) onlyLater.add(n);
          continue;
        }
        for (const n of names) { known.add(n); onlyLater.delete(n); }
      }
      yield r;
    }
  }
  const transitions: Transition[] = [];
  let state: CustomerState | undefined;
  let profileId: string | undefined;
  let now = Number.NEGATIVE_INFINITY;
  let bad = 0;
  await replay(plan, upToAt(), {
    ...(at !== undefined ? { until: at } : {}),
    onOutput: (events) => {
      for (const e of events) {
        if (e.customer !== customer || e.type === 'decision') continue;
        const t: Transition = { audience: e.audience, type: e.type, at: Date.parse(e.at), version: e.version, reason: e.reason };
        if (e.cause !== undefined) t.cause = e.cause;
        transitions.push(t);
      }
    },
    onBad: () => { bad++; },
    atEnd: async (task) => {
      profileId = task.profileOf(customer)?.id;
      state = await task.committedState(profileId ?? customer);
      now = task.clock;
    },
  });
  if (!state) return { known, onlyLater };
  return { result: { plan, state, now, partition: null, transitions: recentAndLatestPerAudience(transitions.reverse()), bad }, ...(profileId !== undefined ? { profileId } : {}), known, onlyLater };
}

/** Newest first: the first RECENT_TRANSITIONS, and after them each audience's newest when it is not among those. */
function recentAndLatestPerAudience(newestFirst: Transition[]): Transition[] {
  const kept = newestFirst.slice(0, RECENT_TRANSITIONS);
  const audiences = new Set(kept.map((t) => t.audience));
  for (const t of newestFirst.slice(RECENT_TRANSITIONS)) {
    if (audiences.has(t.audience)) continue;
    audiences.add(t.audience);
    kept.push(t);
  }
  return kept;
}

function unknownCustomerMessage(opts: ReplayedCustomerOptions, known: Set<string>, onlyLater: Set<string>): string {
  const file = opts.input === '-' ? 'stdin' : opts.input;
  if (opts.at !== undefined && onlyLater.has(opts.customer)) {
    return `customer "${opts.customer}" has no event in ${file} up to ${new Date(opts.at).toISOString()}: their first one is later (move --at on)`;
  }
  const guess = closest(opts.customer, known);
  return `no customer "${opts.customer}" in ${file}${opts.at !== undefined ? ` up to ${new Date(opts.at).toISOString()}` : ''}` +
    (guess !== undefined ? `; did you mean "${guess}"?` : `: none of its ${known.size} customers has that id`);
}
