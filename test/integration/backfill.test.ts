/**
 * `aud backfill` then `aud run`, on the real broker: history in three files
 * (JSON Lines, CSV, an Avro container) is loaded into the state of a
 * two-partition deployment and its changelog; the engine then reads live
 * events. A customer whom the history put in audiences gets no enter from
 * the first live event (with empty state, that event alone would make her
 * enter, as `aud replay` of the live events shows); one the live event takes
 * over a threshold enters, with the version that counts the history's
 * changes. A second backfill onto the same state or changelog is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import { partitionFor } from '../../connectors/kafka/partitioner.js';
import { createTopic, produceJson, readTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { repo } from '../support/examples.js';
import { SHOP_EVENT_FIELDS, writeAvroContainer } from '../support/avro-files.js';

const cli = join(repo, 'dist/cli/aud.js');
const rules = join(repo, 'examples/thresholds/thresholds.aud');

function aud(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: repo, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Out { type: string; audience: string; customer: string; at: string; version: number; reason: string; cause?: unknown }

function withoutCause(o: Out): Omit<Out, 'cause'> {
  const { cause: _cause, ...rest } = o;
  return rest;
}

const purchase = (customer: string, ts: string, amount: number, channel: string) =>
  ({ customer_id: customer, type: 'purchase', ts, amount, channel });

const SHOP_EVENT = avro.Type.forSchema({ type: 'record', name: 'ShopEvent', fields: SHOP_EVENT_FIELDS } as avro.Schema);

test('aud backfill from JSON Lines, CSV and Avro, then aud run: no enter for what the history already holds, the right version for a new one', async () => {
  const [alice, bob] = ['alice', 'bob'];
  assert.notEqual(partitionFor('murmur2', alice, 2), partitionFor('murmur2', bob, 2), 'the two customers live in different partitions');
  const input = uniqueTopic('backfill-in');
  const output = uniqueTopic('backfill-out');
  const group = `g-${input}`;
  await createTopic(input, 2);
  const dir = await mkdtemp(join(tmpdir(), 'aud-backfill-it-'));
  const stateDir = join(dir, 'state');
  try {
    // History, in time order across the three files. alice: three store purchases of 30 and a
    // refund (net_positive from the second purchase, store_regular from the third). bob: 120 on
    // the web (weekly_spender, net_positive, online_spender), two store purchases of 1, then the
    // 120 ages out of the 7-day window by --until (leaves weekly_spender and online_spender).
    const jsonl = join(dir, 'history.jsonl');
    await writeFile(jsonl, [
      purchase(alice, '2026-02-01T10:00:00Z', 30, 'store'),
      purchase(bob, '2026-02-01T11:00:00Z', 120, 'web'),
      purchase(bob, '2026-02-02T10:00:00Z', 1, 'store'),
      purchase(alice, '2026-02-03T10:00:00Z', 30, 'store'),
    ].map((r) => JSON.stringify(r)).join('\n') + '\n');
    const csv = join(dir, 'history.csv');
    await writeFile(csv, [
      'customer_id,type,ts,amount,channel',
      `${bob},purchase,2026-02-04T12:00:00Z,1,store`,
      `${alice},refund,2026-02-04T13:00:00Z,5,`,
    ].join('\n') + '\n');
    const avroFile = join(dir, 'history.avro');
    await writeAvroContainer(avroFile, SHOP_EVENT, [
      { customer_id: alice, type: 'purchase', ts: Date.parse('2026-02-05T10:00:00Z'), amount: 30, channel: 'store', url: null },
      { customer_id: 'carol', type: 'page_view', ts: Date.parse('2026-02-05T11:00:00Z'), amount: null, channel: null, url: '/sale' },
      { customer_id: null, type: 'purchase', ts: Date.parse('2026-02-05T12:00:00Z'), amount: 9, channel: 'web', url: null },
    ]);

    const b = aud('backfill', rules, '--input', jsonl, csv, avroFile, '--state-dir', stateDir, '--brokers', testBrokers(),
      '--topic', input, '--group', group, '--until', '2026-02-10T00:00:00Z');
    assert.equal(b.code, 0, b.stderr);
    assert.ok(b.stderr.startsWith(`${avroFile}: record 3: bad record skipped: no customer id: field "customer_id" is missing\n`), b.stderr);
    assert.match(b.stderr, new RegExp(`backfilled 9 records in [\\d.]+ s \\(\\d+ records/s\\) into 2 partition\\(s\\) of ${stateDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ` +
      '7 applied, 1 of undeclared types skipped, 1 bad; 2 customers; ' +
      'members: weekly_spender 0, store_regular 1, net_positive 2, online_spender 0; 7 enter/leave changes in the history \\(not emitted\\); ' +
      `\\d+ records written to ${group.replace(/[.]/g, "\\.")}-state-changelog`), b.stderr);

    // The live events alone, from empty state: alice would enter net_positive.
    const live = [purchase(alice, '2026-02-11T09:00:00Z', 60, 'store'), purchase(bob, '2026-02-11T10:00:00Z', 100, 'store')];
    const liveFile = join(dir, 'live.jsonl');
    await writeFile(liveFile, live.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const fromEmpty = aud('replay', rules, '--input', liveFile);
    assert.equal(fromEmpty.code, 0, fromEmpty.stderr);
    assert.ok(fromEmpty.stdout.split('\n').some((l) => l.includes('"audience":"net_positive","customer":"alice"')), fromEmpty.stdout);

    const engine = new EngineProcess([rules, '--brokers', testBrokers(), '--topic', input, '--output-topic', output,
      '--state-dir', stateDir, '--group', group, '--clock', 'event']);
    try {
      await engine.waitForLog(/partition assigned/, 2);
      await produceJson(input, live.map((r) => ({ key: r.customer_id, value: JSON.stringify(r) })));
      const got = (await readTopic(output, { expected: 2, timeoutMs: 60_000, settleMs: 3000 })).map((r) => JSON.parse(String(r.value)) as Out);
      assert.deepEqual(got.map(withoutCause), [
        // Version 3: bob entered (1) and left (2) weekly_spender in the history.
        { type: 'enter', audience: 'weekly_spender', customer: bob, at: '2026-02-11T10:00:00.000Z', version: 3, reason: 'event' },
        { type: 'enter', audience: 'store_regular', customer: bob, at: '2026-02-11T10:00:00.000Z', version: 1, reason: 'event' },
      ], 'alice, in net_positive and store_regular from the history, gets nothing');
      assert.equal(await engine.stop(), 0);
    } finally {
      await engine.stop();
    }

    const again = aud('backfill', rules, '--input', jsonl, '--state-dir', stateDir, '--partitions', '2', '--topic', input);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: the state of partition 0 is not empty: backfill builds the state of a new deployment\. Point --state-dir at an empty directory/m);
    const changelogFull = aud('backfill', rules, '--input', jsonl, '--state-dir', join(dir, 'fresh'), '--brokers', testBrokers(), '--topic', input, '--group', group);
    assert.equal(changelogFull.code, 1);
    assert.match(changelogFull.stderr, /^error: the changelog \S+-state-changelog already holds state: backfill builds the state of a new deployment \(use a new --group/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
