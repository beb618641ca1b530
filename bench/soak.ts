/**
 * Soak: `aud run` for a long time at a steady rate of hostile traffic, then
 * its output compared with replay of the same input.
 *
 *   node dist/bench/soak.js [--minutes 30] [--rate 20000] [--partitions 4] [--workers 1]
 *       [--customers 100000] [--brokers 127.0.0.1:9092] [--out bench/RESULTS-soak.md]
 *
 * The traffic, every second at --rate events:
 *   - the bench's retail mix over --customers customers, their activity
 *     Zipf-distributed as in the bench's workload (bench/rules/bench.aud);
 *   - 5% from one hot customer, a page view with a new URL each time, against
 *     `distinct(page_view.url) over 1 day` and `top(page_view.url) over 1 hour`;
 *   - 1% bad records: not JSON, not UTF-8, a customer id of the wrong type, a
 *     number that is not finite, JSON nested 10,000 deep, a 70,000-character
 *     string, a time that does not parse (values over 1 MiB need the topic's
 *     and the producer's limits raised: test/integration/fuzz.test.ts has them);
 *   - 0.1% stamped a year ahead (a producer with a wrong clock).
 * The engine runs with the event clock and --max-clock-jump 10m, so that its
 * output depends on the input only: each partition's output must be replay's
 * of that partition's records with the same limit, customer by customer in
 * order, and every bad and skewed record must be on the dead-letter topic.
 *
 * Every 10 s it samples the engine's resident memory and the group's lag.
 * It reports whether the engine kept up (lag in the last half never above
 * 10 s of input, and drained within a minute of the end), whether memory
 * levelled off (the highest RSS of the last quarter within 15% of the highest
 * of the second quarter), and the comparison; the exit code says whether all
 * held. The run's topics are deleted at the end.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createWriteStream, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { endOffsets, ensureTopics } from '../connectors/kafka/admin.js';
import { createAdmin } from '../connectors/kafka/client.js';
import { readPartition } from '../connectors/kafka/partition-reader.js';
import { KafkaSink, type SinkRecord } from '../connectors/kafka/sink.js';
import { compileSources, formatDiagnostics } from '../dsl/compile.js';
import { PartitionTask } from '../engine/partition-task.js';
import { batchOfRecords } from '../engine/record-batch.js';
import { MemoryStore } from '../engine/state/memory-store.js';
import { changelogTopicFor, deadLetterTopicFor, membershipTopicFor } from '../runtime/naming.js';
import { customerId } from './workload/retail-workload.js';
import { rankShuffle, ZipfSampler } from './workload/zipf.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cli = join(repo, 'dist/cli/aud.js');

const VALUED = ['minutes', 'rate', 'partitions', 'workers', 'customers', 'brokers', 'out'];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]!;
  if (a === '--help' || a === '-h') {
    const header = /\/\*\*([\s\S]*?)\*\//.exec(readFileSync(fileURLToPath(import.meta.url), 'utf8'))?.[1] ?? '';
    process.stdout.write(header.split('\n').map((l) => l.replace(/^ \* ?/, '')).join('\n').trim() + '\n');
    process.exit(0);
  }
  if (!VALUED.includes(a.replace(/^--/, ''))) { process.stderr.write(`soak: unknown option ${a}; see --help\n`); process.exit(2); }
  i++;
}
const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const minutes = Number(arg('minutes', '30'));
const rate = Number(arg('rate', '20000'));
const partitions = Number(arg('partitions', '4'));
const workers = Number(arg('workers', '1'));
const customers = Number(arg('customers', '100000'));
const brokers = arg('brokers', process.env.AUD_TEST_BROKERS ?? '127.0.0.1:9092');
const out = arg('out', '');
const MAX_CLOCK_JUMP = '10m';
const say = (s: string): void => { process.stderr.write(`[soak] ${s}\n`); };

const rulesText = readFileSync(join(repo, 'bench/rules/bench.aud'), 'utf8') + [
  '',
  '// The soak\'s hot customer: a new URL on every page view.',
  'audience explorer  { distinct(page_view.url) over 1 day >= 50 }',
  'audience home_lover { top(page_view.url) over 1 hour == "/home" }',
  '',
].join('\n');
const compiled = compileSources(new Map([['soak.aud', rulesText]]));
if (!compiled.plan) throw new Error(`the soak rules do not check:\n${formatDiagnostics(compiled)}`);
const plan = compiled.plan;

// ---- traffic -------------------------------------------------------------

const CATEGORIES = ['shoes', 'socks', 'jackets', 'bags', 'shirts', 'watches'];
const BRANDS = ['Acme', 'Zest', 'Nova', 'Orbit'];
const PAGES = ['/home', '/sale', '/shoes', '/bags', '/account', '/cart'];
const DEEP = '['.repeat(10_000) + ']'.repeat(10_000);
const LONG = 'x'.repeat(70_000);
const NOT_UTF8 = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);

const zipf = new ZipfSampler(customers, 0.8);
const shuffle = rankShuffle(customers);

function hash(i: number): number {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  return h >>> 0;
}

type Kind = 'good' | 'hot' | 'bad' | 'skewed';

/** Record i of the run, stamped `now`. */
function record(topic: string, i: number, now: number): { record: SinkRecord; kind: Kind } {
  const ts = new Date(now).toISOString();
  if (i % 100 === 17) {
    const kind = Math.floor(i / 100) % 7;
    const value: string | Buffer = kind === 0 ? 'not json {'
      : kind === 1 ? NOT_UTF8
      : kind === 2 ? JSON.stringify({ customer_id: [1, 2], type: 'login', ts })
      : kind === 3 ? `{"customer_id":"c-bad","type":"purchase","ts":"${ts}","amount":1e400,"category":"x","sku":"x","channel":"web"}`
      : kind === 4 ? DEEP
      : kind === 5 ? JSON.stringify({ customer_id: 'c-bad', type: 'page_view', ts, url: LONG, brand: 'Acme' })
      : JSON.stringify({ customer_id: 'c-bad', type: 'purchase', ts: 'yesterday', amount: 1, category: 'x', sku: 'x', channel: 'web' });
    return { record: { topic, key: 'bad', value }, kind: 'bad' };
  }
  if (i % 20 === 3) {
    return { record: { topic, key: 'hot', value: JSON.stringify({ customer_id: 'hot', type: 'page_view', ts, url: `/item/${i}`, brand: 'Nova' }) }, kind: 'hot' };
  }
  const h = hash(i);
  const customer = customerId(shuffle(zipf.rank(hash(i ^ 0x5bd1e995) / 4294967296)), customers);
  const skewed = i % 1000 === 501;
  const t = skewed ? new Date(now + 365 * 86_400_000).toISOString() : ts;
  const roll = (h >>> 20) % 100;
  const e: Record<string, unknown> = roll < 60 ? { type: 'page_view', url: PAGES[h % PAGES.length], brand: BRANDS[(h >>> 3) % BRANDS.length] }
    : roll < 75 ? { type: 'add_to_cart', sku: `sku-${h % 500}` }
    : roll < 85 ? { type: 'purchase', amount: 5 + (h % 400), category: CATEGORIES[(h >>> 5) % CATEGORIES.length], sku: `sku-${h % 500}`, channel: (h >>> 7) % 4 === 0 ? 'store' : 'web' }
    : roll < 95 ? { type: 'login' }
    : { type: 'profile_update', tier: 'gold', email_opt_in: true, country: 'DE' };
  return { record: { topic, key: customer, value: JSON.stringify({ customer_id: customer, ts: t, ...e }) }, kind: skewed ? 'skewed' : 'good' };
}

// ---- comparison ------------------------------------------------------------

/** Per customer: how many enter/leave events, and a hash of them in order. */
type Digest = Map<string, { n: number; h: string }>;

function addToDigest(d: Digest, o: { type: string; audience?: string; decision?: string; offer?: string | null; customer: string; at: string; version: number; reason: string }): void {
  const key = JSON.stringify([o.type, o.audience ?? o.decision, o.offer, o.customer, o.at, o.version, o.reason]);
  const prev = d.get(o.customer) ?? { n: 0, h: '' };
  d.set(o.customer, { n: prev.n + 1, h: createHash('sha1').update(prev.h).update(key).digest('base64') });
}

// ---- the run ---------------------------------------------------------------

interface Sample { second: number; produced: number; committed: number; lagRecords: number; rssMb: number }

const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const input = `soak.in.${run}`;
const output = `soak.out.${run}`;
const group = `soak-${run}`;
const work = await mkdtemp(join(tmpdir(), 'aud-soak-'));
const rulesFile = join(work, 'soak.aud');
await writeFile(rulesFile, rulesText);
await ensureTopics({ brokers }, [{ topic: input, partitions }]);
const kafka = { brokers, clientId: 'aud-soak' };

const logFile = join(work, 'engine.log');
const log = createWriteStream(logFile);
const engine = spawn(process.execPath, [cli, 'run', rulesFile, '--brokers', brokers, '--topic', input, '--output-topic', output,
  '--state-dir', join(work, 'state'), '--group', group, '--clock', 'event', '--max-clock-jump', MAX_CLOCK_JUMP,
  '--workers', String(workers)], { stdio: ['ignore', 'ignore', 'pipe'] });
engine.stderr!.pipe(log);
const exited = new Promise<number | null>((res) => engine.on('exit', (code) => res(code)));
let assigned = 0;
await new Promise<void>((res, rej) => {
  let buffer = '';
  engine.stderr!.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      if (/partition assigned/.test(buffer.slice(0, nl)) && ++assigned === partitions) res();
      buffer = buffer.slice(nl + 1);
    }
  });
  void exited.then((code) => rej(new Error(`the engine exited (${code}) before owning its partitions; see ${logFile}`)));
});
say(`engine up (pid ${engine.pid}, ${workers} worker(s)); producing ${rate} events/s for ${minutes} min to ${input} (${partitions} partitions)`);

function rssMb(): number {
  try { return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${engine.pid}/status`, 'utf8'))![1]) / 1024; } catch { return NaN; }
}
async function committed(): Promise<bigint> {
  const admin = createAdmin({ brokers });
  await admin.connect();
  try {
    const offsets = await admin.fetchOffsets({ groupId: group, topics: [input] });
    return (offsets[0]?.partitions ?? []).reduce((s, p) => s + (Number(p.offset) >= 0 ? BigInt(p.offset) : 0n), 0n);
  } finally {
    await admin.disconnect();
  }
}

const sink = new KafkaSink(kafka);
await sink.connect();
const counts: Record<Kind, number> = { good: 0, hot: 0, bad: 0, skewed: 0 };
const samples: Sample[] = [];
const total = Math.round(rate * minutes * 60);
const started = Date.now();
let sent = 0;
let acked = 0;
const inFlight = new Set<Promise<unknown>>();
let nextSample = started + 10_000;
while (sent < total) {
  const now = Date.now();
  const due = Math.min(total, Math.floor(((now - started) / 1000) * rate));
  if (due > sent) {
    const records: SinkRecord[] = [];
    for (; sent < due; sent++) {
      const r = record(input, sent, now);
      counts[r.kind]++;
      records.push(r.record);
    }
    const n = records.length;
    const p = sink.send(records).then(() => { acked += n; }).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  if (now >= nextSample) {
    nextSample += 10_000;
    const c = Number(await committed());
    const s: Sample = { second: Math.round((now - started) / 1000), produced: acked, committed: c, lagRecords: Math.max(0, acked - c), rssMb: rssMb() };
    samples.push(s);
    say(`${s.second} s: ${s.produced} produced, lag ${s.lagRecords} records, RSS ${s.rssMb.toFixed(0)} MB`);
  }
  await new Promise((r) => setTimeout(r, 5));
}
await Promise.all(inFlight);
await sink.disconnect();
const producedSeconds = (Date.now() - started) / 1000;
say(`produced ${total} records in ${producedSeconds.toFixed(0)} s (${Math.round(total / producedSeconds)}/s): ` +
  `${counts.good} retail, ${counts.hot} hot, ${counts.bad} bad, ${counts.skewed} a year ahead`);

// Drained: the group has committed the end of every partition.
const drainStarted = Date.now();
let drained = false;
while (Date.now() - drainStarted < 10 * 60_000) {
  if (await committed() >= BigInt(total)) { drained = true; break; }
  await new Promise((r) => setTimeout(r, 500));
}
const drainSeconds = (Date.now() - drainStarted) / 1000;
say(drained ? `drained ${drainSeconds.toFixed(1)} s after the last record` : 'NOT drained after 10 minutes');
engine.kill('SIGTERM');
await exited;
log.end();

// The dead-letter topic.
const dlq = [...(await endOffsets({ brokers }, deadLetterTopicFor(input))).values()].reduce((s, n) => s + Number(n), 0);

// Replay, partition by partition, as the engine's per-partition clock saw it.
const want: Digest = new Map();
let replayBad = 0;
let replayed = 0;
const replayStarted = Date.now();
for (let p = 0; p < partitions; p++) {
  const task = await PartitionTask.open(plan, new MemoryStore(), { clockGuard: { maxJumpMs: 10 * 60_000 }, cacheCustomers: 1_000_000 });
  await readPartition(kafka, input, p, undefined, async (records) => {
    const result = await task.process(batchOfRecords(records.map((r) => ({ value: r.value ?? new Uint8Array(0) }))));
    await task.commit();
    replayBad += result.bad.length;
    replayed += records.length;
    for (const o of result.outputs) addToDigest(want, o);
  });
  say(`replayed partition ${p}: ${replayed} records so far (${Math.round(replayed / ((Date.now() - replayStarted) / 1000))}/s)`);
}
const got: Digest = new Map();
let outputs = 0;
for (const [p] of await endOffsets({ brokers }, output)) {
  await readPartition(kafka, output, p, undefined, async (records) => {
    for (const r of records) { addToDigest(got, JSON.parse(Buffer.from(r.value!).toString()) as Parameters<typeof addToDigest>[1]); outputs++; }
  });
}
let differing = 0;
for (const c of new Set([...want.keys(), ...got.keys()])) {
  const a = want.get(c); const b = got.get(c);
  if (a?.n !== b?.n || a?.h !== b?.h) { if (differing < 5) say(`customer ${c}: replay ${a?.n ?? 0} events, topic ${b?.n ?? 0}`); differing++; }
}
const expectedOutputs = [...want.values()].reduce((s, x) => s + x.n, 0);

// Verdicts.
const half = samples.filter((s) => s.second >= (minutes * 60) / 2);
const maxLagLastHalf = Math.max(0, ...half.map((s) => s.lagRecords));
const keptUp = drained && drainSeconds <= 60 && maxLagLastHalf <= rate * 10;
const quarter = (q: number): Sample[] => samples.filter((s) => s.second >= (q * minutes * 60) / 4 && s.second < ((q + 1) * minutes * 60) / 4);
const peak = (xs: Sample[]): number => Math.max(0, ...xs.map((s) => s.rssMb));
const levelled = peak(quarter(3)) <= peak(quarter(1)) * 1.15;
const deadLettered = dlq === counts.bad + counts.skewed && replayBad === dlq;
const equal = differing === 0 && outputs === expectedOutputs;
const pass = keptUp && levelled && deadLettered && equal;

const lines = [
  `# Soak: ${minutes} min at ${rate} events/s`,
  '',
  `\`node dist/bench/soak.js --minutes ${minutes} --rate ${rate} --partitions ${partitions} --workers ${workers} --customers ${customers}\`, ${new Date().toISOString().slice(0, 10)}`,
  '',
  `| | |`,
  `|---|---|`,
  `| records | ${total} in ${producedSeconds.toFixed(0)} s (${Math.round(total / producedSeconds)}/s): ${counts.good} retail, ${counts.hot} from the hot customer, ${counts.bad} bad, ${counts.skewed} a year ahead |`,
  `| kept up | ${keptUp ? 'yes' : 'NO'}: highest lag in the second half ${maxLagLastHalf} records (${(maxLagLastHalf / rate).toFixed(1)} s of input); drained ${drained ? `${drainSeconds.toFixed(1)} s` : 'not'} after the last record |`,
  `| memory | ${levelled ? 'levelled off' : 'GREW'}: peak RSS per quarter ${[0, 1, 2, 3].map((q) => peak(quarter(q)).toFixed(0)).join(' / ')} MB |`,
  `| dead-letter topic | ${dlq} records (${counts.bad} bad + ${counts.skewed} skewed produced; replay refuses ${replayBad}) |`,
  `| output | ${outputs} enter/leave events; replay of the same records: ${expectedOutputs}; customers differing: ${differing} |`,
  `| verdict | ${pass ? 'PASS' : 'FAIL'} |`,
  '',
  'Samples (every 10 s): second, produced, lag (records), RSS (MB)',
  '',
  '```',
  ...samples.map((s) => `${String(s.second).padStart(5)} ${String(s.produced).padStart(10)} ${String(s.lagRecords).padStart(8)} ${s.rssMb.toFixed(0).padStart(6)}`),
  '```',
  '',
];
process.stdout.write(lines.slice(0, 13).join('\n') + '\n');
if (out) { await writeFile(out, lines.join('\n')); say(`written to ${out}`); }

// The broker is shared: the run's topics and group go.
const admin = createAdmin({ brokers });
await admin.connect();
try {
  const existing = new Set(await admin.listTopics());
  const mine = [input, output, membershipTopicFor(output), deadLetterTopicFor(input), changelogTopicFor(group)].filter((t) => existing.has(t));
  await admin.deleteTopics({ topics: mine }).catch(() => undefined);
  await admin.deleteGroups([group]).catch(() => undefined);
} finally {
  await admin.disconnect();
}
if (pass) await rm(work, { recursive: true, force: true }); else say(`engine log and state kept in ${work}`);
process.exitCode = pass ? 0 : 1;
