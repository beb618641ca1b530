/**
 * The benchmark's event stream: `events` retail events of `customers`
 * customers over `days` days, in time order, deterministic for a seed.
 *
 * Which customer acts is Zipf-skewed (ZipfSampler); what they do is a session
 * as in examples/retail/generate.ts: a login now and then, page views (brand
 * fans mostly look at Acme), often a cart and a purchase after most carts;
 * store-only customers only buy, in the store; big spenders buy expensive
 * things. Profile updates now and then. The event types and fields are those
 * of bench/rules/bench.aud.
 *
 * Sessions overlap in time (a purchase can come 40 minutes after its cart),
 * so events wait in a small heap until no later session can come before
 * them: the stream, and so every partition, is in time order, which the
 * event clock needs.
 */
import { prng } from '../../examples/retail/generate.js';
import { rankShuffle, ZipfSampler } from './zipf.js';

export interface WorkloadOptions {
  customers: number;
  events: number;
  days: number;
  seed: number;
  start: Date;
  /** Zipf exponent of customer activity (1: the busiest customer has ~7% of a million customers' events). */
  zipf: number;
}

/** One event: the fields bench.aud declares, plus customer_id, type and ts (epoch ms here). */
export interface WorkloadEvent {
  customer_id: string;
  type: 'purchase' | 'page_view' | 'add_to_cart' | 'login' | 'profile_update';
  ts: number;
  amount?: number; category?: string; sku?: string; channel?: string;
  url?: string; brand?: string;
  tier?: string; email_opt_in?: boolean; country?: string;
}

const CATEGORIES = ['shoes', 'socks', 'jackets', 'bags', 'shirts', 'watches'];
const BRANDS = ['Acme', 'Zest', 'Nova', 'Orbit'];
const COUNTRIES = ['DE', 'FR', 'NL', 'SE', 'ES'];
const TIERS = ['bronze', 'silver', 'gold'];
const DAY_MS = 86_400_000;

/** A customer's fixed traits, from a hash of their index (no per-customer table). */
function traits(index: number): { bigSpender: boolean; storeOnly: boolean; brandFan: boolean } {
  let h = Math.imul(index ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  const u = (h >>> 0) / 4294967296;
  const v = ((Math.imul(h, 0x27d4eb2f) >>> 0) / 4294967296);
  return { bigSpender: u < 0.06, storeOnly: u >= 0.06 && u < 0.16, brandFan: v < 0.15 };
}

export function customerId(index: number, customers: number): string {
  return `c-${String(index + 1).padStart(String(customers).length, '0')}`;
}

/** Min-heap of events by time, insertion order breaking ties (a session's events stay in order). */
class EventHeap {
  private readonly items: { e: WorkloadEvent; seq: number }[] = [];
  private seq = 0;
  get size(): number { return this.items.length; }
  peek(): WorkloadEvent | undefined { return this.items[0]?.e; }
  private less(a: number, b: number): boolean {
    const x = this.items[a]!; const y = this.items[b]!;
    return x.e.ts < y.e.ts || (x.e.ts === y.e.ts && x.seq < y.seq);
  }
  push(e: WorkloadEvent): void {
    const items = this.items;
    items.push({ e, seq: this.seq++ });
    let i = items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      [items[i], items[p]] = [items[p]!, items[i]!];
      i = p;
    }
  }
  pop(): WorkloadEvent | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1; const r = l + 1;
        let m = i;
        if (l < items.length && this.less(l, m)) m = l;
        if (r < items.length && this.less(r, m)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top?.e;
  }
}

export function* workloadEvents(opts: WorkloadOptions): Generator<WorkloadEvent> {
  const rand = prng(opts.seed);
  const zipf = new ZipfSampler(opts.customers, opts.zipf);
  const shuffle = rankShuffle(opts.customers);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const t0 = opts.start.getTime();
  // Sessions average about 4.5 events: session starts are spaced so that the events fill `days`.
  const sessionGapMs = (opts.days * DAY_MS) / (opts.events / 4.5);
  const heap = new EventHeap();
  let clock = t0;
  let made = 0;
  let emitted = 0;
  while (emitted < opts.events) {
    if (made < opts.events) {
      const index = shuffle(zipf.rank(rand()));
      const id = customerId(index, opts.customers);
      const c = traits(index);
      const add = (e: WorkloadEvent): void => { if (made < opts.events) { heap.push(e); made++; } };
      let t = clock;
      if (rand() < 0.02) {
        add({ customer_id: id, type: 'profile_update', ts: t, tier: c.bigSpender ? 'gold' : pick(TIERS), email_opt_in: rand() < 0.6, country: pick(COUNTRIES) });
      }
      const category = pick(CATEGORIES);
      const sku = `${category}-${Math.floor(rand() * 900) + 100}`;
      const amount = c.bigSpender ? 500 + Math.floor(rand() * 2500) : 10 + Math.floor(rand() * 150);
      if (c.storeOnly) {
        add({ customer_id: id, type: 'purchase', ts: t + 60_000, amount, category, sku, channel: 'store' });
      } else {
        if (rand() < 0.5) add({ customer_id: id, type: 'login', ts: t });
        const views = 1 + Math.floor(rand() * 5);
        for (let v = 0; v < views; v++) {
          t += 5_000 + Math.floor(rand() * 90_000);
          const brand = c.brandFan && rand() < 0.8 ? 'Acme' : pick(BRANDS);
          add({ customer_id: id, type: 'page_view', ts: t, url: rand() < 0.2 ? `/sale/${brand.toLowerCase()}` : `/p/${Math.floor(rand() * 5000)}`, brand });
        }
        if (rand() < (c.bigSpender ? 0.6 : 0.4)) {
          t += 10_000 + Math.floor(rand() * 60_000);
          add({ customer_id: id, type: 'add_to_cart', ts: t, sku });
          if (rand() < (c.bigSpender ? 0.8 : 0.6)) {
            t += 60_000 + Math.floor(rand() * 40 * 60_000);
            add({ customer_id: id, type: 'purchase', ts: t, amount, category, sku, channel: rand() < 0.9 ? 'web' : 'store' });
          }
        }
      }
      clock += Math.max(1, Math.round(sessionGapMs * (0.5 + rand())));
    }
    // Everything before `clock` is final: no session yet to come starts before it.
    while (heap.size > 0 && (made >= opts.events || heap.peek()!.ts < clock)) {
      yield heap.pop()!;
      emitted++;
    }
  }
}
