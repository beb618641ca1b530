/**
 * Events for the hot-customer benchmark: half of them from one customer (a
 * crawler, a shared kiosk) with a new URL each, five seconds apart; the other
 * half from 1,000 ordinary customers browsing a few dozen pages.
 *
 *   node dist/bench/hot-customer/generate.js --events 100000 > hot.jsonl
 *   aud replay bench/hot-customer/distinct-top.aud --input hot.jsonl   # against count.aud
 */
const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const events = arg('events', 100_000);
const start = Date.parse('2026-01-01T00:00:00Z');
const pages = ['/home', '/sale', '/shoes', '/bags', '/account', '/cart'];
let seed = arg('seed', 1);
const random = (): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const lines: string[] = [];
for (let i = 0; i < events; i++) {
  const ts = new Date(start + Math.floor(i / 2) * 5000).toISOString();
  const hot = i % 2 === 0;
  const customer = hot ? 'hot' : `c${Math.floor(random() * 1000)}`;
  const url = hot ? `/item/${i}` : pages[Math.floor(random() * pages.length)]!;
  lines.push(JSON.stringify({ customer_id: customer, type: 'page_view', ts, url }));
  if (lines.length === 10_000) { process.stdout.write(lines.join('\n') + '\n'); lines.length = 0; }
}
if (lines.length > 0) process.stdout.write(lines.join('\n') + '\n');
