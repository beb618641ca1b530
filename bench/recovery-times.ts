/**
 * Recovery times, measured on a real broker with the built CLI:
 *
 *   node dist/bench/recovery-times.js [--customers 30000] [--days 40] [--partitions 4] [--exactly-once] [--brokers 127.0.0.1:9092]
 *
 * 1. one engine works through the generated retail stream and stops cleanly;
 * 2. warm restart: the same state directory (time to own every partition);
 * 3. lost disk: the state directory deleted, every partition restored from
 *    the changelog (records, seconds, records/s per partition);
 * 4. takeover after kill -9, dynamic membership (session.timeout.ms=10000):
 *    two engines share the partitions; one is killed; time until the other
 *    owns them all;
 * 5. the same with static membership (group.instance.id): the killed engine
 *    restarted at once; time until it owns its partitions again.
 *
 * Prints one line per measurement. The run's topics are deleted at the end.
 */
import { readdir, readFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endOffsets } from '../connectors/kafka/admin.js';
import { createAdmin } from '../connectors/kafka/client.js';
import { changelogTopicFor } from '../runtime/naming.js';
import { generateRetailEvents } from '../examples/retail/generate.js';
import { createTopic, uniqueTopic } from '../test/support/broker.js';
import { EngineProcess } from '../test/support/engine-process.js';
import { produceEvents, retailRules, untilCommitted } from '../test/support/group-run.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const brokers = arg('brokers', process.env.AUD_TEST_BROKERS ?? '127.0.0.1:9092');
process.env.AUD_TEST_BROKERS = brokers;
const partitions = Number(arg('partitions', '4'));
const exactlyOnce = process.argv.includes('--exactly-once');
const say = (s: string): void => { process.stderr.write(`[recovery] ${s}\n`); };

const input = uniqueTopic('recovery-in');
const output = uniqueTopic('recovery-out');
const group = `g-${input}`;
const work = await mkdtemp(join(tmpdir(), 'aud-recovery-'));
const engine = (name: string, extra: string[] = []): EngineProcess => new EngineProcess([retailRules, '--brokers', brokers, '--topic', input,
  '--output-topic', output, '--state-dir', join(work, name), '--group', group, '--clock', 'event',
  '--kafka', 'session.timeout.ms=10000', '--kafka', 'heartbeat.interval.ms=1000', ...(exactlyOnce ? ['--exactly-once'] : []), ...extra]);
const field = (line: string, name: string): string => new RegExp(`${name}=(\\S+)`).exec(line)?.[1] ?? '?';
async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    total += e.isDirectory() ? await bytesUnder(join(dir, e.name)) : (await stat(join(dir, e.name))).size;
  }
  return total;
}
/** Resident memory of a running engine (Linux), MB. */
async function rssMb(e: EngineProcess): Promise<string> {
  const status = await readFile(`/proc/${e.pid}/status`, 'utf8').catch(() => '');
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return kb ? (Number(kb) / 1024).toFixed(0) : '?';
}
const assignedLines = (e: EngineProcess): string[] => e.logs.filter((l) => /partition assigned/.test(l));
const ownsAll = async (e: EngineProcess, count: number): Promise<void> => e.waitForLog(/partition assigned/, count, 180_000);

try {
  await createTopic(input, partitions);
  const events = [...generateRetailEvents({ customers: Number(arg('customers', '30000')), days: Number(arg('days', '40')), seed: 11, start: new Date('2026-01-01T00:00:00Z') })];
  await produceEvents(input, partitions, events);
  say(`${events.length} events on ${partitions} partitions, ${exactlyOnce ? 'exactly-once' : 'at-least-once'}`);

  // 1. Work through the stream.
  let t0 = Date.now();
  let a = engine('a');
  await ownsAll(a, partitions);
  await untilCommitted(group, input, await endOffsets({ brokers }, input), 15 * 60_000);
  const customers = new Set(events.map((e) => e.customer_id)).size;
  console.log(`processed ${events.length} events of ${customers} customers in ${((Date.now() - t0) / 1000).toFixed(1)} s; engine RSS ${await rssMb(a)} MB`);
  await a.stop();
  const stateBytes = await bytesUnder(join(work, 'a'));
  console.log(`state directory after a clean stop: ${(stateBytes / 1e6).toFixed(1)} MB, ${Math.round(stateBytes / customers)} bytes per customer`);
  const changelogEnds = await endOffsets({ brokers }, changelogTopicFor(group));
  say(`changelog end offsets (records, uncompacted, incl. transaction markers): ${[...changelogEnds.values()].join(', ')}`);

  // 2. Warm restart.
  t0 = Date.now();
  a = engine('a');
  await ownsAll(a, partitions);
  console.log(`warm restart: all ${partitions} partitions owned ${((Date.now() - t0) / 1000).toFixed(1)} s after spawn; ` +
    `openMs per partition ${assignedLines(a).map((l) => field(l, 'openMs')).join(', ')}`);
  await a.stop();

  // 3. Lost disk.
  await rm(join(work, 'a'), { recursive: true, force: true });
  t0 = Date.now();
  a = engine('a');
  await ownsAll(a, partitions);
  const restored = a.logs.filter((l) => /state restored from changelog/.test(l));
  console.log(`lost state directory: all ${partitions} partitions owned ${((Date.now() - t0) / 1000).toFixed(1)} s after spawn; per partition ` +
    restored.map((l) => `${field(l, 'records')} records in ${field(l, 'seconds')} s (${field(l, 'recordsPerSecond')}/s)`).join('; '));
  await a.stop();

  // 4. Takeover after kill -9, dynamic membership.
  a = engine('a');
  await ownsAll(a, partitions);
  let b = engine('b');
  await b.waitForLog(/partition assigned/, 1, 120_000);
  await a.waitForLog(/partition revoked/, 1, 60_000);
  await new Promise((r) => setTimeout(r, 3000));
  const bOwned = assignedLines(b).length;
  t0 = Date.now();
  a.kill();
  await ownsAll(b, partitions);
  console.log(`takeover after kill -9, dynamic membership, session.timeout.ms=10000: the survivor owned the ${partitions - bOwned} partition(s) ` +
    `of the killed engine ${((Date.now() - t0) / 1000).toFixed(1)} s after the kill; openMs ${assignedLines(b).slice(bOwned).map((l) => field(l, 'openMs')).join(', ')}`);
  await b.stop();

  // 5. Static membership: the killed engine comes back at once.
  const staticArgs = (name: string): string[] => ['--kafka', `group.instance.id=${group}-${name}`];
  a = engine('a', staticArgs('a'));
  await a.waitForLog(/partition assigned/, 1, 120_000);
  b = engine('b', staticArgs('b'));
  await b.waitForLog(/partition assigned/, 1, 120_000);
  await new Promise((r) => setTimeout(r, 5000));
  const aOwned = assignedLines(a).length - a.logs.filter((l) => /partition revoked/.test(l)).length;
  t0 = Date.now();
  a.kill();
  a = engine('a', staticArgs('a'));
  await a.waitForLog(/partition assigned/, aOwned, 120_000);
  console.log(`restart after kill -9, static membership: the restarted engine owned its ${aOwned} partition(s) again ` +
    `${((Date.now() - t0) / 1000).toFixed(1)} s after the kill (process start included); openMs ${assignedLines(a).map((l) => field(l, 'openMs')).join(', ')}`);
  await a.stop();
  await b.stop();
} finally {
  const admin = createAdmin({ brokers });
  await admin.connect();
  const mine = (await admin.listTopics()).filter((t) => t.includes(input) || t.includes(output) || t === changelogTopicFor(group));
  if (mine.length > 0) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
  await admin.deleteGroups([group]).catch(() => undefined);
  await admin.disconnect();
  await rm(work, { recursive: true, force: true });
}
