/**
 * PartitionTask: the rules running over one input partition.
 *
 * It owns the partition's store, clock and timers, and turns batches of
 * input records into enter/leave events. The same class serves `aud replay`
 * (memory store, event clock) and `aud run` (RocksDB store, wall clock once
 * caught up): the caller decides when the clock moves.
 *
 * Life of a batch:
 *  1. decode every record; bad ones are returned with their reason;
 *  2. read, in one bulk call, every customer the batch touches and every
 *     customer whose timer falls due before the batch's latest event time;
 *  3. for each event, in order: fire the timers due up to its time, each
 *     with `now` at its due instant (so a purchase aged out of `over 7 days`
 *     leaves on the day it should, before the next event is applied); then
 *     apply the event to the slots it feeds and re-evaluate only the
 *     audiences those changes can affect (rule-graph.ts; and those that use `in` an audience
 *     that changed), then the decisions when what their offers read changed (decision.ts);
 *  4. return the enter/leave and decision events.
 * Nothing is written until `commit()` (or `prepareCommit` then
 * `writeCommit`, with batches allowed in between), which writes every
 * changed customer, the timer index changes and the partition meta as one
 * atomic batch. The caller commits only after the output of the batches it
 * covers is acknowledged, so a crash replays a batch rather than losing its
 * output (at-least-once).
 *
 * The record cache: customers stay decoded in memory after the commit that
 * wrote them, up to `cacheCustomers` (trimmed at each prepareCommit), least
 * recently used out first. Activity is skewed (a few customers send most
 * events), so most batches find most of their customers here and decode
 * nothing. The cache only ever holds what the
 * store holds plus what changed since the last written commit: a task whose
 * commit failed is thrown away with its cache and opened again from the store.
 *
 * The clock never moves backwards. A late event (older than `now`) is applied
 * at `now`: it counts in the windows that still contain its time and is
 * ignored by the others.
 */
import type { AggregateSlot, Plan, PExpr, StepPlan, Value } from '../dsl/plan.js';
import { addToAggregate, aggregateAtBound, aggregateValue, contribution, expireAggregate, UNCHANGED } from './aggregate.js';
import { ClockGuard, type ClockGuardOptions } from './clock-guard.js';
import { AudienceList, AudienceLists } from './audience-list.js';
import { afterRead, CustomerScope, lengthBeforeRead } from './customer-scope.js';
import { customerWhy, type CustomerWhy } from './customer-why.js';
import { CustomerStateCodec, isMember, membershipsChanged, membershipVersion, slotChanged, type CustomerState } from './customer-state.js';
import type { EvalScope, SlotComparison } from './evaluate.js';
import { RecordDecoder, type Cause, type Decoded, type EngineEvent, type ForgetRecord, type InputRecord } from './input-record.js';
import { ErasedIdentifiers } from './identity/erased-identifiers.js';
import { IdentityGraph, identifiersByField, type Profile, type Resolution } from './identity/identity-graph.js';
import { mergeCustomerState } from './identity/merge-customers.js';
import type { ChangeReason, DecisionEvent, OutputEvent } from './output-event.js';
import { BatchReader, causeAt, type RecordBatch } from './record-batch.js';
import { flipsOnlyLater, RuleGraph, type CompiledAudience } from './rule-graph.js';
import { stepDwell, type DwellState } from './dwell.js';
import { decisionVersion, lastOffer, stepDecision, storedWake, windowZone, withWake, type DecisionState, type OfferValue } from './decision.js';
import { isTimeZone } from '../dsl/time-zone.js';
import { addToAbsence, addToSequence, type AbsenceState, type SequenceState } from './sequence.js';
import { CUSTOMER_PREFIX, customerKey, ERASED_PREFIX, META_KEY, parseTimerKey, PLAN_KEY, PROFILE_PREFIX, SCRUB_KEY, TIMER_PREFIX, timerKey, type PartitionMeta } from './state-keys.js';
import { compareUtf8 } from './state/memory-store.js';
import type { PartitionStore, StoreWrite } from './state/store.js';
import { TimerQueue } from './timer-queue.js';
import { recordTransition, transitionsOf, type Transition } from './transition-history.js';

/** A record the rules could not take, by its position in the batch given to process(). */
export interface RefusedRecord {
  index: number;
  reason: string;
  /** Refused for its time (clock-guard.ts), not for its content. */
  clock?: boolean;
}

/** A refused record with the record itself, as its reader reports it. */
export interface BadRecord extends RefusedRecord {
  record: InputRecord;
}

export interface BatchResult {
  outputs: OutputEvent[];
  bad: RefusedRecord[];
  /** Records of event types the rules do not declare. */
  skipped: number;
  applied: number;
  /**
   * Records of the batch taken, from its start: all of them, unless
   * process() was told to stop before an event later than a given instant
   * (a rule change due then); the caller gives the rest again.
   */
  consumed: number;
  /** One per `aud.forget` record applied: what the runtime logs as its receipt. */
  erasures?: ErasureReceipt[];
  /** Events that merged profiles or changed a profile's id. */
  merges?: number;
}

/** What an erasure did, without the identifier in clear (customer-lifecycle.md, section 3). */
export interface ErasureReceipt {
  /** The instant of the erasure (ISO). */
  at: string;
  /** The record that asked for it. */
  cause?: Cause;
  /** The customers (profiles) erased: 0 when the record named no one known. */
  customers: number;
  /** Identifiers forgotten with them (identity sources; for a keyed source, the key). */
  identifiers: number;
  /** Leave events emitted (reason erasure). */
  leaves: number;
}

/** What the query API shows of one customer: values at the partition's clock. */
export interface CustomerView {
  customer: string;
  /** The partition's clock, at which traits and scores were computed; null before its first event. */
  asOf: string | null;
  traits: Record<string, Value>;
  scores: Record<string, Value>;
  /** Every audience: inside or not, and the version of the last enter/leave (0: never entered). */
  audiences: Record<string, { member: boolean; version: number }>;
  /** Every decision: the offer its last event named (null: none, or no event yet) and that event's version (0: none). */
  decisions: Record<string, { offer: string | null; version: number }>;
  eventsApplied: number;
  /**
   * The `distinct` and `top` aggregates (by their text) whose state holds its
   * most values for this customer: `distinct` reads a lower bound, `top`
   * ranks the most recently seen values. Empty when every value is exact.
   */
  approximate: string[];
  /** The customer's last enter/leave transitions, newest first (transition-history.ts), `at` as ISO text. */
  transitions: (Omit<Transition, 'at'> & { at: string })[];
  /** An identity source's profile: its identifiers by field, most trusted field first, each field's values in the order seen. */
  identifiers?: Record<string, string[]>;
}

interface CachedCustomer {
  state: CustomerState;
  /** The timer as stored, so that commit can move its index entry. */
  persistedTimer: number | null;
}

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

export interface PartitionTaskOptions {
  /** Decoded customers kept across commits (default 2,000). 0 keeps only the batch in flight. */
  cacheCustomers?: number;
  /** Records too far ahead of the machine's or the partition's clock are bad records (clock-guard.ts). */
  clockGuard?: ClockGuardOptions;
}

const DEFAULT_CACHE_CUSTOMERS = 2_000;

export class PartitionTask {
  private now: number;
  private readonly clockGuard: ClockGuard;
  private nextOffsetValue: bigint | undefined;
  private readonly timers = new TimerQueue();
  /** Decoded customers: those of the batch in flight, then the most recently used, in use order (Map order). */
  private readonly cache = new Map<string, CachedCustomer>();
  private readonly cacheCustomers: number;
  /** Customers changed since the last prepared commit: what the next commit writes. */
  private changed = new Set<string>();
  /**
   * The customers of the commit prepared and not yet written, with the timer
   * each was written with: they stay in the cache until it is written, and
   * later batches may go on changing them meanwhile.
   */
  private committing: Map<string, number | null> | undefined;
  private readonly decoder: RecordDecoder;
  private readonly graph: RuleGraph;
  private readonly codec: CustomerStateCodec;
  /** The rules' audience list, to be written with the next commit when the store does not hold it yet. */
  private audienceListToWrite: AudienceList | undefined;
  /** Whether the next commit records the plan (PLAN_KEY): the store holds another, or none. */
  private planToWrite = false;
  /** A rule change to this plan is in progress: the plan is recorded with its last commit (holdPlanRecord). */
  private planHeld = false;
  /** applyRuleChange's customers and the next to do, across its calls, and the audiences it evaluates. */
  private applying: { customers: string[]; next: number; audiences: number[] } | undefined;
  /** Members per audience, kept with every enter and leave and stored in the partition meta. */
  private readonly sizes = new Map<string, number>();
  // Scratch reused by every event and timer (one customer at a time), so
  // that the hot path allocates nothing for them.
  /** Audiences to evaluate for the customer at hand (1: dirty), and how many. */
  private readonly dirty: Uint8Array;
  private dirtyCount = 0;
  private readonly scope: CustomerScope;
  /** The ISO text of `atText`, the instant of the enter/leave events being made. */
  private atText = '';
  private atTextFor = Number.NaN;
  private readonly filterScope = new FilterScope();
  private largestState = 0;
  private atBound = 0;
  /** A rule change's states being built from history (startBuild), until applyRuleChange. */
  private build: StateBuild | undefined;
  /** The rules have decisions (decision.ts): a customer's timer counts their wakes too. */
  private readonly hasDecisions: boolean;
  /** Scratch: the customer's decision states, by decision index. */
  private readonly decisionStates: (DecisionState | undefined)[];
  /** Something the customer's decisions read has changed since they were last evaluated (RuleGraph.decisionSlots). */
  private decisionsDirty = false;
  /** An `identity` source's profiles (identity/identity-graph.ts); undefined for a keyed source. */
  readonly identities: IdentityGraph | undefined;
  /** Customers erased, as salted hashes of their identifiers with the instant (identity/erased-identifiers.ts). */
  readonly erased: ErasedIdentifiers;

  private constructor(readonly plan: Plan, private readonly store: PartitionStore, meta: PartitionMeta | undefined, lists: AudienceLists, listStored: boolean, options: PartitionTaskOptions) {
    this.codec = new CustomerStateCodec(lists, plan.slots.map((slot) => slot.id));
    if (!listStored) this.audienceListToWrite = lists.current;
    this.cacheCustomers = options.cacheCustomers ?? DEFAULT_CACHE_CUSTOMERS;
    this.now = meta?.now ?? Number.NEGATIVE_INFINITY;
    for (const [audience, n] of Object.entries(meta?.sizes ?? {})) this.sizes.set(audience, n);
    this.nextOffsetValue = meta?.nextOffset !== undefined ? BigInt(meta.nextOffset) : undefined;
    this.decoder = new RecordDecoder(plan);
    this.clockGuard = new ClockGuard(options.clockGuard ?? {});
    this.graph = new RuleGraph(plan);
    this.dirty = new Uint8Array(plan.audiences.length);
    this.scope = new CustomerScope(plan, this.graph);
    this.hasDecisions = this.graph.decisions.length > 0;
    this.decisionStates = this.graph.decisions.map(() => undefined);
    this.identities = plan.source.identity ? new IdentityGraph(plan.source.identity, meta?.identity) : undefined;
    this.erased = meta?.erasureSalt !== undefined ? new ErasedIdentifiers(Buffer.from(meta.erasureSalt, 'base64')) : new ErasedIdentifiers();
  }

  /**
   * The plan that built a store's state, as its last commit recorded it;
   * undefined for an empty store or one written before plans were recorded.
   * Rules other than these must not take the state over as it is: they
   * deploy on it (engine/deployment.ts).
   */
  static async storedPlan(store: PartitionStore): Promise<Plan | undefined> {
    const [bytes] = await store.getMany([PLAN_KEY]);
    return bytes ? (JSON.parse(textDecoder.decode(bytes)) as Plan) : undefined;
  }

  /** Open a partition: read its meta and rebuild the timer index from the store. */
  static async open(plan: Plan, store: PartitionStore, options: PartitionTaskOptions = {}): Promise<PartitionTask> {
    const [metaBytes, planBytes] = await store.getMany([META_KEY, PLAN_KEY]);
    const meta = metaBytes ? (JSON.parse(textDecoder.decode(metaBytes)) as PartitionMeta) : undefined;
    const lists = new AudienceLists(new AudienceList(plan.audiences.map((a) => a.name)));
    await lists.load(store);
    const task = new PartitionTask(plan, store, meta, lists, lists.has(lists.current.id), options);
    // The plan goes with the next commit when the store holds another (a deployment) or none.
    const stored = planBytes ? (JSON.parse(textDecoder.decode(planBytes)) as { fingerprint?: string }).fingerprint : undefined;
    if (stored !== plan.fingerprint) task.planToWrite = true;
    for await (const [key] of store.scan(TIMER_PREFIX)) {
      const { due, customer } = parseTimerKey(key);
      task.timers.push(due, customer);
    }
    if (task.identities) for await (const [, value] of store.scan(PROFILE_PREFIX)) task.identities.restore(value);
    for await (const [key, value] of store.scan(ERASED_PREFIX)) task.erased.restore(key, value);
    // A store written before sizes were kept: count once; the next commit stores them.
    if (meta && !meta.sizes) {
      for await (const [, value] of store.scan(CUSTOMER_PREFIX)) {
        const state = task.codec.decode(value);
        plan.audiences.forEach((a, i) => { if (isMember(state, i)) task.sizes.set(a.name, (task.sizes.get(a.name) ?? 0) + 1); });
      }
    }
    return task;
  }

  /** Members per audience in this partition, as of the last batch processed. */
  audienceSizes(): Record<string, number> {
    return Object.fromEntries(this.plan.audiences.map((a) => [a.name, this.sizes.get(a.name) ?? 0]));
  }

  /**
   * The profile an identifier names (customer-lifecycle.md, section 2): the
   * one whose id it is, else the one holding it as any of its identifiers;
   * undefined for a keyed source, or an identifier no profile holds.
   */
  profileOf(identifier: string): Profile | undefined {
    return this.identities && (this.identities.profile(identifier) ?? this.identities.find(identifier));
  }

  /** A customer's traits, scores and memberships now, by its id or (identity sources) any identifier; undefined for a customer this partition never saw. */
  async view(identifier: string): Promise<CustomerView | undefined> {
    const profile = this.profileOf(identifier);
    const customer = profile?.id ?? identifier;
    const view = await this.readCustomer(customer, (state) => {
      const scope = new CustomerScope(this.plan, this.graph);
      scope.reset(this.now, state);
      const view: CustomerView = {
        customer, asOf: Number.isFinite(this.now) ? new Date(this.now).toISOString() : null,
        traits: {}, scores: {}, audiences: {}, decisions: {}, eventsApplied: state.n, approximate: [],
        transitions: this.recentTransitions(state).map((t) => ({ ...t, at: new Date(t.at).toISOString() })),
      };
      this.plan.slots.forEach((slot, i) => {
        if (slot.kind === 'aggregate' && aggregateAtBound(slot, state.s[i], this.now)) view.approximate.push(slot.text);
      });
      for (const t of this.plan.traits) (t.kind === 'score' ? view.scores : view.traits)[t.name] = scope.trait(t.name);
      this.plan.audiences.forEach((a, i) => {
        view.audiences[a.name] = { member: isMember(state, i), version: membershipVersion(state, i) };
      });
      for (const d of this.plan.decisions ?? []) {
        const ds = state.s[d.slot] as DecisionState | undefined;
        view.decisions[d.name] = { offer: lastOffer(ds), version: decisionVersion(ds) };
      }
      return view;
    });
    if (view && profile) view.identifiers = identifiersByField(profile, this.plan.source.identity!.fields.map((f) => f.name));
    return view;
  }

  /**
   * `read` of the customer's state: the one the record cache keeps, else the
   * one last committed; undefined for a customer this partition never saw.
   * Reading may drop what left a window (aggregateChangesWhenRead): in a
   * state the cache keeps, those slots are marked changed for the next commit.
   */
  private async readCustomer<T>(customer: string, read: (state: CustomerState) => T): Promise<T | undefined> {
    const cached = this.cache.get(customer)?.state;
    const state = cached ?? await this.committedState(customer);
    // A state with no event applied: loaded for a stale timer, or erased.
    if (!state || state.n === 0) return undefined;
    const result = read(state);
    if (cached) this.graph.changesWhenRead.forEach((changes, i) => { if (changes === 1) slotChanged(cached, i); });
    return result;
  }

  /** A customer's last enter/leave transitions, newest first. */
  recentTransitions(state: CustomerState): Transition[] {
    return transitionsOf(state.h, this.codec.audienceNames);
  }

  /**
   * Why the customer is in or out of each audience now (engine/customer-why.ts),
   * with `partition` null: the caller that knows the partition's number sets
   * it. Undefined for a customer this partition never saw.
   */
  async why(identifier: string): Promise<CustomerWhy | undefined> {
    const customer = this.profileOf(identifier)?.id ?? identifier;
    return this.readCustomer(customer, (state) =>
      customerWhy(customer, { plan: this.plan, state, now: this.now, partition: null, graph: this.graph, transitions: this.recentTransitions(state) }));
  }

  /** A customer's state as last committed, decoded afresh (the caller's to read); undefined when none was. */
  async committedState(customer: string): Promise<CustomerState | undefined> {
    const [bytes] = await this.store.getMany([customerKey(customer)]);
    return bytes ? this.codec.decode(bytes) : undefined;
  }

  /** The partition's clock (epoch ms); -Infinity before the first event. */
  get clock(): number { return this.now; }

  /** Offset of the next input record to apply, as last committed; records below it are already in the state. */
  get nextOffset(): bigint | undefined { return this.nextOffsetValue; }

  get pendingTimers(): number { return this.timers.size; }

  /** Customers changed since the last prepared commit: what the next commit writes. */
  get pendingCustomers(): number { return this.changed.size; }

  /** The largest customer state a commit has written since the partition was opened, in bytes. */
  get largestStateBytes(): number { return this.largestState; }

  /** Events added to a `distinct` or `top` state holding its most values, since the partition was opened. */
  get boundedAdds(): number { return this.atBound; }

  /**
   * Apply a batch. With `stop`, stop at its first event later than
   * `stop.after` (`consumed` says where): the rules change then, and the
   * records from there on are for the new rules. `stop.decoder`, the new
   * rules' decoder, finds the time of records of types only they declare.
   */
  async process(batch: RecordBatch, stop?: { after: number; decoder?: RecordDecoder }): Promise<BatchResult> {
    const result: BatchResult = { outputs: [], bad: [], skipped: 0, applied: 0, consumed: batch.count };
    const events: (EngineEvent | Erasure | undefined)[] = [];
    /** Events that merged profiles or changed a profile's id (identity sources), with what they did. */
    const merges = new Map<EngineEvent, ProfileMerge>();
    let latest = this.now;
    const touched = new Set<string>();
    const guard = this.clockGuard.active ? this.clockGuard : undefined;
    guard?.startBatch(this.now);
    const records = new BatchReader(batch);
    const readsKey = this.decoder.readsKey;
    for (let index = 0; index < batch.count; index++) {
      const d = this.decoder.decode(records.value(index), readsKey ? records.key(index) : undefined, records.timestamp(index));
      if (stop && stopsAt(d, stop, records, index, readsKey)) {
        result.consumed = index;
        break;
      }
      const refused = d.kind === 'event' ? guard?.refuse(d.event.time) : d.kind === 'forget' ? guard?.refuse(d.forget.time) : undefined;
      if (refused !== undefined) {
        events.push(undefined);
        result.bad.push({ index, reason: refused, clock: true });
      } else if (d.kind === 'event') {
        const cause = causeAt(batch, index);
        if (cause) d.event.cause = cause;
        // Identities resolve in record order, ahead of the events' application: the graph does not depend on the rules' state.
        if (d.event.ids) {
          const resolved = this.identities!.resolve(d.event.ids);
          d.event.customer = resolved.customer;
          if (resolved.merge) {
            merges.set(d.event, resolved.merge);
            touched.add(resolved.merge.survivor);
            for (const a of resolved.merge.absorbed) touched.add(a);
          }
        }
        events.push(d.event);
        touched.add(d.event.customer);
        if (d.event.time > latest) latest = d.event.time;
      } else if (d.kind === 'forget') {
        const erasure = this.resolveErasure(d.forget);
        const cause = causeAt(batch, index);
        if (cause) erasure.cause = cause;
        events.push(erasure);
        for (const c of erasure.customers) touched.add(c);
        if (d.forget.time > latest) latest = d.forget.time;
      } else {
        events.push(undefined);
        if (d.kind === 'bad') result.bad.push({ index, reason: d.reason });
        else result.skipped++;
      }
    }
    for (const c of this.timers.customersDueBy(latest)) touched.add(c);
    await this.load(touched);

    for (const e of events) {
      if (!e) continue;
      this.advanceClock(e.time, result.outputs);
      if ('erase' in e) (result.erasures ??= []).push(this.erase(e, result.outputs));
      else {
        const merge = merges.get(e);
        if (merge) this.mergeProfiles(merge, e.customer, e.cause, result.outputs);
        this.applyEvent(e, result.outputs);
      }
      result.applied++;
    }
    if (merges.size > 0) result.merges = merges.size;
    return result;
  }

  /**
   * The customers an `aud.forget` record names, taken out of the identity
   * graph at once (later records of the batch resolve without them), and
   * remembered as erased at its time.
   */
  private resolveErasure(forget: ForgetRecord): Erasure {
    if (forget.ids) {
      const profiles = this.identities!.forget(forget.ids);
      for (const p of profiles) for (const [field, value] of p.identifiers) this.erased.add(field, value, forget.time);
      return { erase: true, customers: profiles.map((p) => p.id), identifiers: profiles.reduce((n, p) => n + p.identifiers.length, 0), time: forget.time };
    }
    this.erased.add(0, forget.customer!, forget.time);
    return { erase: true, customers: [forget.customer!], identifiers: 1, time: forget.time };
  }

  /**
   * An erasure at the clock (customer-lifecycle.md, section 3): each
   * customer leaves every audience it is in (reason erasure), then its
   * state, transitions and timer are gone; the next commit deletes them
   * from the store (and so from the changelog).
   */
  private erase(erasure: Erasure, out: OutputEvent[]): ErasureReceipt {
    const before = out.length;
    let customers = 0;
    for (const customer of erasure.customers) {
      const c = this.cached(customer);
      if (c.state.n === 0) continue; // never seen, or erased already
      this.leaveAll(customer, c.state, 'erasure', erasure.cause, out);
      this.clearCustomer(customer, c);
      customers++;
    }
    const receipt: ErasureReceipt = { at: this.isoNow(), customers, identifiers: customers > 0 ? erasure.identifiers : 0, leaves: out.length - before };
    if (erasure.cause) receipt.cause = erasure.cause;
    return receipt;
  }

  /**
   * Profiles merged at the clock, or a profile's id changed
   * (docs/decisions/2026-12-05-identities-and-erasure.md): the absorbed
   * profiles leave every audience, their states merge into the survivor's;
   * under a new id the survivor's old id leaves everything and the state
   * moves; then every audience of the merged customer is evaluated again,
   * all with reason merge.
   */
  private mergeProfiles(merge: ProfileMerge, into: string, cause: Cause | undefined, out: OutputEvent[]): void {
    const survivor = this.cached(merge.survivor);
    const state = survivor.state;
    for (const absorbed of merge.absorbed) {
      const c = this.cached(absorbed);
      this.leaveAll(absorbed, c.state, 'merge', cause, out);
      mergeCustomerState(this.plan, state, c.state);
      this.clearCustomer(absorbed, c);
    }
    let target = survivor;
    if (into !== merge.survivor) {
      this.leaveAll(merge.survivor, state, 'merge', cause, out);
      // The new id starts with no memberships, versions or transitions of its own.
      state.m.fill(0);
      state.h = undefined;
      state.hOwned = false;
      membershipsChanged(state);
      target = this.cached(into);
      this.codec.release(target.state);
      target.state = state;
      survivor.state = this.codec.empty();
      this.changed.add(merge.survivor);
    }
    // Wakes and the timer are found again by evaluating everything.
    state.w.fill(Infinity);
    membershipsChanged(state);
    state.t = null;
    this.changed.add(into);
    this.dirty.fill(1);
    this.dirtyCount = this.dirty.length;
    if (this.hasDecisions) this.decisionsDirty = true;
    this.evaluateCustomer(into, target, 'merge', cause, out);
  }

  /** The customer leaves every audience it is in, in plan order, now. */
  private leaveAll(customer: string, cs: CustomerState, reason: ChangeReason, cause: Cause | undefined, out: OutputEvent[]): void {
    this.plan.audiences.forEach((a, i) => {
      const prev = cs.m[i]!;
      if (prev <= 0) return;
      const version = prev + 1;
      cs.m[i] = -version;
      membershipsChanged(cs);
      this.sizes.set(a.name, (this.sizes.get(a.name) ?? 0) - 1);
      const event: OutputEvent = { type: 'leave', audience: a.name, customer, at: this.isoNow(), version, reason };
      if (cause) event.cause = cause;
      recordTransition(cs, i, false, this.now, version, reason, cause);
      out.push(event);
    });
  }

  /** Nothing left of the customer: the next commit deletes its state and timer. */
  private clearCustomer(customer: string, c: CachedCustomer): void {
    c.state = this.codec.empty();
    this.changed.add(customer);
  }

  /** Move the clock to `t` (if later), firing every timer due by then, in order. */
  async advanceTo(t: number): Promise<OutputEvent[]> {
    const outputs: OutputEvent[] = [];
    await this.load(this.timers.customersDueBy(t));
    this.advanceClock(t, outputs);
    return outputs;
  }

  /**
   * Every change since the last commit, as one atomic batch, not yet written:
   * the caller may first copy it to a changelog. `nextOffset` is the input
   * offset the state will then include.
   */
  prepareCommit(nextOffset?: bigint): StoreWrite[] {
    if (this.committing) throw new Error('internal error: prepareCommit while the previous commit is not written yet');
    this.evictBeyondCache();
    const batch: StoreWrite[] = [];
    const committing = new Map<string, number | null>();
    for (const customer of this.changed) {
      const c = this.cached(customer);
      if (c.state.n === 0) {
        // Erased, or merged into another: no state, no timer.
        batch.push({ type: 'del', key: customerKey(customer) });
        if (c.persistedTimer !== null) batch.push({ type: 'del', key: timerKey(c.persistedTimer, customer) });
        committing.set(customer, null);
        continue;
      }
      const value = this.codec.encode(c.state);
      if (value.length > this.largestState) this.largestState = value.length;
      batch.push({ type: 'put', key: customerKey(customer), value });
      if (c.persistedTimer !== c.state.t) {
        if (c.persistedTimer !== null) batch.push({ type: 'del', key: timerKey(c.persistedTimer, customer) });
        if (c.state.t !== null) batch.push({ type: 'put', key: timerKey(c.state.t, customer), value: new Uint8Array(0) });
      }
      committing.set(customer, c.state.t);
    }
    this.committing = committing;
    this.changed = new Set();
    if (nextOffset !== undefined) this.nextOffsetValue = nextOffset;
    if (this.audienceListToWrite) {
      batch.push({ type: 'put', key: this.audienceListToWrite.key, value: this.audienceListToWrite.encode() });
      this.audienceListToWrite = undefined;
    }
    if (this.planToWrite && !this.planHeld) {
      batch.push({ type: 'put', key: PLAN_KEY, value: textEncoder.encode(JSON.stringify(this.plan)) });
      this.planToWrite = false;
    }
    if (this.identities) for (const w of this.identities.takeWrites()) batch.push(w);
    const erased = this.erased.takeWrites();
    for (const w of erased) batch.push(w);
    // The store's files still hold what was deleted until they are rewritten: the next open does it (rocksdb-store.ts).
    if (erased.length > 0) batch.push({ type: 'put', key: SCRUB_KEY, value: new Uint8Array(0) });
    const meta: PartitionMeta = { now: this.now, fingerprint: this.plan.fingerprint, sizes: Object.fromEntries(this.sizes) };
    if (this.identities) meta.identity = this.identities.counters;
    if (this.erased.size > 0) meta.erasureSalt = Buffer.from(this.erased.salt).toString('base64');
    if (this.nextOffsetValue !== undefined) meta.nextOffset = this.nextOffsetValue.toString();
    batch.push({ type: 'put', key: META_KEY, value: textEncoder.encode(JSON.stringify(meta)) });
    return batch;
  }

  /**
   * Write a batch from prepareCommit (with anything the caller adds). Batches
   * may be processed between the two: what they change goes into the next
   * commit.
   */
  async writeCommit(batch: readonly StoreWrite[]): Promise<void> {
    const committing = this.committing;
    if (!committing) throw new Error('internal error: writeCommit without a prepared commit');
    await this.store.write(batch);
    for (const [customer, timer] of committing) this.cached(customer).persistedTimer = timer;
    this.committing = undefined;
  }

  /**
   * The record cache back to `cacheCustomers`, least recently used out first
   * (Map order is use order: load() moves a hit to the end). Only customers
   * whose state is in the store go: never one changed since the last commit.
   * Run where no batch is in flight and no commit is unwritten (at
   * prepareCommit), so that nothing a batch loaded disappears under it.
   */
  private evictBeyondCache(): void {
    let excess = this.cache.size - this.cacheCustomers;
    if (excess <= 0) return;
    for (const customer of this.cache.keys()) {
      if (excess <= 0) break;
      if (this.changed.has(customer)) continue;
      this.codec.release(this.cache.get(customer)!.state);
      this.cache.delete(customer);
      excess--;
    }
  }

  /** prepareCommit and writeCommit in one, where there is no changelog (replay). */
  async commit(nextOffset?: bigint): Promise<void> {
    await this.writeCommit(this.prepareCommit(nextOffset));
  }

  /**
   * A rule change, old rules' side: every member of an audience the new
   * rules do not have leaves it now (reason rule_change). Run on a committed
   * task whose clock is at the change; the caller commits after.
   */
  async leaveAudiences(names: readonly string[], out: OutputEvent[]): Promise<void> {
    const indexes = names.map((n) => this.graph.audienceByName.get(n)!);
    if (indexes.length === 0) return;
    for await (const customers of this.storedCustomers()) {
      await this.load(customers);
      for (const customer of customers) {
        const cs = this.cached(customer).state;
        for (const i of indexes) {
          const prev = cs.m[i]!;
          if (prev <= 0) continue;
          cs.m[i] = -(prev + 1);
          membershipsChanged(cs);
          this.changed.add(customer);
          const name = this.plan.audiences[i]!.name;
          this.sizes.set(name, (this.sizes.get(name) ?? 0) - 1);
          recordTransition(cs, i, false, this.now, prev + 1, 'rule_change', undefined);
          out.push({ type: 'leave', audience: name, customer, at: this.isoNow(), version: prev + 1, reason: 'rule_change' });
        }
      }
      // Members changed stay for the commit; the others need not all be in memory at once.
      this.evictBeyondCache();
    }
    for (const name of names) this.sizes.delete(name);
  }

  /**
   * A rule change, new rules' side. Until the change is applied to every
   * customer (applyRuleChange), commits do not record this plan as the one
   * that built the store: a deployment cut short by a crash is done again
   * from the start when the partition opens (the old plan is still the
   * store's), and each of its steps may be done twice.
   */
  holdPlanRecord(): void {
    this.planHeld = true;
  }

  /**
   * Start building the states the old rules did not have (`slots`) from the
   * history (buildFrom), each event applied at its own time as if these
   * rules had been running then. No audience is evaluated:
   * applyRuleChange() does that once, at the change. Events before `from`
   * cannot reach the states' values at the change (rule-change.ts,
   * historyNeeded) and are passed over; so are events after `until`. The
   * caller may commit between batches: a customer's states being built are
   * emptied at its first event of the build, so a build done again after a
   * crash counts nothing twice.
   */
  startBuild(slots: readonly number[], from: number, until: number, newEvents: readonly string[] = []): void {
    const building = new Uint8Array(this.plan.slots.length);
    for (const i of slots) building[i] = 1;
    // Only events that feed a state being built change anything, and those
    // of types the old rules did not declare (their customers are new).
    const types = new Set(newEvents);
    for (const [type, fed] of Object.entries(this.plan.feeds)) if (fed.some((i) => building[i] === 1)) types.add(type);
    this.build = { building, slots: [...slots], types, from, until, clock: Number.NEGATIVE_INFINITY, arrivals: new Map(), applied: 0, earliest: Number.POSITIVE_INFINITY };
  }

  /** A batch of the history (in the partition's order) into the states being built; returns the events applied. */
  async buildFrom(batch: RecordBatch): Promise<number> {
    const build = this.build;
    if (!build) throw new Error('internal error: buildFrom without startBuild');
    const events: EngineEvent[] = [];
    const records = new BatchReader(batch);
    const readsKey = this.decoder.readsKey;
    for (let index = 0; index < batch.count; index++) {
      const d = this.decoder.decode(records.value(index), readsKey ? records.key(index) : undefined, records.timestamp(index));
      if (d.kind !== 'event') continue;
      if (d.event.time < build.earliest) build.earliest = d.event.time;
      if (d.event.time < build.from || d.event.time > build.until || !build.types.has(d.event.type)) continue;
      if (!this.historyCustomer(d.event)) continue;
      events.push(d.event);
    }
    await this.load(events.map((e) => e.customer));
    const clock = this.now;
    this.now = build.clock;
    for (const e of events) {
      if (e.time > this.now) this.now = e.time;
      const c = this.cached(e.customer);
      const seq = (build.arrivals.get(e.customer) ?? 0) + 1;
      build.arrivals.set(e.customer, seq);
      if (seq === 1) {
        for (const i of build.slots) {
          if (c.state.s[i] === undefined) continue;
          c.state.s[i] = undefined;
          slotChanged(c.state, i);
        }
      }
      // Arrival numbers after the change must come after these.
      if (c.state.n < seq) c.state.n = seq;
      this.feedSlots(e, c.state, build.building, seq);
      this.changed.add(e.customer);
    }
    build.clock = this.now;
    this.now = clock;
    build.applied += events.length;
    return events.length;
  }

  /**
   * The customer a record of history belongs to now, set on the event;
   * false when it must not be read again: its customer was erased after it
   * (customer-lifecycle.md, section 3), or none of its identifiers is known.
   * An identity source's record goes to the profile of its most trusted
   * identifier: resolution only ever drops the least trusted ones, so that
   * one is in the profile the record went to, or in one merged into it.
   */
  private historyCustomer(e: EngineEvent): boolean {
    if (!e.ids) return !this.erased.erasedAfter(0, e.customer, e.time);
    const first = e.ids.findIndex((v) => v !== null);
    if (this.erased.erasedAfter(first, e.ids[first]!, e.time)) return false;
    const profile = this.identities!.profileOf(first, e.ids[first]!);
    if (!profile) return false;
    e.customer = profile.id;
    return true;
  }

  /** The build so far: events applied, and the earliest event time the history held (Infinity: none). */
  get buildProgress(): { applied: number; earliest: number } | undefined {
    return this.build && { applied: this.build.applied, earliest: this.build.earliest };
  }

  /** An event into the slots marked in `building`, at the clock, with no audience evaluated. */
  private feedSlots(e: EngineEvent, cs: CustomerState, building: Uint8Array, seq: number): void {
    let matches: ((step: StepPlan) => boolean) | undefined;
    for (const index of this.plan.feeds[e.type] ?? []) {
      if (building[index] === 0) continue;
      const slot = this.plan.slots[index]!;
      const before = cs.s[index];
      let after: unknown;
      switch (slot.kind) {
        case 'aggregate': {
          if (slot.where && this.filter(slot.where, e.fields) !== true) continue;
          const v = contribution(slot, e.fields, e.time);
          if (v === undefined) continue;
          const added = addToAggregate(slot, before, v, e.time, seq, this.now);
          if (added === UNCHANGED) continue;
          after = expireAggregate(slot, added, this.now);
          break;
        }
        case 'sequence':
          matches ??= (step) => step.event === e.type && (!step.where || this.filter(step.where, e.fields) === true);
          after = addToSequence(slot, before as SequenceState | undefined, e.time, matches);
          break;
        case 'absence':
          matches ??= (step) => step.event === e.type && (!step.where || this.filter(step.where, e.fields) === true);
          after = addToAbsence(slot, before as AbsenceState | undefined, e.time, matches);
          break;
      }
      cs.s[index] = after;
      slotChanged(cs, index);
    }
  }

  /**
   * A rule change, new rules' side, after the build (startBuild): for every customer,
   * compute again each audience marked in `reevaluate` at the clock; where
   * the membership differs from the one the old rules left, that is an
   * enter or leave with reason rule_change. States of slots these rules do
   * not have are dropped. At most `limit` customers per call, in key
   * order: the caller commits each call's changes with its output and
   * calls again until it returns true (done). Done twice, it finds the
   * memberships changed already and emits nothing.
   */
  async applyRuleChange(reevaluate: readonly boolean[], out: OutputEvent[], limit = Infinity): Promise<boolean> {
    this.applying ??= {
      customers: await this.allCustomers(), next: 0,
      audiences: reevaluate.flatMap((again, i) => (again ? [i] : [])),
    };
    const applying = this.applying;
    const end = Math.min(applying.customers.length, applying.next + limit);
    while (applying.next < end) {
      const customers = applying.customers.slice(applying.next, Math.min(end, applying.next + 1000));
      applying.next += customers.length;
      await this.load(customers);
      for (const customer of customers) {
        const c = this.cached(customer);
        const cs = c.state;
        cs.other = undefined;
        for (const i of applying.audiences) this.markDirty(i);
        // The timer may still be the wake of an audience the rules dropped: find it again over the wakes kept.
        const next = earliestWake(cs.w);
        const timer = next === Infinity ? null : next;
        if (timer !== cs.t) {
          cs.t = timer;
          if (timer !== null) this.timers.push(timer, customer);
        }
        this.changed.add(customer);
        this.decisionsDirty = this.hasDecisions;
        if (this.dirtyCount > 0 || this.decisionsDirty) this.evaluateCustomer(customer, c, 'rule_change', undefined, out);
      }
    }
    if (applying.next < applying.customers.length) return false;
    this.applying = undefined;
    this.build = undefined;
    this.planHeld = false;
    return true;
  }

  /** Every customer: those in the store and those changed since the last commit, in key order. */
  private async allCustomers(): Promise<string[]> {
    const all = new Set(this.changed);
    for await (const [key] of this.store.scan(CUSTOMER_PREFIX)) all.add(key.slice(CUSTOMER_PREFIX.length));
    return [...all].sort(compareUtf8);
  }

  /** The customers in the store, in key order, a thousand at a time (all read before any is written). */
  private async *storedCustomers(): AsyncGenerator<string[]> {
    const sorted = await this.allCustomers();
    for (let i = 0; i < sorted.length; i += 1000) yield sorted.slice(i, i + 1000);
  }

  private async load(customers: Iterable<string>): Promise<void> {
    const missing: string[] = [];
    for (const customer of customers) {
      const hit = this.cache.get(customer);
      if (!hit) { missing.push(customer); continue; }
      // Most recently used last, so that eviction takes the coldest first.
      this.cache.delete(customer);
      this.cache.set(customer, hit);
    }
    if (missing.length === 0) return;
    const values = await this.store.getMany(missing.map(customerKey));
    missing.forEach((customer, i) => {
      const bytes = values[i];
      const state = bytes ? this.codec.decode(bytes) : this.codec.empty();
      this.cache.set(customer, { state, persistedTimer: state.t });
    });
  }

  private cached(customer: string): CachedCustomer {
    const c = this.cache.get(customer);
    // load() ran for every customer a batch or a clock move can touch; a miss is a bug, not bad input.
    if (!c) throw new Error(`internal error: customer ${customer} was not loaded before use`);
    return c;
  }

  private advanceClock(t: number, out: OutputEvent[]): void {
    for (;;) {
      const next = this.timers.peek();
      if (!next || next.due > t) break;
      this.timers.pop();
      const c = this.cached(next.customer);
      if (c.state.t !== next.due) continue; // rescheduled since: a stale entry
      if (next.due > this.now) this.now = next.due;
      this.fireTimer(next.customer, c, out);
    }
    if (t > this.now) this.now = t;
  }

  /**
   * A customer's timer: evaluate the audiences whose wake is due, after
   * dropping the buckets that left the windows they read. Only those: the
   * other slots keep their old buckets until an event feeds them or an
   * audience reading them is due (reading skips them either way), so a
   * timer touches a few of a customer's slots, not hundreds.
   */
  private fireTimer(customer: string, c: CachedCustomer, out: OutputEvent[]): void {
    const cs = c.state;
    const w = cs.w;
    const now = this.now;
    const windowedSlotsOf = this.graph.windowedSlotsOfAudience;
    for (let i = 0; i < w.length; i++) {
      if (w[i]! > now) continue;
      this.markDirty(i);
      for (const index of windowedSlotsOf[i]!) this.expireSlot(cs, index);
    }
    if (this.hasDecisions && this.decisionWake(cs) <= now) this.decisionsDirty = true;
    this.changed.add(customer);
    if (this.dirtyCount > 0 || this.decisionsDirty) this.evaluateCustomer(customer, c, 'timer', undefined, out);
  }

  /** Drop a windowed aggregate's buckets that left its window. */
  private expireSlot(cs: CustomerState, index: number): void {
    const state = cs.s[index];
    if (state === undefined) return;
    // Expiry drops buckets in place: a shorter list is a changed state.
    const length = (state as unknown[]).length;
    const kept = expireAggregate(this.plan.slots[index] as AggregateSlot, state, this.now);
    if (kept !== state || (kept as unknown[]).length !== length) {
      cs.s[index] = kept;
      slotChanged(cs, index);
    }
  }

  private markDirty(audience: number): void {
    if (this.dirty[audience] === 1) return;
    this.dirty[audience] = 1;
    this.dirtyCount++;
  }

  private applyEvent(e: EngineEvent, out: OutputEvent[]): void {
    const fed = this.plan.feeds[e.type];
    const c = this.cached(e.customer);
    const cs = c.state;
    const { graph } = this;
    // A customer is known from their first declared event, and every audience
    // holds a value for them from then on: `count(purchase) over 60 days == 0`
    // is true for a customer whose first event is a page view.
    const firstEvent = cs.n === 0;
    cs.n++;
    this.changed.add(e.customer);
    const seq = cs.n;
    if (firstEvent) {
      this.dirty.fill(1);
      this.dirtyCount = this.dirty.length;
      this.decisionsDirty = true;
    }
    let matches: ((step: StepPlan) => boolean) | undefined;
    for (const index of fed ?? []) {
      const slot = this.plan.slots[index]!;
      const before = cs.s[index];
      let after: unknown;
      let changed: boolean;
      switch (slot.kind) {
        case 'aggregate': {
          if (slot.where && this.filter(slot.where, e.fields) !== true) continue;
          const v = contribution(slot, e.fields, e.time);
          if (v === undefined) continue;
          const comparisons = firstEvent ? NO_COMPARISONS : graph.comparisonsOfSlot[index]!;
          // The value before the event, for its comparisons; read before the add, which may change the state in place.
          const lengthBefore = lengthBeforeRead(this.graph, cs, index);
          const valueBefore = comparisons.length > 0 ? aggregateValue(slot, before, this.now) : null;
          const added = addToAggregate(slot, before, v, e.time, seq, this.now);
          if (added === UNCHANGED) {
            afterRead(cs, index, lengthBefore);
            continue;
          }
          // Changed, possibly in place (a window's buckets, a tally): the same object.
          changed = true;
          after = expireAggregate(slot, added, this.now);
          if (slot.maxValues !== undefined && aggregateAtBound(slot, after, this.now)) this.atBound++;
          if (comparisons.length > 0) {
            const valueAfter = aggregateValue(slot, after, this.now);
            for (const cmp of comparisons) {
              if (cmp.test(valueBefore) !== cmp.test(valueAfter) || !flipsOnlyLater(slot, cmp, v, after)) {
                for (const a of graph.audiencesOfComparison[cmp.index]!) this.markDirty(a);
              }
            }
          }
          break;
        }
        case 'sequence':
          matches ??= (step) => step.event === e.type && (!step.where || this.filter(step.where, e.fields) === true);
          after = addToSequence(slot, before as SequenceState | undefined, e.time, matches);
          changed = after !== before;
          break;
        case 'absence':
          matches ??= (step) => step.event === e.type && (!step.where || this.filter(step.where, e.fields) === true);
          after = addToAbsence(slot, before as AbsenceState | undefined, e.time, matches);
          changed = after !== before;
          break;
        case 'dwell':
        case 'decision':
          continue; // fed by no event: the planner lists none in feeds
      }
      if (!changed) continue;
      cs.s[index] = after;
      slotChanged(cs, index);
      if (graph.decisionSlots[index] === 1) this.decisionsDirty = true;
      if (slot.kind !== 'aggregate') for (const cmp of graph.comparisonsOfSlot[index]!) for (const a of graph.audiencesOfComparison[cmp.index]!) this.markDirty(a);
      for (const a of graph.readersOfSlot[index]!) this.markDirty(a);
    }
    if (this.dirtyCount > 0 || this.decisionsDirty) this.evaluateCustomer(e.customer, c, 'event', e.cause, out);
  }

  /** A `where` or step filter over one event's fields. */
  private filter(expr: PExpr, fields: Record<string, Value>): Value {
    this.filterScope.now = this.now;
    this.filterScope.fields = fields;
    return this.graph.filter(expr)(this.filterScope);
  }

  /**
   * Evaluate the dirty audiences (and those using `in` one that changed), in
   * plan order, which puts an audience after those it names; emit
   * enter/leave; reschedule the customer's timer.
   */
  private evaluateCustomer(customer: string, c: CachedCustomer, reason: ChangeReason, cause: Cause | undefined, out: OutputEvent[]): void {
    const cs = c.state;
    const scope = this.scope;
    scope.reset(this.now, cs);
    const { dirty } = this;
    const audiences = this.graph.audiences;
    // The timer is the earliest wake: kept up as wakes change, and found
    // again over every wake only when the one that was earliest moves later.
    const timerBefore = cs.t ?? Infinity;
    let next = timerBefore;
    let earliestMoved = false;
    for (let i = 0; i < audiences.length && this.dirtyCount > 0; i++) {
      if (dirty[i] === 0) continue;
      dirty[i] = 0;
      this.dirtyCount--;
      const a = audiences[i]!;
      const value = scope.evaluateTop(a.evaluate);
      const wakeBefore = cs.w[i]!;
      let wake = scope.wake;
      let inside = value === true;
      if (a.steady) {
        const steady = this.steadyStep(cs, i, a.steady, inside, wake);
        inside = steady.inside;
        wake = steady.wake;
      }
      if (wake !== wakeBefore) {
        cs.w[i] = wake;
        membershipsChanged(cs);
        if (wake < next) next = wake;
        if (wakeBefore === timerBefore) earliestMoved = true;
      }
      const prev = cs.m[i]!;
      if (inside === prev > 0) continue;
      const version = Math.abs(prev) + 1;
      cs.m[i] = inside ? version : -version;
      membershipsChanged(cs);
      this.sizes.set(a.name, (this.sizes.get(a.name) ?? 0) + (inside ? 1 : -1));
      for (const j of a.usedBy) this.markDirty(j);
      if (this.graph.decisionAudiences[i] === 1) this.decisionsDirty = true;
      const event: OutputEvent = { type: inside ? 'enter' : 'leave', audience: a.name, customer, at: this.isoNow(), version, reason };
      if (cause) event.cause = cause;
      recordTransition(cs, i, inside, this.now, version, reason, cause);
      out.push(event);
    }
    if (this.decisionsDirty) {
      this.decisionsDirty = false;
      this.decide(customer, cs, reason, cause, out);
    }
    if (this.hasDecisions) next = Math.min(earliestWake(cs.w), this.decisionWake(cs));
    else if (earliestMoved) next = earliestWake(cs.w);
    const timer = next === Infinity ? null : next;
    if (timer !== cs.t) {
      cs.t = timer;
      if (timer !== null) this.timers.push(timer, customer);
    }
  }

  /** The earliest instant one of the customer's decisions must be evaluated with no event (Infinity: none). */
  private decisionWake(cs: CustomerState): number {
    let wake = Infinity;
    for (const d of this.graph.decisions) {
      const w = storedWake(cs.s[d.plan.slot] as DecisionState | undefined);
      if (w < wake) wake = w;
    }
    return wake;
  }

  /**
   * Evaluate every decision for the customer now, after the audiences
   * (decision.ts), and send what changed. Each stores the instant it must
   * be evaluated again with no event: an offer's eligibility or score
   * changing by time alone, a cap freeing, a send window opening.
   */
  private decide(customer: string, cs: CustomerState, reason: ChangeReason, cause: Cause | undefined, out: OutputEvent[]): void {
    const scope = this.scope;
    const decisions = this.graph.decisions;
    const offers = this.plan.offers!;
    const states = this.decisionStates;
    for (let k = 0; k < decisions.length; k++) states[k] = cs.s[decisions[k]!.plan.slot] as DecisionState | undefined;
    for (let k = 0; k < decisions.length; k++) {
      const d = decisions[k]!;
      let earliest = Infinity;
      const values: OfferValue[] = [];
      for (const o of d.offers) {
        let eligible = true;
        if (o.eligible) {
          eligible = scope.evaluateTop(o.eligible) === true;
          if (scope.wake < earliest) earliest = scope.wake;
        }
        const score = scope.evaluateTop(o.score);
        if (scope.wake < earliest) earliest = scope.wake;
        const finite = typeof score === 'number' && Number.isFinite(score);
        values.push({ eligible: eligible && finite, score: finite ? score : 0 });
      }
      const w = d.plan.window;
      let zoneValue: Value = null;
      if (w?.zoneTrait !== undefined) {
        // The zone's trait may change by time alone too: its wake is the decision's.
        scope.wake = Infinity;
        zoneValue = scope.trait(w.zoneTrait);
        if (scope.wake < earliest) earliest = scope.wake;
      }
      const zone = w ? windowZone(w, zoneValue, isTimeZone) : 'UTC';
      const step = stepDecision(d.plan, k, offers, values, states, zone, this.now);
      if (step.wake < earliest) earliest = step.wake;
      const state = withWake(step.state, earliest);
      if (state !== states[k]) {
        states[k] = state;
        cs.s[d.plan.slot] = state;
        slotChanged(cs, d.plan.slot);
      }
      if (!step.event) continue;
      const event: DecisionEvent = {
        type: 'decision', decision: d.plan.name, offer: step.event.offer, customer, at: this.isoNow(),
        score: step.event.score, version: step.event.version, reason,
      };
      if (cause) event.cause = cause;
      out.push(event);
    }
  }

  /**
   * A steady audience's membership now (dwell.ts), from its enter
   * condition's value and wake and its leave condition evaluated here; its
   * dwell state is updated, and the wake is the earliest of the conditions'
   * and the instant the next enter or leave falls due.
   */
  private steadyStep(cs: CustomerState, i: number, steady: NonNullable<CompiledAudience['steady']>, enter: boolean, enterWake: number): { inside: boolean; wake: number } {
    let wake = enterWake;
    let leave = !enter;
    if (steady.leave) {
      leave = this.scope.evaluateTop(steady.leave) === true;
      if (this.scope.wake < wake) wake = this.scope.wake;
    }
    const index = steady.plan.slot;
    const before = cs.s[index] as DwellState | undefined;
    const step = stepDwell(steady.plan, before, isMember(cs, i), enter, leave, this.now);
    if (step.state !== before) {
      cs.s[index] = step.state;
      slotChanged(cs, index);
    }
    return { inside: step.inside, wake: step.due < wake ? step.due : wake };
  }

  /** The clock as ISO text, made once per instant rather than once per enter/leave. */
  private isoNow(): string {
    if (this.atTextFor !== this.now) {
      this.atText = new Date(this.now).toISOString();
      this.atTextFor = this.now;
    }
    return this.atText;
  }
}

const NO_COMPARISONS: readonly SlotComparison[] = [];

interface StateBuild {
  /** 1 for each slot being built. */
  building: Uint8Array;
  slots: number[];
  /** Event types the build applies: those feeding a state being built, and new ones. */
  types: Set<string>;
  from: number;
  until: number;
  /** The history's clock: the latest event time applied. */
  clock: number;
  /** Per customer: history events applied, the arrival order of the built states. */
  arrivals: Map<string, number>;
  applied: number;
  /** The earliest event time in the history read (applied or not). */
  earliest: number;
}

/** What an identity source's event did to the profiles before it applies (IdentityGraph.resolve). */
type ProfileMerge = NonNullable<Resolution['merge']>;

/** An `aud.forget` record, resolved: the customers it erases at `time`. */
interface Erasure {
  erase: true;
  customers: string[];
  /** Identifiers the customers had (for the receipt). */
  identifiers: number;
  time: number;
  cause?: Cause;
}

/** The earliest of a customer's wakes (Infinity: none). */
function earliestWake(w: Float64Array): number {
  let next = Infinity;
  for (let k = 0; k < w.length; k++) if (w[k]! < next) next = w[k]!;
  return next;
}

/** Whether a record is past a rule change: an event later than it, for the rules in force or for the new ones. */
function stopsAt(d: Decoded, stop: { after: number; decoder?: RecordDecoder }, records: BatchReader, index: number, readsKey: boolean): boolean {
  if (d.kind === 'event') return d.event.time > stop.after;
  if (d.kind === 'forget') return d.forget.time > stop.after;
  if (d.kind !== 'skipped' || !stop.decoder) return false;
  const next = stop.decoder.decode(records.value(index), readsKey ? records.key(index) : undefined, records.timestamp(index));
  return next.kind === 'event' && next.event.time > stop.after;
}

/** Evaluation of a filter: fields of one event, nothing per customer. */
class FilterScope implements EvalScope {
  now = 0;
  fields: Record<string, Value> = {};
  field(name: string): Value { return this.fields[name] ?? null; }
  slot(): Value { return null; }
  compared(c: SlotComparison): Value { return c.test(null); }
  matchTime(): number | null { return null; }
  trait(): Value { return null; }
  audience(): boolean { return false; }
  wakeAt(): void {}
}
