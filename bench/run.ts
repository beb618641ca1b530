/**
 * The benchmark, in one command: produce the workload, run every system on
 * it `--repeat` times (interleaved, so that noise from other users of the
 * machine spreads over all of them), measure aud's restore and, in
 * `--latency-repeat` rounds, its latency at fixed rates, write
 * bench/RESULTS.md, delete the run's topics.
 *
 *   node dist/bench/run.js                                  # 20k customers, 400k events, 3 repeats
 *   node dist/bench/run.js --customers 1000000 --events 10000000
 *
 * Progress goes to stderr. Every topic, group and application id starts
 * with `bench.<run id>.`; the work directory (logs, state) is kept when a
 * run fails or with --keep. bench/README.md explains the figures.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { summariseProfiles, type ProfileSummary } from './harness/cpu-profile.js';
import { KafkaWatch } from './harness/kafka-watch.js';
import { latencyRun, type LatencyResult } from './harness/latency-run.js';
import { machineInfo } from './harness/machine-info.js';
import { renderReport, type BenchReport } from './harness/results-report.js';
import { restoreRun, type RestoreResult } from './harness/restore-run.js';
import { parseSystem, streamsJar, type LaunchOptions, type SystemSpec } from './harness/systems.js';
import { throughputRun, type ThroughputResult } from './harness/throughput-run.js';
import { produceWorkload } from './workload/produce-workload.js';

const repo = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const PARTITIONS = 8;

function say(s: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
}

export async function main(argv: string[]): Promise<void> {
  const args = await yargs(argv)
    .option('brokers', { type: 'string', default: '127.0.0.1:9092' })
    .option('customers', { type: 'number', default: 20_000 })
    .option('events', { type: 'number', default: 400_000 })
    .option('days', { type: 'number', default: 90 })
    .option('zipf', { type: 'number', default: 0.8 })
    .option('seed', { type: 'number', default: 1 })
    .option('repeat', { type: 'number', default: 3 })
    .option('systems', { type: 'string', default: 'passthrough,streams-1,streams-2,aud-1,aud-2,aud-eos-1', describe: 'comma-separated: passthrough, aud-N, aud-eos-N, streams-N, streams-eos-N' })
    .option('restore', { type: 'boolean', default: true, describe: 'measure aud\'s restore from the changelog after each aud-1 run' })
    .option('latency-rates', { type: 'string', default: '5000,20000,50000', describe: 'events/s, comma-separated; empty for none' })
    .option('latency-seconds', { type: 'number', default: 20 })
    .option('latency-repeat', { type: 'number', default: 3, describe: 'rounds of latency runs (each rate and system once per round); RESULTS.md gives the medians' })
    .option('latency-customers', { type: 'number', default: 20_000 })
    .option('latency-systems', { type: 'string', default: 'passthrough,aud-1', describe: 'who runs the latency probe (the passthrough gives the floor)' })
    .option('avro', { type: 'boolean', default: true, describe: 'also produce the Avro variant once (produce rate and size)' })
    .option('profile', { type: 'boolean', default: true, describe: 'one more aud --workers 1 run under node --cpu-prof (not counted): where aud spends its time' })
    .option('streams-commit-ms', { type: 'number', default: 1000, describe: 'Kafka Streams commit.interval.ms (bench/README.md says why)' })
    .option('timeout-s', { type: 'number', default: 1800, describe: 'per run' })
    .option('work-dir', { type: 'string', describe: 'logs and state (default: a new directory under the temp dir)' })
    .option('out', { type: 'string', default: join(repo, 'bench/RESULTS.md') })
    .option('aud-arg', { type: 'string', array: true, default: [], describe: 'an extra flag for every aud run, repeatable (experiments; RESULTS.md lists them)' })
    .option('aud-node-arg', { type: 'string', array: true, default: [], describe: 'an extra Node option for every aud run, repeatable, e.g. --single-threaded-gc (experiments; RESULTS.md lists them)' })
    .option('note', { type: 'string', array: true, default: [], describe: 'a line to add to RESULTS.md, repeatable' })
    .option('keep', { type: 'boolean', default: false, describe: 'keep the work directory' })
    .strict()
    .parseAsync();

  const systems: SystemSpec[] = args.systems.split(',').filter(Boolean).map(parseSystem);
  if (!existsSync(join(repo, 'dist/cli/aud.js'))) throw new Error(`build first: cd ${repo} && npx tsc -p tsconfig.json`);
  if (systems.some((s) => s.kind === 'streams') && !existsSync(streamsJar(repo))) {
    say('building the Kafka Streams peer (mvn -q -DskipTests package)');
    execFileSync('mvn', ['-q', '-B', '-DskipTests', 'package'], { cwd: join(repo, 'bench/peers/kafka-streams'), stdio: 'inherit' });
  }
  const runId = Date.now().toString(36);
  const prefix = `bench.${runId}`;
  const work = args.workDir ?? join(tmpdir(), `aud-bench-${runId}`);
  mkdirSync(work, { recursive: true });
  say(`run ${runId}: topics ${prefix}.*, work directory ${work}`);
  const machine = machineInfo(repo);
  const engineCommit = execFileSync('git', ['-C', repo, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).trim();
  const watch = new KafkaWatch(args.brokers);
  await watch.connect();
  const throughput: ThroughputResult[] = [];
  const restore: RestoreResult[] = [];
  const latency: LatencyResult[] = [];
  const failures: string[] = [];
  const produced: BenchReport['produced'] = [];
  let profile: ProfileSummary | undefined;
  const workload = { customers: args.customers, events: args.events, days: args.days, zipf: args.zipf, seed: args.seed, start: new Date('2026-01-01T00:00:00Z') };
  const input = `${prefix}.events`;
  const launchFor = (group: string, o: Partial<LaunchOptions> = {}): LaunchOptions => ({
    repo, brokers: args.brokers, input, output: `${group}.out`, group, stateDir: join(work, group), clock: 'event', streamsCommitMs: args.streamsCommitMs, audArgs: args.audArg, audNodeArgs: args.audNodeArg, ...o,
  });
  const cleanUp = async (launch: LaunchOptions): Promise<void> => {
    await watch.deleteTopics(await watch.topicsWithPrefix(launch.group)).catch((e: unknown) => say(`deleting topics of ${launch.group}: ${(e as Error).message}`));
    await watch.deleteGroups([launch.group, `${launch.group}.probe`]);
    rmSync(launch.stateDir, { recursive: true, force: true });
  };
  try {
    // 1. The workload: produced first, then every system consumes the backlog.
    await watch.createTopic(input, PARTITIONS);
    say(`producing ${args.events} events of ${args.customers} customers (JSON) into ${input}`);
    const p = await produceWorkload({
      ...workload, brokers: args.brokers, topic: input, format: 'json',
      onProgress: (x) => say(`  produced ${x.produced}/${x.total} (${x.eventsPerSecond} events/s)`),
    });
    produced.push({ format: 'json', eventsPerSecond: p.eventsPerSecond, mb: p.bytes / 1e6, seconds: p.seconds });
    if (args.avro) {
      const avroTopic = `${prefix}.events-avro`;
      await watch.createTopic(avroTopic, PARTITIONS);
      say(`producing the Avro variant into ${avroTopic} (bench/workload/bench-event.avsc)`);
      const a = await produceWorkload({ ...workload, brokers: args.brokers, topic: avroTopic, format: 'avro' });
      produced.push({ format: 'avro', eventsPerSecond: a.eventsPerSecond, mb: a.bytes / 1e6, seconds: a.seconds });
      await watch.deleteTopics([avroTopic]);
    }

    // 2. Throughput, interleaved repeats; aud's restore after each aud-1 run.
    for (let r = 1; r <= args.repeat; r++) {
      for (const spec of systems) {
        const name = `${spec.kind}${spec.exactlyOnce ? '-eos' : ''}-${spec.workers}`;
        const launch = launchFor(`${prefix}.${name}.r${r}`);
        say(`throughput ${r}/${args.repeat}: ${spec.label}`);
        try {
          const t = await throughputRun(watch, spec, launch, { events: args.events, repeat: r, logDir: work, timeoutMs: args.timeoutS * 1000, say });
          throughput.push(t);
          say(`  ${spec.label}: ${Math.round(t.eventsPerSecond)} events/s (${t.seconds.toFixed(1)} s, start-up ${t.startSeconds.toFixed(1)} s), peak RSS ${t.peakRssMb.toFixed(0)} MB, state ${t.stateMb.toFixed(1)} MB, ${t.outputRecords} outputs`);
          if (args.restore && spec.kind === 'aud' && spec.workers === 1 && !spec.exactlyOnce) {
            say(`restore ${r}/${args.repeat}: state directory deleted, aud restarted on group ${launch.group}`);
            const x = await restoreRun(spec, launch, { partitions: PARTITIONS, repeat: r, logDir: work, timeoutMs: args.timeoutS * 1000 });
            restore.push(x);
            say(`  restored ${x.records} records in ${x.seconds.toFixed(2)} s: ${Math.round(x.recordsPerSecond)} records/s`);
          }
        } catch (err) {
          failures.push(`${spec.label}, run ${r}: ${(err as Error).message}`);
          say(`  FAILED: ${(err as Error).message}`);
        }
        await cleanUp(launch);
      }
    }

    // 3. A profiled aud run, not counted.
    if (args.profile) {
      const spec = parseSystem('aud-1');
      const profileDir = join(work, 'cpu-profile');
      const launch = launchFor(`${prefix}.aud-profile`, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] });
      say('profile: aud --workers 1 under node --cpu-prof (not counted)');
      try {
        const t = await throughputRun(watch, spec, launch, { events: args.events, repeat: 0, logDir: work, timeoutMs: args.timeoutS * 1000, say });
        say(`  profiled run: ${Math.round(t.eventsPerSecond)} events/s`);
        profile = summariseProfiles(profileDir, repo);
      } catch (err) {
        failures.push(`profiled aud run: ${(err as Error).message}`);
      }
      await cleanUp(launch);
    }

    // 4. Latency at fixed rates, wall clock: rounds of every rate and system,
    // interleaved as the throughput runs are, so that the machine's drift
    // spreads over the passthrough and aud alike.
    const rates = args.latencyRates.split(',').filter(Boolean).map(Number);
    const latencySystems = args.latencySystems.split(',').filter(Boolean).map(parseSystem);
    for (let r = 1; r <= args.latencyRepeat; r++) for (const rate of rates) for (const spec of latencySystems) {
      const group = `${prefix}.latency-${spec.kind}${spec.exactlyOnce ? '-eos' : ''}-${spec.workers}-${rate}.r${r}`;
      const launch = launchFor(group, { input: `${group}.events`, clock: 'wall' });
      say(`latency ${r}/${args.latencyRepeat}: ${spec.label} at ${rate} events/s for ${args.latencySeconds} s`);
      try {
        const l = await latencyRun(watch, spec, launch, {
          rate, seconds: args.latencySeconds, warmupSeconds: Math.min(5, args.latencySeconds / 4), customers: args.latencyCustomers, seed: args.seed, repeat: r, logDir: work, say,
        });
        latency.push(l);
        say(`  ${rate} events/s (achieved ${Math.round(l.achievedRate)}): p50 ${l.p50} ms, p99 ${l.p99} ms, p99.9 ${l.p999} ms over ${l.samples} outputs`);
      } catch (err) {
        failures.push(`latency of ${spec.label} at ${rate} events/s, round ${r}: ${(err as Error).message}`);
        say(`  FAILED: ${(err as Error).message}`);
      }
      await cleanUp(launch);
    }
  } finally {
    await watch.deleteTopics(await watch.topicsWithPrefix(`${prefix}.`)).catch((e: unknown) => say(`deleting the run's topics: ${(e as Error).message}`));
    await watch.close();
  }

  const quote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  const command = `bash bench/run.sh ${argv.map(quote).join(' ')}`.trim();
  const report: BenchReport = {
    date: new Date().toISOString(), command, engineCommit, machine,
    workload: { customers: args.customers, events: args.events, days: args.days, zipf: args.zipf, partitions: PARTITIONS, seed: args.seed },
    produced, repeat: args.repeat, streamsCommitMs: args.streamsCommitMs, systems: systems.map((s) => s.label),
    throughput, restore, latency, profile, latencySeconds: args.latencySeconds, latencyRepeat: args.latencyRepeat, failures,
    notes: [
      ...args.note,
      ...(args.audArg.length > 0 ? [`Every aud run had these extra flags: \`${args.audArg.join(' ')}\`.`] : []),
      ...(args.audNodeArg.length > 0 ? [`Every aud run had these extra Node options: \`${args.audNodeArg.join(' ')}\`.`] : []),
    ],
  };
  writeFileSync(args.out, renderReport(report));
  writeFileSync(join(work, 'results.json'), JSON.stringify(report, null, 2));
  say(`wrote ${args.out} (raw figures: ${join(work, 'results.json')})`);
  if (failures.length === 0 && !args.keep) rmSync(work, { recursive: true, force: true });
  else say(`kept ${work}`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main(hideBin(process.argv));
