/**
 * The why of a customer's decisions (part of engine/customer-why.ts): for
 * each decision, each offer's eligibility and score with their trees, its
 * rank, its caps (sends counted now, whether full, when it frees), what the
 * ranking walk did with it, the send window, and the verdict — which offer
 * is the decision's value now and why, and whether a change is held.
 *
 * The value and the hold are the engine's own: `stepDecision` on a copy of
 * the customer's decision states, once as the decision is and once without
 * its window (what would be sent were the window open). Each offer's outcome
 * retraces the same ranking walk (ranking, then `capsFreeAt` for each offer);
 * the customer's state is never changed.
 */
import { clockText, durationText } from '../dsl/plan-text.js';
import type { CapPlan, OfferPlan, Plan, Value } from '../dsl/plan.js';
import { isTimeZone } from '../dsl/time-zone.js';
import type { CustomerState } from './customer-state.js';
import { capsFreeAt, decisionVersion, lastOffer, recordedSends, stepDecision, windowZone, type DecisionState, type OfferValue } from './decision.js';
import { nextOpening, windowOpen } from './send-window.js';

/** The why tree of one expression, as customer-why.ts makes it. */
interface ExplainedNode { value: Value; nextChangeAt: string | null }

export interface CapWhy {
  /** `3 per 7 days` */
  cap: string;
  /** Sends it counts now. */
  sent: number;
  full: boolean;
  /** When a full cap lets one more out; null when not full. */
  freesAt: string | null;
}

export interface OfferWhy<Node> {
  name: string;
  /** The `eligible` condition's value (true without one). */
  eligible: boolean | null;
  eligibility: Node | null;
  /** Null: no number, so not eligible. */
  score: number | null;
  scoreExpression: Node;
  /** 1 for the highest score among the eligible offers; null when not eligible. */
  rank: number | null;
  caps: CapWhy[];
  /**
   * What the ranking walk did with it: `chosen` (sendable now), `stays` (the
   * one last sent), `passed over` (a cap is full), `not reached` (a better
   * one was taken), `not eligible`.
   */
  outcome: 'chosen' | 'stays' | 'passed over' | 'not reached' | 'not eligible';
}

export interface DecisionWhy<Node> {
  name: string;
  /** The offer the last decision event named (null: none, or none sent yet) and its version (0: none). */
  lastSent: string | null;
  version: number;
  /** The decision's value now: the offer it sends, or keeps. */
  value: string | null;
  /** In words: why the value is what it is, and whether a change is held. */
  verdict: string;
  offers: OfferWhy<Node>[];
  caps: CapWhy[];
  window: { between: string; zone: string; zoneFrom: 'rule' | 'trait' | 'default'; open: boolean; opensAt: string | null } | null;
  /** A change the window holds until this instant; null when none is held. */
  heldUntil: string | null;
}

/** How customer-why.ts evaluates an expression as a tree, and a trait's value. */
export interface DecisionExplainer<Node extends ExplainedNode> {
  explain(e: NonNullable<OfferPlan['eligible']>): Node;
  trait(name: string): Value;
}

export function decisionsWhy<Node extends ExplainedNode>(plan: Plan, state: CustomerState, now: number, explainer: DecisionExplainer<Node>): DecisionWhy<Node>[] {
  const offers = plan.offers ?? [];
  const decisions = plan.decisions ?? [];
  const states = decisions.map((d) => state.s[d.slot] as DecisionState | undefined);
  return decisions.map((d, k) => {
    const last = lastOffer(states[k]);
    const explained = d.offers.map((i) => {
      const o = offers[i]!;
      const eligibility = o.eligible ? explainer.explain(o.eligible) : null;
      const scoreExpression = explainer.explain(o.score);
      const score = typeof scoreExpression.value === 'number' && Number.isFinite(scoreExpression.value) ? scoreExpression.value : null;
      const eligible = eligibility === null ? true : eligibility.value === true ? true : eligibility.value === false ? false : null;
      return { o, eligibility, scoreExpression, score, eligible };
    });
    const values: OfferValue[] = explained.map((x) => ({ eligible: x.eligible === true && x.score !== null, score: x.score ?? 0 }));
    const ranked = explained.map((x, i) => ({ i, x })).filter(({ i }) => values[i]!.eligible)
      .sort((a, b) => values[b.i]!.score - values[a.i]!.score || a.i - b.i);
    const outcomes = new Map<number, OfferWhy<Node>['outcome']>();
    let walked: string | null = null;
    for (const { i, x } of ranked) {
      if (walked !== null) { outcomes.set(i, 'not reached'); continue; }
      if (x.o.name === last) { outcomes.set(i, 'stays'); walked = x.o.name; continue; }
      if (capsFreeAt(d, k, x.o, states, now) <= now) { outcomes.set(i, 'chosen'); walked = x.o.name; continue; }
      outcomes.set(i, 'passed over');
    }
    const w = d.window;
    let window: DecisionWhy<Node>['window'] = null;
    let zone = 'UTC';
    if (w) {
      const traitValue = w.zoneTrait !== undefined ? explainer.trait(w.zoneTrait) : null;
      zone = windowZone(w, traitValue, isTimeZone);
      const open = Number.isFinite(now) ? windowOpen(w, zone, now) : true;
      window = {
        between: `${clockText(w.startMinute)} and ${clockText(w.endMinute)}`, zone,
        zoneFrom: w.zone !== undefined ? 'rule' : typeof traitValue === 'string' && zone === traitValue ? 'trait' : 'default',
        open, opensAt: open ? null : new Date(nextOpening(w, zone, now)).toISOString(),
      };
    }
    // The engine's step on copies: what it sends now, and what it would send were the window open.
    const copies = () => states.map((s) => (s === undefined ? undefined : [...s]));
    const unwindowed = stepDecision({ ...d, window: undefined }, k, offers, values, copies(), zone, now);
    const step = w && window?.open === false ? stepDecision(d, k, offers, values, copies(), zone, now) : unwindowed;
    const value = unwindowed.event ? unwindowed.event.offer : last;
    const heldUntil = unwindowed.event && !step.event ? window!.opensAt : null;
    const offersWhy: OfferWhy<Node>[] = explained.map((x, i) => ({
      name: x.o.name, eligible: x.eligible, eligibility: x.eligibility, score: x.score, scoreExpression: x.scoreExpression,
      rank: values[i]!.eligible ? ranked.findIndex((r) => r.i === i) + 1 : null,
      caps: x.o.caps.map((cap) => capWhy(cap, sendsOf(states, x.o.name), now)),
      outcome: outcomes.get(i) ?? 'not eligible',
    }));
    return {
      name: d.name, lastSent: last, version: decisionVersion(states[k]), value,
      verdict: verdict(value, last, offersWhy, heldUntil),
      offers: offersWhy, caps: d.caps.map((cap) => capWhy(cap, recordedSends(states[k]).map((s) => s.at), now)),
      window, heldUntil,
    };
  });
}

/** The instants of the sends naming `offer`, in every decision. */
function sendsOf(states: readonly (DecisionState | undefined)[], offer: string): number[] {
  return states.flatMap((s) => recordedSends(s).filter((x) => x.offer === offer).map((x) => x.at));
}

function capWhy(cap: CapPlan, sends: number[], now: number): CapWhy {
  const counted = sends.filter((at) => at > now - cap.windowMs).sort((a, b) => a - b);
  const full = counted.length >= cap.count;
  return {
    cap: `${cap.count} per ${durationText(cap.windowMs)}`, sent: counted.length, full,
    freesAt: full ? new Date(counted[counted.length - cap.count]! + cap.windowMs).toISOString() : null,
  };
}

function verdict<Node>(value: string | null, last: string | null, offers: OfferWhy<Node>[], heldUntil: string | null): string {
  const passed = offers.filter((o) => o.outcome === 'passed over').map((o) => {
    const full = o.caps.find((c) => c.full);
    return full ? `${o.name} (its cap ${full.cap} is full until ${full.freesAt})` : `${o.name} (the decision's cap is full)`;
  });
  const passedText = passed.length > 0 ? `; passed over: ${passed.join(', ')}` : '';
  if (value === last) {
    if (value === null) return `no offer${offers.some((o) => o.rank !== null) ? ' can be sent' : ' is eligible'}${passedText}`;
    return `${value} stays: it was sent last and no better offer can go${passedText}`;
  }
  const what = value === null ? '"offer": null (none eligible any more)' : `${value}, the best eligible offer that can go`;
  if (heldUntil !== null) return `${what}: held by the send window until ${heldUntil}${passedText}`;
  return `${what}: due to be sent${passedText}`;
}

