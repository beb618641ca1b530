/**
 * Decisions (activation.md, section 2): per customer, the one best offer,
 * sent when it changes, held by caps and send windows. Every rule here is
 * fixed in docs/decisions/2026-12-04-next-best-action.md; in short, at each
 * evaluation at `now`:
 *
 *   1. the eligible offers (eligible true, score a finite number), ranked by
 *      score, ties by their order in `offers`;
 *   2. walking the ranking, the value is the first offer that is the one
 *      last sent (it stays: caps limit new sends only) or that every cap
 *      lets out now; a capped offer is passed over, and the instant its caps
 *      free is a wake; none left: the value is null;
 *   3. a value other than the last sent goes out as a decision event, unless
 *      the send window is closed: then the instant it opens is a wake.
 *
 * The state is a slot's (DecisionSlot), stored with the customer:
 * `[version, last, wake, t1, offer1, t2, offer2, ...]`: the version of the
 * last decision event, the offer it named (null: none, or none sent yet),
 * the next instant it must be evaluated with no event (null: never; the
 * engine evaluates a customer's decisions only when what they read changed
 * or this instant is due), and the sends the caps can still count, oldest
 * first (offer names, not indexes, so that the state reads the same under
 * any order of offers).
 */
import type { CapPlan, DecisionPlan, OfferPlan, SendWindowPlan } from '../dsl/plan.js';
import { nextOpening, windowOpen } from './send-window.js';

export type DecisionState = (number | string | null)[];

/** An offer's values for one customer at one instant. */
export interface OfferValue {
  eligible: boolean;
  /** A finite number when eligible. */
  score: number;
}

export interface DecisionStep {
  /** The new state; `before` itself (possibly undefined) when nothing changed. */
  state: DecisionState | undefined;
  /** The decision event to send, if any. */
  event: { offer: string | null; score: number | null; version: number } | undefined;
  /** The next instant a cap frees or the window opens when that may change the value (Infinity: none). */
  wake: number;
}

const VERSION = 0;
const LAST = 1;
const WAKE = 2;
const SENDS = 3;

/** The version of a decision's last event for a customer (0: none yet). */
export function decisionVersion(state: DecisionState | undefined): number {
  return state ? (state[VERSION] as number) : 0;
}

/** The offer a decision's last event named; null when none was sent or it named none. */
export function lastOffer(state: DecisionState | undefined): string | null {
  return state ? (state[LAST] as string | null) : null;
}

/** The instant the decision must next be evaluated with no event, as last stored; Infinity: never. */
export function storedWake(state: DecisionState | undefined): number {
  const w = state?.[WAKE];
  return typeof w === 'number' ? w : Infinity;
}

/** The state with `wake` stored (Infinity: none): the same array when it is stored already. */
export function withWake(state: DecisionState | undefined, wake: number): DecisionState | undefined {
  const stored = wake === Infinity ? null : wake;
  if (state === undefined) return stored === null ? undefined : [0, null, stored];
  if (state[WAKE] === stored) return state;
  const next = state.slice();
  next[WAKE] = stored;
  return next;
}

/** The sends a decision's state records, oldest first. */
export function recordedSends(state: DecisionState | undefined): { at: number; offer: string }[] {
  const out: { at: number; offer: string }[] = [];
  if (!state) return out;
  for (let i = SENDS; i + 1 < state.length; i += 2) out.push({ at: state[i] as number, offer: state[i + 1] as string });
  return out;
}

/**
 * The instant every cap on sending `offer` from decision `d` lets it out
 * again: at or before `now` when they let it out now. `states` are the
 * customer's decision states by decision index: an offer's own cap counts
 * its sends from every decision.
 */
export function capsFreeAt(d: DecisionPlan, dIndex: number, offer: OfferPlan, states: readonly (DecisionState | undefined)[], now: number): number {
  let free = Number.NEGATIVE_INFINITY;
  for (const cap of offer.caps) {
    const times: number[] = [];
    for (const state of states) {
      if (!state) continue;
      for (let i = SENDS; i + 1 < state.length; i += 2) {
        if (state[i + 1] === offer.name && (state[i] as number) > now - cap.windowMs) times.push(state[i] as number);
      }
    }
    free = Math.max(free, freeAt(cap, times));
  }
  if (d.caps.length > 0) {
    const own = states[dIndex];
    for (const cap of d.caps) {
      const times: number[] = [];
      if (own) for (let i = SENDS; i + 1 < own.length; i += 2) if ((own[i] as number) > now - cap.windowMs) times.push(own[i] as number);
      free = Math.max(free, freeAt(cap, times));
    }
  }
  return free;
}

/** With `times` the counted sends in the cap's window: the instant it lets one more out (-Infinity: now). */
function freeAt(cap: CapPlan, times: number[]): number {
  if (times.length < cap.count) return Number.NEGATIVE_INFINITY;
  times.sort((a, b) => a - b);
  // The count falls below N when the (k − N + 1)-th oldest send leaves the window.
  return times[times.length - cap.count]! + cap.windowMs;
}

/**
 * One evaluation of decision `d` (index `dIndex`) at `now`. `values` are its
 * offers' values in the order of `d.offers`; `zone` the send window's zone
 * for this customer (ignored without a window).
 */
export function stepDecision(
  d: DecisionPlan, dIndex: number, offers: readonly OfferPlan[], values: readonly OfferValue[],
  states: readonly (DecisionState | undefined)[], zone: string, now: number,
): DecisionStep {
  const before = states[dIndex];
  const last = lastOffer(before);
  let wake = Infinity;
  let chosen = -1;
  // The ranking, walked best first: a handful of offers, so a selection per step rather than a sort.
  const taken = new Uint8Array(d.offers.length);
  for (;;) {
    let best = -1;
    for (let i = 0; i < d.offers.length; i++) {
      if (taken[i] === 1 || !values[i]!.eligible) continue;
      if (best < 0 || values[i]!.score > values[best]!.score) best = i;
    }
    if (best < 0) break;
    taken[best] = 1;
    const offer = offers[d.offers[best]!]!;
    if (offer.name === last) { chosen = best; break; }
    const free = capsFreeAt(d, dIndex, offer, states, now);
    if (free <= now) { chosen = best; break; }
    if (free < wake) wake = free;
  }
  const value = chosen < 0 ? null : offers[d.offers[chosen]!]!.name;
  let event: DecisionStep['event'];
  if (value !== last) {
    if (d.window && !windowOpen(d.window, zone, now)) {
      const opens = nextOpening(d.window, zone, now);
      if (opens < wake) wake = opens;
    } else {
      event = { offer: value, score: chosen < 0 ? null : values[chosen]!.score, version: decisionVersion(before) + 1 };
    }
  }
  return { state: event ? nextState(d, offers, before, event, value, now) : before, event, wake };
}

/** The state after a decision event naming `value`: its version and offer, and the sends the caps can still count. */
function nextState(
  d: DecisionPlan, offers: readonly OfferPlan[], before: DecisionState | undefined,
  event: NonNullable<DecisionStep['event']>, value: string | null, now: number,
): DecisionState {
  const state: DecisionState = [event.version, value, before ? before[WAKE]! : null];
  // Keep the sends a cap can still count: those within the longest window of the decision's caps and the offer's.
  const decisionKeep = longest(d.caps);
  if (before) {
    for (let i = SENDS; i + 1 < before.length; i += 2) {
      const at = before[i] as number;
      const name = before[i + 1] as string;
      const offer = offers.find((o) => o.name === name);
      const keep = Math.max(decisionKeep, offer ? longest(offer.caps) : 0);
      if (at > now - keep) state.push(at, name);
    }
  }
  if (value !== null) {
    const offer = offers.find((o) => o.name === value);
    if (decisionKeep > 0 || (offer && offer.caps.length > 0)) state.push(now, value);
  }
  return state;
}

function longest(caps: readonly CapPlan[]): number {
  let w = 0;
  for (const c of caps) if (c.windowMs > w) w = c.windowMs;
  return w;
}

/** The zone of a decision's send window for a customer: the written one, else the trait's when it names a zone, else the default. */
export function windowZone(w: SendWindowPlan, traitValue: unknown, isZone: (name: string) => boolean): string {
  if (w.zone !== undefined) return w.zone;
  if (typeof traitValue === 'string' && isZone(traitValue)) return traitValue;
  return w.defaultZone ?? 'UTC';
}
