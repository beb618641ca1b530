/**
 * A kill -9 fault run, shared by bench/fault-kill.ts (long) and the CI test
 * test/integration/fault.test.ts (short).
 *
 * Produce a generated retail stream to a topic of `partitions` partitions
 * (our own partitioning, so that replay can run per partition on the clock
 * each partition sees), start `aud run` (event clock), kill -9 it at random
 * moments and restart it, `kills` times; let the last run finish; compare the
 * output topic (read_committed) with replay of the same input, per partition.
 * At-least-once or, with `exactlyOnce`, transactions.
 *
 * Scenarios, combinable:
 * - `loseState`: the killed engine's state directory is deleted before it
 *   restarts, so every restart restores its partitions from the changelog;
 * - `engines: 2`: two engines in one group, each with its own state
 *   directory; each kill picks one, the other goes on (and, without static
 *   membership, takes the dead one's partitions over once its session times
 *   out); the second half of the input is produced while the kills happen;
 * - `pauseMs`: the chosen engine is frozen instead of killed, and wakes up
 *   as a zombie after the other took its partitions over.
 *
 * Every engine's log is written to `<workDir>/<engine>.log` (kept when the
 * run finds a difference, deleted otherwise), and the run's topics are
 * deleted at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTopics, endOffsets } from '../../connectors/kafka/admin.js';
import { createAdmin } from '../../connectors/kafka/client.js';
import { compileSources } from '../../dsl/compile.js';
import { changelogTopicFor, deadLetterTopicFor, membershipTopicFor } from '../../runtime/naming.js';
import { replay } from '../../engine/replay.js';
import { generateRetailEvents } from '../../examples/retail/generate.js';
import { identityEvents, identityKey, withIdentitySource } from '../../bench/workload/identity-workload.js';
import { readTopic } from './broker.js';
import { partitionOf, produceEvents } from './group-run.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const retailRules = join(repo, 'examples/retail/retail.aud');
const cli = join(repo, 'dist/cli/aud.js');

export interface KillRunOptions {
  brokers: string;
  kills: number;
  customers: number;
  days: number;
  /** Input partitions (default 1). */
  partitions?: number;
  /** Engines in the group (default 1). */
  engines?: 1 | 2;
  /** Delete the killed engine's state directory before restarting it. */
  loseState?: boolean;
  /** Give each engine a group.instance.id (default true): a restart takes its partitions back at once. */
  staticMembership?: boolean;
  /**
   * Instead of kill -9, freeze the chosen engine (SIGSTOP) for this long and
   * let it go on (SIGCONT): past its session timeout it is a zombie, whose
   * partitions another engine owns by then.
   */
  pauseMs?: number;
  /** Longest wait before a kill, after the (re)started engine owns a partition (ms). */
  maxKillDelayMs: number;
  /** Run the engines with --exactly-once (then the output must equal replay event for event). */
  exactlyOnce?: boolean;
  /** The rule files (default: examples/retail/retail.aud); they read the retail example's events. */
  rules?: string[];
  /**
   * Customers known by several identifiers (bench/workload/identity-workload.ts):
   * the rules' source resolves identities, the events are anonymous, linked
   * and erased now and then. One partition only.
   */
  identities?: boolean;
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
  /** Every customer's enter/leave events are replay's, in the same order, nothing more. */
  identical: boolean;
  seconds: number;
  /** Where the engines' logs are, when kept. */
  logDir: string | undefined;
}

interface Engine {
  name: string;
  child: ChildProcess;
  /** Resolves once the engine owns its partitions: all of them when alone, one when in a pair (or never). */
  assigned: Promise<void>;
  exited: Promise<number | null>;
}

/** One output event as compared: everything but `cause`. */
function eventKey(o: { type: string; audience?: string; decision?: string; offer?: string | null; score?: number | null; customer: string; at: string; version: number; reason: string }): string {
  return o.type === 'decision'
    ? JSON.stringify([o.type, o.decision, o.offer, o.score, o.customer, o.at, o.version, o.reason])
    : JSON.stringify([o.type, o.audience, o.customer, o.at, o.version, o.reason]);
}

export async function runKillFaults(opts: KillRunOptions): Promise<KillRunResult> {
  const started = Date.now();
  const { brokers, kills } = opts;
  const partitions = opts.partitions ?? 1;
  if (opts.identities && partitions !== 1) throw new Error('identities run on one partition (docs/design.md, "Identities")');
  const engineCount = opts.engines ?? 1;
  const staticMembership = opts.staticMembership ?? true;
  const say = opts.say ?? (() => undefined);
  const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const input = `fault.in.${run}`;
  const output = `fault.out.${run}`;
  const group = `fault-${run}`;
  const workDir = join(tmpdir(), `aud-fault-${run}`);
  await mkdir(workDir, { recursive: true });
  const stateDirOf = (name: string): string => join(workDir, `state-${name}`);

  const retail = generateRetailEvents({ customers: opts.customers, days: opts.days, seed: 11, start: new Date('2026-01-01T00:00:00Z') });
  const events = opts.identities ? [...identityEvents(retail, { seed: 5, forgetShare: 0.05 })] : [...retail];
  const keyOf = opts.identities ? identityKey : undefined;
  // With identities, the rules' source block names the identifier fields instead of the key.
  const rules = (opts.rules ?? [retailRules]).map((r) => {
    const text = readFileSync(r, 'utf8');
    if (!opts.identities || !/\bsource\s/.test(text)) return r;
    const path = join(workDir, `identities-${basename(r)}`);
    writeFileSync(path, withIdentitySource(text));
    return path;
  });
  await ensureTopics({ brokers }, [{ topic: input, partitions }]);
  // Two engines: the second half of the input arrives while they are killed.
  const upfront = engineCount === 1 ? events.length : Math.floor(events.length / 2);
  await produceEvents(input, partitions, events.slice(0, upfront), keyOf);
  say(`produced ${upfront} of ${events.length} events to ${input} (${partitions} partition(s)); ${engineCount} engine(s), ` +
    `${opts.exactlyOnce ? 'exactly-once' : 'at-least-once'}${opts.loseState ? ', state directory deleted at every kill' : ''}` +
    `${staticMembership ? ', static membership' : ', dynamic membership'}; logs in ${workDir}`);

  const logs = new Map<string, WriteStream>();
  function start(name: string): Engine {
    const log = logs.get(name) ?? createWriteStream(join(workDir, `${name}.log`), { flags: 'a' });
    logs.set(name, log);
    log.write(`---- start ${new Date().toISOString()}\n`);
    const child = spawn(process.execPath, [cli, 'run', ...rules, '--brokers', brokers, '--topic', input, '--output-topic', output,
      '--state-dir', stateDirOf(name), '--group', group, '--clock', 'event',
      // Static membership: the restarted process takes its partitions back at once instead of
      // waiting for the killed one's session to time out.
      ...(staticMembership ? ['--kafka', `group.instance.id=${group}-${name}`] : []),
      '--kafka', `session.timeout.ms=${staticMembership ? 10000 : 6000}`, '--kafka', 'heartbeat.interval.ms=1000',
      ...(opts.exactlyOnce ? ['--exactly-once'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
    let assignedOnce: () => void = () => undefined;
    const assigned = new Promise<void>((res) => { assignedOnce = res; });
    let buffer = '';
    let assignments = 0;
    child.stderr!.on('data', (d: Buffer) => {
      log.write(d);
      buffer += d.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (/partition assigned/.test(line) && ++assignments >= (engineCount === 1 ? partitions : 1)) assignedOnce();
        if (/records skipped|unfinished|given up|commit failed|error/.test(line)) say(`${name}: ${line}`);
      }
    });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    return { name, child, assigned, exited };
  }

  async function committed(): Promise<Map<number, bigint>> {
    const admin = createAdmin({ brokers });
    await admin.connect();
    try {
      const offsets = await admin.fetchOffsets({ groupId: group, topics: [input] });
      return new Map((offsets[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset) >= 0 ? BigInt(p.offset) : 0n]));
    } finally {
      await admin.disconnect();
    }
  }
  const progress = async (): Promise<string> => {
    const c = await committed();
    let sum = 0n;
    for (const v of c.values()) sum += v;
    return `committed ${sum} of ${produced} produced`;
  };

  // The rest of the input arrives while the kills happen: before each kill, the next slice is produced in the background.
  const rest = events.slice(upfront);
  let produced = upfront;
  let flowing: Promise<void> = Promise.resolve();
  const produceSlice = (k: number): void => {
    const slice = rest.slice(Math.floor((k * rest.length) / kills), Math.floor(((k + 1) * rest.length) / kills));
    if (slice.length === 0) return;
    flowing = flowing.then(async () => {
      for (let i = 0; i < slice.length; i += 2000) {
        await produceEvents(input, partitions, slice.slice(i, i + 2000), keyOf);
        produced += Math.min(2000, slice.length - i);
      }
    });
  };

  const engines: Engine[] = [];
  for (let i = 0; i < engineCount; i++) engines.push(start(String.fromCharCode(97 + i)));
  await Promise.all(engines.map((e) => e.assigned));
  let survived = 0;
  let logDir: string | undefined;
  try {
    for (let k = 0; k < kills; k++) {
      produceSlice(k);
      const victimIndex = Math.floor(Math.random() * engines.length);
      const victim = engines[victimIndex]!;
      // Each engine waits for an assignment (a dynamic member may get none for a while: do not wait forever).
      await Promise.race([victim.assigned, new Promise((r) => setTimeout(r, 20_000))]);
      await new Promise((r) => setTimeout(r, 200 + Math.floor(Math.random() * (opts.maxKillDelayMs - 200))));
      if (opts.pauseMs !== undefined) {
        // A zombie: frozen past its session, while the other engine takes its partitions; then it wakes up.
        victim.child.kill('SIGSTOP');
        await new Promise((r) => setTimeout(r, opts.pauseMs));
        victim.child.kill('SIGCONT');
        survived++;
        say(`pause ${survived}/${kills} (engine ${victim.name}, ${opts.pauseMs} ms): ${await progress()}`);
        continue;
      }
      victim.child.kill('SIGKILL');
      await victim.exited;
      survived++;
      if (opts.loseState) await rm(stateDirOf(victim.name), { recursive: true, force: true });
      say(`kill ${survived}/${kills} (engine ${victim.name}${opts.loseState ? ', state directory deleted' : ''}): ${await progress()}`);
      engines[victimIndex] = start(victim.name);
    }
    await flowing;

    // Let them finish: run until the group has committed the end of every partition, then stop cleanly.
    const ends = await endOffsets({ brokers }, input);
    const deadline = Date.now() + 15 * 60_000;
    for (let n = 0; ; n++) {
      const c = await committed();
      if ([...ends].every(([p, end]) => (c.get(p) ?? 0n) >= end)) break;
      if (Date.now() > deadline) throw new Error(`the group did not commit the end of ${input} in 15 minutes; logs in ${workDir}`);
      if (n % 20 === 19) say(`finishing: ${await progress()}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const e of engines) e.child.kill('SIGTERM');
    await Promise.all(engines.map((e) => e.exited));
    say(`all input committed; engines stopped; comparing with replay`);

    const compiled = compileSources(new Map(rules.map((r) => [r, readFileSync(r, 'utf8')])));
    if (!compiled.plan) throw new Error(`the rule files do not check: ${rules.join(', ')}`);
    const plan = compiled.plan;
    const expected: string[] = [];
    for (let p = 0; p < partitions; p++) {
      const mine = opts.identities ? events : events.filter((e) => partitionOf(String(e.customer_id), partitions) === p);
      await replay(plan, mine.map((value) => ({ value })), { onOutput: (out) => { for (const o of out) expected.push(eventKey(o)); } });
    }
    const raw = (await readTopic(output, { expected: expected.length * 2, timeoutMs: 20_000, settleMs: 1000 }))
      .map((r) => JSON.parse(String(r.value)) as Parameters<typeof eventKey>[0] & { cause?: unknown });
    const got = raw.map(eventKey);
    const causeOf = new Map(raw.map((o, i) => [got[i]!, `${JSON.stringify(o.cause)} @${i}`]));
    const count = (keys: string[]): Map<string, number> => {
      const m = new Map<string, number>();
      for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
      return m;
    };
    const want = count(expected);
    const have = count(got);
    let missing = 0;
    let duplicates = 0;
    let unexpected = 0;
    for (const [k, n] of want) { const h = have.get(k) ?? 0; if (h < n) missing += n - h; if (h > n) duplicates += h - n; }
    for (const [k, n] of have) if (!want.has(k)) unexpected += n;
    for (const [k] of [...want].filter(([k, n]) => (have.get(k) ?? 0) < n).slice(0, 4)) say(`missing ${k}`);
    for (const [k] of [...have].filter(([k, n]) => want.has(k) && want.get(k)! < n).slice(0, 4)) say(`repeated ${k} cause ${causeOf.get(k)}`);
    for (const [k] of [...have].filter(([k]) => !want.has(k)).slice(0, 4)) say(`unexpected ${k} cause ${causeOf.get(k)}`);
    // Order: per customer (a customer's events all come from one partition, and land in one output partition).
    const perCustomer = (keys: string[]): Map<string, string[]> => {
      const m = new Map<string, string[]>();
      for (const k of keys) {
        const customer = (JSON.parse(k) as string[])[2]!;
        const list = m.get(customer) ?? [];
        list.push(k);
        m.set(customer, list);
      }
      return m;
    };
    const wantSeq = perCustomer(expected);
    const haveSeq = perCustomer(got);
    const identical = got.length === expected.length && [...wantSeq].every(([c, seq]) => {
      const h = haveSeq.get(c);
      return h !== undefined && h.length === seq.length && h.every((k, i) => k === seq[i]);
    });
    if (missing + unexpected > 0 || (opts.exactlyOnce && !identical)) logDir = workDir;
    return {
      killsSurvived: survived, eventsIn: events.length, eventsOut: got.length, expected: expected.length,
      missing, duplicates, unexpected, identical, seconds: Math.round((Date.now() - started) / 1000), logDir,
    };
  } catch (err) {
    logDir = workDir;
    throw err;
  } finally {
    for (const e of engines) e.child.kill('SIGKILL');
    await Promise.all(engines.map((e) => e.exited));
    await flowing.catch(() => undefined);
    for (const l of logs.values()) l.end();
    const topics = [input, output, membershipTopicFor(output), deadLetterTopicFor(input), changelogTopicFor(group)];
    if (logDir === undefined) {
      await deleteRunTopics(brokers, topics, group);
      await rm(workDir, { recursive: true, force: true });
    } else {
      // Kept to look into: the state directories, the logs and the topics (delete them when done).
      say(`kept for inspection: ${workDir}; topics ${topics.join(' ')}; group ${group}`);
    }
  }
}

/** The run's topics and consumer group: the broker is shared. */
async function deleteRunTopics(brokers: string, topics: string[], group: string): Promise<void> {
  const admin = createAdmin({ brokers });
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const mine = topics.filter((t) => existing.has(t));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
    await admin.deleteGroups([group]).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}
