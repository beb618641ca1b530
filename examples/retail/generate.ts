/**
 * A deterministic generator of retail events for examples/retail/retail.aud.
 *
 * Behaviour, so that every audience of the example happens:
 * - activity is Zipf-skewed: a few customers visit daily, most rarely;
 * - a visit is a session of page views (some customers love brand "Acme"),
 *   often a cart, and a purchase after most carts — the rest are abandoned;
 * - a few big spenders buy expensive things often enough to become VIPs;
 * - some customers buy only in the stores;
 * - a share of customers stop coming at some point (lapsed VIPs, churn);
 * - profile updates now and then (tier gold, e-mail opt-in).
 *
 * Same options and seed, same events. Run directly to write JSON Lines:
 *   node dist/examples/retail/generate.js --customers 3000 --days 28 --seed 1 > events.jsonl
 */
import { fileURLToPath } from 'node:url';

export interface GenerateOptions {
  customers: number;
  days: number;
  seed: number;
  start: Date;
  /** Mean sessions per day of the most active customer (default 3). */
  sessionsPerDayTop?: number;
}

/** mulberry32: small, fast, good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CATEGORIES = ['shoes', 'socks', 'jackets', 'bags', 'shirts', 'watches'];
const BRANDS = ['Acme', 'Zest', 'Nova', 'Orbit'];
const COUNTRIES = ['DE', 'FR', 'NL', 'SE', 'ES'];
const TIERS = ['bronze', 'silver', 'gold'];

interface Profile {
  id: string;
  /** Mean sessions per day. */
  rate: number;
  bigSpender: boolean;
  storeOnly: boolean;
  brandFan: boolean;
  /** Day after which the customer never comes back (Infinity: stays). */
  quitsAfter: number;
}

function profiles(opts: GenerateOptions, rand: () => number): Profile[] {
  const top = opts.sessionsPerDayTop ?? 4;
  const list: Profile[] = [];
  for (let i = 0; i < opts.customers; i++) {
    // Zipf over a shuffled rank, so that customer ids do not reveal activity.
    const rank = 1 + Math.floor(rand() * opts.customers);
    const bigSpender = rand() < 0.06;
    // Big spenders come often: they need 3 purchases in 90 days to be VIPs.
    const rate = Math.max(bigSpender ? 0.6 : 0.03, top / Math.pow(rank, 0.5));
    list.push({
      id: `c-${String(i + 1).padStart(6, '0')}`,
      rate,
      bigSpender,
      storeOnly: rand() < 0.1,
      brandFan: rand() < 0.15,
      quitsAfter: rand() < 0.25 ? Math.floor(rand() * opts.days * 0.7) : Infinity,
    });
  }
  return list;
}

function poisson(mean: number, rand: () => number): number {
  const l = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do { k++; p *= rand(); } while (p > l);
  return k - 1;
}

function pick<T>(xs: readonly T[], rand: () => number): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

export function* generateRetailEvents(opts: GenerateOptions): Generator<Record<string, unknown>> {
  const rand = prng(opts.seed);
  const people = profiles(opts, rand);
  const t0 = opts.start.getTime();
  const DAY = 86_400_000;

  for (let day = 0; day < opts.days; day++) {
    const events: { t: number; e: Record<string, unknown> }[] = [];
    const at = (t: number, type: string, c: Profile, fields: Record<string, unknown>) => {
      events.push({ t, e: { customer_id: c.id, type, ts: new Date(t).toISOString(), ...fields } });
    };
    for (const c of people) {
      if (day > c.quitsAfter) continue;
      if (day === 0 && rand() < 0.3) {
        at(t0 + Math.floor(rand() * DAY), 'profile_update', c, {
          tier: c.bigSpender ? 'gold' : pick(TIERS, rand), email_opt_in: rand() < 0.6, country: pick(COUNTRIES, rand),
        });
      }
      const sessions = poisson(c.rate, rand);
      for (let s = 0; s < sessions; s++) {
        let t = t0 + day * DAY + Math.floor(rand() * (DAY - 3_600_000));
        if (!c.storeOnly) {
          if (rand() < 0.5) at(t, 'login', c, {});
          const views = 1 + Math.floor(rand() * 5);
          for (let v = 0; v < views; v++) {
            t += 5_000 + Math.floor(rand() * 90_000);
            const brand = c.brandFan && rand() < 0.8 ? 'Acme' : pick(BRANDS, rand);
            at(t, 'page_view', c, { url: rand() < 0.2 ? `/sale/${brand.toLowerCase()}` : `/p/${Math.floor(rand() * 5000)}`, brand });
          }
        }
        const category = pick(CATEGORIES, rand);
        const sku = `${category}-${Math.floor(rand() * 900) + 100}`;
        const amount = c.bigSpender ? 500 + Math.floor(rand() * 2500) : 10 + Math.floor(rand() * 150);
        if (c.storeOnly) {
          if (rand() < 0.5) at(t + 60_000, 'purchase', c, { amount, category, sku, channel: 'store' });
          continue;
        }
        if (rand() < (c.bigSpender ? 0.6 : 0.4)) {
          t += 10_000 + Math.floor(rand() * 60_000);
          at(t, 'add_to_cart', c, { sku });
          if (rand() < (c.bigSpender ? 0.8 : 0.6)) {
            t += 60_000 + Math.floor(rand() * 40 * 60_000);
            at(t, 'purchase', c, { amount, category, sku, channel: rand() < 0.9 ? 'web' : 'store' });
          }
        }
      }
      if (rand() < 0.01) {
        at(t0 + day * DAY + Math.floor(rand() * DAY), 'profile_update', c, {
          tier: pick(TIERS, rand), email_opt_in: rand() < 0.6, country: pick(COUNTRIES, rand),
        });
      }
    }
    events.sort((a, b) => a.t - b.t);
    for (const { e } of events) yield e;
  }
}

const runDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (runDirectly) {
  const { default: yargs } = await import('yargs');
  const { hideBin } = await import('yargs/helpers');
  const args = await yargs(hideBin(process.argv))
    .option('customers', { type: 'number', default: 3000 })
    .option('days', { type: 'number', default: 28 })
    .option('seed', { type: 'number', default: 1 })
    .option('start', { type: 'string', default: '2026-01-01T00:00:00Z' })
    .strict()
    .parseAsync();
  const out: string[] = [];
  for (const e of generateRetailEvents({ customers: args.customers, days: args.days, seed: args.seed, start: new Date(args.start) })) {
    out.push(JSON.stringify(e));
    if (out.length >= 10_000) {
      if (!process.stdout.write(out.join('\n') + '\n')) await new Promise((r) => process.stdout.once('drain', r));
      out.length = 0;
    }
  }
  if (out.length) process.stdout.write(out.join('\n') + '\n');
}
