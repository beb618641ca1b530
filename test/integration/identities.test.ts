/**
 * Identities and erasure under `aud run --exactly-once` on the real broker
 * (customer-lifecycle.md, sections 2 and 3), with the web shop example:
 * anonymous browsing, a sign-up, a log-in on a second device, records keyed
 * by whichever identifier they carry. The output equals `aud replay`'s
 * across a restart that lost the disk (the profiles come back from the
 * changelog); the query API answers for any identifier and lists them;
 * `aud forget` erases the customer: leaves with reason erasure, a receipt in
 * the log without the identifier, a 404 afterwards, a returning cookie
 * starts afresh; and once the topics are compacted and the store reopened,
 * none of the erased identifiers is left in the state directory, the
 * changelog or the membership topic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTopics } from '../../connectors/kafka/admin.js';
import { compileFiles } from '../../dsl/compile.js';
import type { OutputEvent } from '../../engine/output-event.js';
import { replay } from '../../engine/replay.js';
import { changelogTopicFor, membershipTopicFor } from '../../runtime/naming.js';
import { createTopic, produceJson, readTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { repo } from '../support/examples.js';

const rules = [join(repo, 'examples/webshop/webshop.aud')];
const cli = join(dirname(fileURLToPath(import.meta.url)), '../../cli/aud.js');

/** Midnight (UTC) five days ago: the erasure (at the wall clock) then comes while the customer is still in audiences. */
const DAY0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 5 * 86_400_000;
/** An instant `day` days after DAY0, at HH:MM, as ISO text. */
function T(day: number, hhmm: string): string {
  const [h, m] = hhmm.split(':').map(Number);
  return new Date(DAY0 + day * 86_400_000 + (h! * 60 + m!) * 60_000).toISOString();
}

const view = (anon: string | null, ts: string, url: string, category: string, extra: Record<string, string> = {}) =>
  ({ type: 'page_view', ...(anon ? { anonymous_id: anon } : {}), ts, url, category, ...extra });
/** Before the restart: two devices of one person, merged when she logs in on the first. */
const FIRST: Record<string, unknown>[] = [
  view('cookie-1', T(0, '10:00'), '/shoes/1', 'shoes'),
  view('cookie-1', T(0, '10:01'), '/shoes/2', 'shoes'),
  { type: 'add_to_cart', anonymous_id: 'cookie-1', ts: T(0, '10:02'), sku: 's-2', price: 120 },
  { type: 'sign_up', anonymous_id: 'cookie-1', email: 'ann@example.com', ts: T(0, '10:03'), plan: 'free' },
  view('phone-7', T(0, '18:00'), '/shoes/3', 'shoes'),
  view('phone-7', T(0, '18:01'), '/account', 'account', { user_id: 'u-42' }),
  view('cookie-1', T(1, '09:00'), '/home', 'home', { user_id: 'u-42' }),
  { type: 'purchase', user_id: 'u-42', ts: T(1, '09:05'), order_id: 'o-1', amount: 240 },
];
/** After the restart: the phone, anonymous again, is still u-42's (the profile came back from the changelog). */
const SECOND: Record<string, unknown>[] = [
  { type: 'add_to_cart', anonymous_id: 'phone-7', ts: T(2, '10:00'), sku: 's-5', price: 30 },
  view('bob-cookie', T(2, '12:30'), '/shoes/9', 'shoes'),
];
/** After the erasure: the cookie comes back, a stranger now. */
const THIRD: Record<string, unknown>[] = [
  view('cookie-1', T(10, '10:00'), '/shoes/1', 'shoes'),
  view('cookie-1', T(10, '10:01'), '/shoes/2', 'shoes'),
  view('cookie-1', T(10, '10:02'), '/shoes/3', 'shoes'),
  view('bob-cookie', T(10, '11:00'), '/shoes/1', 'shoes'),
];
/** Identifiers of the erased person, none of which may be left anywhere it is kept. */
const ERASED = ['ann@example.com', 'u-42', 'phone-7'];

function line(e: OutputEvent): string {
  return e.type === 'decision' ? '' : `${e.at} ${e.customer} ${e.type} ${e.audience} v${e.version} ${e.reason}`;
}

/** Keyed by whichever identifier the record carries: the engine resolves them all. */
function keyOf(e: Record<string, unknown>): string {
  return String(e['user_id'] ?? e['email'] ?? e['anonymous_id'] ?? e['type']);
}

function filesHolding(dir: string, text: string): string[] {
  const needle = Buffer.from(text);
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p); else if (readFileSync(p).includes(needle)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

async function getJson(base: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(base + path);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('aud run --exactly-once with identities: merges and an erasure as replay has them, across a restart from the changelog; nothing of the erased customer left once compacted', async () => {
  const input = uniqueTopic('ident-in');
  const output = uniqueTopic('ident-out');
  const group = `g-${input}`;
  await createTopic(input, 1);
  // Compacted at once: the broker's cleaner runs every 15 s, and tombstones go in its next pass.
  const compactNow = { 'cleanup.policy': 'compact', 'segment.ms': '100', 'min.cleanable.dirty.ratio': '0.001', 'delete.retention.ms': '0', 'min.compaction.lag.ms': '0' };
  await ensureTopics({ brokers: testBrokers() }, [
    { topic: changelogTopicFor(group), partitions: 1, config: compactNow },
    { topic: membershipTopicFor(output), partitions: 1, config: compactNow },
  ]);
  const work = await mkdtemp(join(tmpdir(), 'aud-ident-'));
  const stateDir = join(work, 'state');
  const args = [...rules, '--brokers', testBrokers(), '--topic', input, '--output-topic', output,
    '--state-dir', stateDir, '--group', group, '--clock', 'event', '--exactly-once', '--http', '0'];
  const produce = (events: Record<string, unknown>[]) => produceJson(input, events.map((e) => ({ key: keyOf(e), value: JSON.stringify(e) })));
  const compiled = await compileFiles(rules);
  const replayed = async (events: Record<string, unknown>[]) => {
    const out: string[] = [];
    await replay(compiled.plan!, events.map((value) => ({ value })), { onOutput: (o) => { out.push(...o.map(line)); } });
    return out;
  };
  const got = async (n: number) => (await readTopic(output, { expected: n, timeoutMs: 60_000 })).map((r) => line(JSON.parse(String(r.value)) as OutputEvent));
  const portOf = (e: EngineProcess) => /url=http:\/\/[^:]+:(\d+)/.exec(e.logs.find((l) => /query API listening/.test(l))!)![1];

  let engine: EngineProcess | undefined;
  try {
    engine = new EngineProcess(args);
    await engine.waitForLog(/partition assigned/);
    await produce(FIRST);
    const first = await replayed(FIRST);
    assert.ok(first.includes(`${T(1, '09:00')} ann@example.com leave cart_not_bought v2 merge`), first.join('\n'));
    assert.deepEqual(await got(first.length), first);

    // Any identifier finds the profile, which lists them all.
    const base = `http://127.0.0.1:${portOf(engine)}`;
    const byCookie = await getJson(base, '/customers/cookie-1');
    assert.equal(byCookie.status, 200);
    assert.equal(byCookie.body['customer'], 'u-42');
    assert.deepEqual(byCookie.body['identifiers'], { user_id: ['u-42'], email: ['ann@example.com'], anonymous_id: ['cookie-1', 'phone-7'] });
    assert.deepEqual((byCookie.body['audiences'] as Record<string, unknown>)['big_spender'], { member: true, version: 1 });
    assert.equal((await getJson(base, '/customers/ann@example.com')).body['customer'], 'u-42');
    assert.equal(await engine.stop(), 0);
    // aud why from the changelog: an identifier finds the profile there too.
    const why = JSON.parse(execFileSync(process.execPath, [cli, 'why', ...rules, '--brokers', testBrokers(), '--topic', input, '--group', group, '--customer', 'phone-7', '--json'], { encoding: 'utf8' })) as { customer: string };
    assert.equal(why.customer, 'u-42');

    // Lose the disk: the profiles come back from the changelog with the customers.
    await rm(stateDir, { recursive: true, force: true });
    engine = new EngineProcess(args);
    await engine.waitForLog(/partition assigned/);
    await produce(SECOND);
    const second = await replayed([...FIRST, ...SECOND]);
    assert.ok(second.includes(`${T(2, '10:00')} u-42 enter cart_not_bought v3 event`), second.join('\n'));
    assert.deepEqual(await got(second.length), second);

    // aud forget writes the record; the engine erases the whole profile by its e-mail.
    const said = execFileSync(process.execPath, [cli, 'forget', 'ann@example.com', ...rules, '--brokers', testBrokers(), '--topic', input, '--field', 'email'], { encoding: 'utf8' });
    assert.match(said, /erasure requested: an aud\.forget record on .* partition 0/);
    const forget = (await readTopic(input, { expected: FIRST.length + SECOND.length + 1, timeoutMs: 30_000 })).at(-1)!;
    const forgetRecord = JSON.parse(String(forget.value)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(forgetRecord).sort(), ['email', 'ts', 'type']);
    await engine.waitForLog(/erasure receipt/);
    await produce(THIRD);
    const all = await replayed([...FIRST, ...SECOND, forgetRecord, ...THIRD]);
    const erasures = all.filter((l) => / erasure$/.test(l));
    // Still browsing shoes (7 days), a big spender (90 days) and multi-device (30 days) when erased.
    assert.deepEqual(erasures.map((l) => l.split(' ').slice(1).join(' ')),
      ['u-42 leave browsing_shoes v2 erasure', 'u-42 leave big_spender v2 erasure', 'u-42 leave multi_device v2 erasure'], all.join('\n'));
    assert.ok(all.includes(`${T(10, '10:02')} cookie-1 enter browsing_shoes v1 event`), all.join('\n'));
    assert.deepEqual(await got(all.length), all);

    const receipt = engine.logs.find((l) => /erasure receipt/.test(l))!;
    assert.match(receipt, /customers=1/);
    for (const id of ERASED) assert.ok(!engine.logs.some((l) => l.includes(id)), `no log line names ${id}`);
    const base2 = `http://127.0.0.1:${portOf(engine)}`;
    assert.equal((await getJson(base2, '/customers/u-42')).status, 404);
    assert.equal((await getJson(base2, '/customers/ann@example.com')).status, 404);
    const back = await getJson(base2, '/customers/cookie-1');
    assert.deepEqual([back.body['customer'], back.body['identifiers']], ['cookie-1', { anonymous_id: ['cookie-1'] }]);
    assert.equal(await engine.stop(), 0);

    // The next open rewrites the store's files: nothing deleted is left in them.
    engine = new EngineProcess(args);
    await engine.waitForLog(/partition assigned/);
    assert.equal(await engine.stop(), 0);
    for (const id of ERASED) assert.deepEqual(filesHolding(stateDir, id), [], `${id} in the state directory`);

    // The changelog and the membership topic, once compacted, hold none of them either (tombstones included).
    const left = async (): Promise<string[]> => {
      const found: string[] = [];
      for (const topic of [changelogTopicFor(group), membershipTopicFor(output)]) {
        for (const r of await readTopic(topic, { expected: Number.MAX_SAFE_INTEGER, timeoutMs: 3_000, settleMs: 0 })) {
          const text = `${r.key ?? ''} ${r.value ?? ''}`;
          for (const id of ERASED) if (text.includes(id)) found.push(`${topic}@${r.offset}: ${id}`);
        }
      }
      return found;
    };
    const deadline = Date.now() + 150_000;
    let found = await left();
    for (let round = 0; found.length > 0 && Date.now() < deadline; round++) {
      // New records after a pause roll each topic's active segment (segment.ms), which the cleaner never touches:
      // a new visitor's three shoe views write state (changelog) and an enter (membership topic).
      await new Promise((res) => setTimeout(res, 5_000));
      engine = new EngineProcess(args);
      await engine.waitForLog(/partition assigned/);
      await produce([0, 1, 2].map((k) => view(`visitor-${round}`, T(11 + round, `10:0${k}`), `/shoes/${k}`, 'shoes')));
      await new Promise((res) => setTimeout(res, 1_500));
      assert.equal(await engine.stop(), 0);
      found = await left();
    }
    assert.deepEqual(found, []);
  } finally {
    engine?.kill();
    await rm(work, { recursive: true, force: true });
  }
});

test('aud run refuses an identity source on an input topic of more than one partition, saying why and what to do', async () => {
  const input = uniqueTopic('ident-two');
  await createTopic(input, 2);
  const work = await mkdtemp(join(tmpdir(), 'aud-ident-two-'));
  try {
    const r = spawnSync(process.execPath, [cli, 'run', ...rules, '--brokers', testBrokers(), '--topic', input, '--state-dir', join(work, 'state')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr + r.stdout, /resolve identities .* has 2 partitions: identities are resolved on one partition.*Read them from a topic of one partition/);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
