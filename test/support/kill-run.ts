/**
 * A kill -9 fault run, shared by bench/fault-kill.ts (long) and the CI test
 * test/integration/fault.test.ts (short): produce a generated retail stream to
 * a one-partition topic, start `aud run` (event clock), kill -9 it at random
 * moments and restart it on the same state directory, `kills` times; let the
 * last run finish; compare the output topic (read_committed) with replay of
 * the same input. At-least-once or, with `exactlyOnce`, transactions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTopics, endOffsets } from '../../connectors/kafka/admin.js';
import { createAdmin } from '../../connectors/kafka/client.js';
import { KafkaSink } from '../../connectors/kafka/sink.js';
import { compileSources } from '../../dsl/compile.js';
import { replay } from '../../engine/replay.js';
import { generateRetailEvents } from '../../examples/retail/generate.js';
import { readTopic } from './broker.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const rules = join(repo, 'examples/retail/retail.aud');
const cli = join(repo, 'dist/cli/aud.js');

export interface KillRunOptions {
  brokers: string;
  kills: number;
  customers: number;
  days: number;
  /** Longest wait before a kill, after the engine owns its partition (ms). */
  maxKillDelayMs: number;
  /** Run the engine with --exactly-once (then the output must equal replay event for event). */
  exactlyOnce?: boolean;
  say?: (line: string) => void;
}

export interface KillRunResult {
  killsSurvived: number;
  eventsIn: number;
  eventsOut: number;
  expected: number;
  missing: number;
  duplicates: number;
  unexpected: number;
  /** The output topic is replay's output, in the same order, nothing more. */
  identical: boolean;
}

export async function runKillFaults(opts: KillRunOptions): Promise<KillRunResult> {
  const { brokers, kills } = opts;
  const say = opts.say ?? (() => undefined);
  const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const input = `fault.in.${run}`;
  const output = `fault.out.${run}`;
  const stateDir = join(tmpdir(), `aud-fault-${run}`);
  const group = `fault-${run}`;

  const events = [...generateRetailEvents({ customers: opts.customers, days: opts.days, seed: 11, start: new Date('2026-01-01T00:00:00Z') })];
  await ensureTopics({ brokers }, [{ topic: input, partitions: 1 }]);
  const sink = new KafkaSink({ brokers });
  await sink.connect();
  for (let i = 0; i < events.length; i += 5000) {
    await sink.send(events.slice(i, i + 5000).map((e) => ({ topic: input, key: String(e.customer_id), value: JSON.stringify(e) })));
  }
  await sink.disconnect();
  say(`produced ${events.length} events to ${input}`);

  function start(): { child: ChildProcess; ready: Promise<void>; exited: Promise<number | null> } {
    const child = spawn(process.execPath, [cli, 'run', rules, '--brokers', brokers, '--topic', input, '--output-topic', output,
      '--state-dir', stateDir, '--group', group, '--clock', 'event',
      // Static membership: the restarted process takes the partition back at once instead of
      // waiting for the killed one's session to time out.
      '--kafka', `group.instance.id=${group}-instance`, '--kafka', 'session.timeout.ms=10000',
      ...(opts.exactlyOnce ? ['--exactly-once'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => { for (const line of d.toString().split('\n')) if (/records skipped|unfinished|restored|error/.test(line)) say(line); });
    let log = '';
    const ready = new Promise<void>((res) => child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      if (/partition assigned/.test(log)) res();
    }));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    return { child, ready, exited };
  }

  async function committedOffset(): Promise<bigint> {
    const admin = createAdmin({ brokers });
    await admin.connect();
    try {
      const offsets = await admin.fetchOffsets({ groupId: group, topics: [input] });
      const p = offsets[0]?.partitions[0];
      return p && Number(p.offset) >= 0 ? BigInt(p.offset) : 0n;
    } finally {
      await admin.disconnect();
    }
  }

  const end = (await endOffsets({ brokers }, input)).get(0)!;
  let survived = 0;
  for (let k = 0; k < kills; k++) {
    const e = start();
    await e.ready;
    await new Promise((r) => setTimeout(r, 200 + Math.floor(Math.random() * (opts.maxKillDelayMs - 200))));
    e.child.kill('SIGKILL');
    await e.exited;
    survived++;
    say(`kill ${survived}/${kills}: committed offset ${await committedOffset()} of ${end}`);
  }

  // Let it finish: run until the group has committed the end of the input, then stop cleanly.
  const last = start();
  await last.ready;
  while ((await committedOffset()) < end) await new Promise((r) => setTimeout(r, 500));
  last.child.kill('SIGTERM');
  await last.exited;

  const compiled = compileSources(new Map([[rules, readFileSync(rules, 'utf8')]]));
  const expected: string[] = [];
  await replay(compiled.plan!, events.map((value) => ({ value })), {
    onOutput: (out) => { for (const o of out) expected.push(JSON.stringify([o.type, o.audience, o.customer, o.at, o.version, o.reason])); },
  });
  const raw = (await readTopic(output, { expected: expected.length * 2, timeoutMs: 20_000, settleMs: 1000 })).map((r) => JSON.parse(String(r.value)) as Record<string, unknown>);
  const got = raw.map((o) => JSON.stringify([o.type, o.audience, o.customer, o.at, o.version, o.reason]));
  const causeOf = new Map(raw.map((o, i) => [got[i]!, `${JSON.stringify(o.cause)} @${i}`]));
  const want = new Map<string, number>();
  for (const k of expected) want.set(k, (want.get(k) ?? 0) + 1);
  const have = new Map<string, number>();
  for (const k of got) have.set(k, (have.get(k) ?? 0) + 1);
  let missing = 0;
  let duplicates = 0;
  let unexpected = 0;
  for (const [k, n] of want) { const h = have.get(k) ?? 0; if (h < n) missing += n - h; if (h > n) duplicates += h - n; }
  for (const [k, n] of have) if (!want.has(k)) unexpected += n;
  const missingKeys = [...want].filter(([k, n]) => (have.get(k) ?? 0) < n).map(([k]) => k);
  const unexpectedKeys = [...have].filter(([k]) => !want.has(k)).map(([k]) => k);
  for (const k of missingKeys.slice(0, 4)) say(`missing ${k}`);
  for (const k of unexpectedKeys.slice(0, 4)) say(`unexpected ${k} cause ${causeOf.get(k)}`);
  await rm(stateDir, { recursive: true, force: true });
  const identical = got.length === expected.length && got.every((k, i) => k === expected[i]);
  return { killsSurvived: survived, eventsIn: events.length, eventsOut: got.length, expected: expected.length, missing, duplicates, unexpected, identical };
}
