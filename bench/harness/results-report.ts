/** RESULTS.md: every figure of a run, the ratios and the targets, and how to get them again. */
import type { LatencyResult } from './latency-run.js';
import type { ProfileSummary } from './cpu-profile.js';
import type { MachineInfo } from './machine-info.js';
import type { RestoreResult } from './restore-run.js';
import type { RuleChangeResult } from './rule-change-run.js';
import type { RuleSet } from './rule-sets.js';
import { median } from './stats.js';
import type { ThroughputResult } from './throughput-run.js';

export interface BenchReport {
  date: string;
  command: string;
  engineCommit: string;
  machine: MachineInfo;
  workload: { customers: number; events: number; days: number; zipf: number; partitions: number; seed: number };
  produced: { format: string; eventsPerSecond: number; mb: number; seconds: number }[];
  repeat: number;
  streamsCommitMs: number;
  systems: string[];
  throughput: ThroughputResult[];
  restore: RestoreResult[];
  latency: LatencyResult[];
  profile: ProfileSummary | undefined;
  latencySeconds: number;
  /** Rounds of latency runs; each row of the latency table is the median over them. */
  latencyRepeat: number;
  failures: string[];
  notes: string[];
  /** `--rule-sets`; absent when not given. */
  ruleSets?: RuleSetReport;
  /** `--rule-change`: a deployment on the running engine; empty when not measured. */
  ruleChange: RuleChangeResult[];
  /** `--offers`: bench.aud with bench/rules/offers.aud, under one aud system; absent when not measured. */
  offers?: { system: string; throughput: ThroughputResult[] };
  /** `--identities`: bench.aud with an identity source over the workload with identities, one partition; absent when not measured. */
  identities?: { system: string; throughput: ThroughputResult[] };
}

/** aud on generated rule sets, on the same workload as bench.aud (bench/harness/rule-sets.ts). */
export interface RuleSetReport {
  /** The generator's seed. */
  seed: number;
  /** bench.aud first, then the generated sets, smallest first. */
  sets: RuleSet[];
  /** Labels of the systems that ran them (their bench.aud runs are in `throughput`). */
  systems: string[];
  throughput: { audiences: number; result: ThroughputResult }[];
  /** Under the aud systems of `--latency-systems` (their bench.aud runs are in `latency`). */
  latency: { audiences: number; result: LatencyResult }[];
}

const n0 = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const n1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');
const n2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–');

interface SystemSummary { system: string; runs: ThroughputResult[]; eps: number; steady: number; start: number; rss: number; state: number; output: number }

function summariseRuns(system: string, runs: ThroughputResult[]): SystemSummary {
  return {
    system, runs,
    eps: median(runs.map((t) => t.eventsPerSecond)),
    steady: median(runs.map((t) => t.steadyEventsPerSecond)),
    start: median(runs.map((t) => t.startSeconds)),
    rss: median(runs.map((t) => t.peakRssMb)),
    state: median(runs.map((t) => t.stateMb)),
    output: median(runs.map((t) => t.outputRecords)),
  };
}

function summarise(r: BenchReport): SystemSummary[] {
  return r.systems.map((system) => summariseRuns(system, r.throughput.filter((t) => t.system === system)));
}

/** One system at one rate: its runs (one per round) and the medians over them. */
interface LatencySummary {
  system: string;
  targetRate: number;
  runs: LatencyResult[];
  achieved: number;
  samples: number;
  p50: number; p99: number; p999: number; max: number;
  rss: number;
  /** Every run drained its input (see LatencyResult.drained). */
  drained: boolean;
}

/** The latency runs grouped by system and rate, by rate, then in the order the systems ran. */
function summariseLatency(results: readonly LatencyResult[]): LatencySummary[] {
  const groups = new Map<string, LatencyResult[]>();
  for (const l of results) {
    const key = `${l.system}@${l.targetRate}`;
    const list = groups.get(key);
    if (list) list.push(l);
    else groups.set(key, [l]);
  }
  return [...groups.values()].map((runs) => ({
    system: runs[0]!.system, targetRate: runs[0]!.targetRate, runs,
    achieved: median(runs.map((l) => l.achievedRate)), samples: median(runs.map((l) => l.samples)),
    p50: median(runs.map((l) => l.p50)), p99: median(runs.map((l) => l.p99)), p999: median(runs.map((l) => l.p999)),
    max: median(runs.map((l) => l.max)), rss: median(runs.map((l) => l.peakRssMb)),
    drained: runs.every((l) => l.drained),
  })).sort((a, b) => a.targetRate - b.targetRate);
}

export function renderReport(r: BenchReport): string {
  const s = summarise(r);
  const get = (label: string): SystemSummary | undefined => s.find((x) => x.system === label && x.runs.length > 0);
  const aud1 = get('aud --workers 1');
  const aud2 = get('aud --workers 2');
  const pass = get('passthrough');
  const streams = s.filter((x) => x.system.startsWith('Kafka Streams') && !x.system.includes('exactly') && x.runs.length > 0);
  const bestStreams = streams.sort((a, b) => b.eps - a.eps)[0];
  const audBest = [aud1, aud2].filter((x): x is SystemSummary => x !== undefined).sort((a, b) => b.eps - a.eps)[0];
  const restoreRate = median(r.restore.map((x) => x.recordsPerSecond));
  const latency = summariseLatency(r.latency);
  const lat20 = latency.find((l) => l.targetRate === 20_000 && l.system === 'aud --workers 1');
  const lines: string[] = [];
  const w = (x = ''): void => { lines.push(x); };
  w('# aud benchmark results');
  w();
  w(`Run ${r.date}, engine at commit \`${r.engineCommit}\` (the engine built in the worktree the harness ran from).`);
  w(`Workload: ${n0(r.workload.customers)} customers, ${n0(r.workload.events)} events over ${r.workload.days} days, Zipf ${r.workload.zipf}, ${r.workload.partitions} partitions, seed ${r.workload.seed}. Each throughput figure is the median of ${r.repeat} run(s).`);
  w();
  for (const note of r.notes) w(`> ${note}`);
  if (r.notes.length > 0) w();
  w('## Machine and versions');
  w();
  const m = r.machine;
  w('| | |');
  w('|---|---|');
  w(`| CPU | ${m.cpuModel}, nproc ${m.nproc} (shared with other users: expect noise) |`);
  w(`| memory | ${m.memoryGb} GB |`);
  w(`| kernel | ${m.kernel} |`);
  w(`| Node.js | ${m.node} |`);
  w(`| Kafka client | @confluentinc/kafka-javascript ${m.kafkaClient} (librdkafka ${m.librdkafka}) |`);
  w(`| Kafka broker | ${m.broker} (single node, 127.0.0.1:9092, shared) |`);
  w(`| Java | ${m.java} |`);
  w(`| Kafka Streams | ${m.kafkaStreams} (bench/peers/kafka-streams, commit.interval.ms ${r.streamsCommitMs}) |`);
  w();
  w('## Targets');
  w();
  w('| target | measured | met |');
  w('|---|---|---|');
  const check = (ok: boolean | undefined): string => (ok === undefined ? '–' : ok ? 'yes' : '**no**');
  const ksRatio = audBest && bestStreams ? audBest.eps / bestStreams.eps : NaN;
  const passRatio = audBest && pass ? audBest.eps / pass.eps : NaN;
  w(`| throughput ≥ 1.5× Kafka Streams | ${n2(ksRatio)}× (${audBest?.system ?? '–'} vs ${bestStreams?.system ?? '–'}) | ${check(Number.isFinite(ksRatio) ? ksRatio >= 1.5 : undefined)} |`);
  w(`| throughput ≥ 60% of passthrough | ${n0(passRatio * 100)}% | ${check(Number.isFinite(passRatio) ? passRatio >= 0.6 : undefined)} |`);
  w(`| p99 ≤ 20 ms at 20k events/s | ${lat20 ? `${n1(lat20.p99)} ms (median of ${lat20.runs.length}; achieved ${n0(lat20.achieved)} events/s)` : '–'} | ${check(lat20 ? lat20.p99 <= 20 : undefined)} |`);
  const rss = aud1?.rss;
  w(`| 1M customers: peak RSS ≤ 1.5 GB | ${rss !== undefined ? `${n0(rss)} MB at ${n0(r.workload.customers)} customers` : '–'} | ${r.workload.customers >= 1_000_000 && rss !== undefined ? check(rss <= 1536) : 'not measured at 1M'} |`);
  w(`| restore ≥ 200k records/s | ${n0(restoreRate)} records/s | ${check(Number.isFinite(restoreRate) ? restoreRate >= 200_000 : undefined)} |`);
  w();
  w('## Throughput (backlog, event clock)');
  w();
  w('End to end: input events ÷ seconds from the process\'s spawn until its group has committed every input offset (and its output then held still for 3 s). Steady: the same from the first commit on, start-up left out. Output end offsets: the sum over the output partitions (under exactly-once they include one transaction marker per transaction).');
  w();
  w('| system | events/s (median) | each run | steady events/s | start-up s | peak RSS MB | state on disk MB | output end offsets |');
  w('|---|---|---|---|---|---|---|---|');
  for (const x of s) {
    w(`| ${x.system} | ${x.runs.length ? n0(x.eps) : 'failed'} | ${x.runs.map((t) => n0(t.eventsPerSecond)).join(', ')} | ${n0(x.steady)} | ${n1(x.start)} | ${n0(x.rss)} | ${n1(x.state)} | ${n0(x.output)} |`);
  }
  w();
  w('## Ratios');
  w();
  w('| ratio | value |');
  w('|---|---|');
  for (const a of [aud1, aud2]) {
    if (!a) continue;
    for (const k of streams) w(`| ${a.system} / ${k.system} | ${n2(a.eps / k.eps)} |`);
    if (pass) w(`| ${a.system} / passthrough | ${n2(a.eps / pass.eps)} |`);
  }
  const eos = get('aud --workers 1 --exactly-once');
  if (eos && aud1) w(`| aud --exactly-once / aud at-least-once (1 worker) | ${n2(eos.eps / aud1.eps)} |`);
  if (aud1 && aud2) w(`| scaling: aud 2 workers / 1 worker | ${n2(aud2.eps / aud1.eps)} |`);
  const ks1 = get('Kafka Streams --threads 1'); const ks2 = get('Kafka Streams --threads 2');
  if (ks1 && ks2) w(`| scaling: Kafka Streams 2 threads / 1 thread | ${n2(ks2.eps / ks1.eps)} |`);
  w();
  if (r.ruleSets) renderRuleSets(r, r.ruleSets, w);
  if (r.offers) renderOffers(r, r.offers, w);
  if (r.identities) renderIdentities(r, r.identities, w);
  w('## Restore from the changelog (aud, 1 worker)');
  w();
  if (r.restore.length === 0) w('Not measured.');
  else {
    w('State directory deleted after a throughput run, aud restarted with the same group: records summed over the partitions\' `state restored from changelog` log lines, over the seconds of the slowest (they restore concurrently).');
    w();
    w('| run | records | seconds | records/s | spawn → all partitions assigned, s | peak RSS MB |');
    w('|---|---|---|---|---|---|');
    for (const x of r.restore) w(`| ${x.repeat} | ${n0(x.records)} | ${n2(x.seconds)} | ${n0(x.recordsPerSecond)} | ${n1(x.wallSeconds)} | ${n0(x.peakRssMb)} |`);
    w(`| **median** | | | **${n0(restoreRate)}** | | |`);
  }
  w();
  w('## A rule change on the running engine');
  w();
  if (r.ruleChange.length === 0) w('Not measured.');
  else {
    const x0 = r.ruleChange[0]!;
    w(`After the backlog is committed, live events arrive at ${n0(x0.liveRate)} events/s; the rule file gains \`${x0.audience}\` (a new 90-day state, built from the input topic's history) and aud gets SIGHUP. Deploy: from the signal to \`new rules in force on every owned partition\`. History: records read again over the partitions (their \`rules deployed on partition\` lines), per second of the longest partition's deployment. Catch-up: from the end of the deployment until the live input is committed again.`);
    w();
    w('| system | deploy s | history records | history records/s | enters emitted | live events meanwhile | catch-up s | peak RSS MB |');
    w('|---|---|---|---|---|---|---|---|');
    for (const x of r.ruleChange) w(`| ${x.system} | ${n1(x.seconds)} | ${n0(x.historyRecords)} | ${n0(x.historyRecordsPerSecond)} | ${n0(x.enters)} | ${n0(x.liveDuring)} | ${n1(x.catchUpSeconds)} | ${n0(x.peakRssMb)} |`);
  }
  w();
  w(`## Latency (wall clock, at-least-once, ${r.latencySeconds} s per run)`);
  w();
  if (latency.length === 0) w('Not measured.');
  else {
    w('From the moment an event is handed to the producer to the arrival, at a consumer of the output topic, of an enter/leave it caused (aud), or of its copy (passthrough: the floor the client and broker set).');
    w(`Each figure is the median over ${r.latencyRepeat} round(s) of runs, interleaved (every rate and system once per round); "p99 of each run" shows the spread.`);
    w();
    w('| system | target events/s | achieved events/s | samples per run | p50 ms | p99 ms | p99.9 ms | max ms | p99 of each run | peak RSS MB |');
    w('|---|---|---|---|---|---|---|---|---|---|');
    for (const l of latency) {
      const ge = l.drained ? '' : '≥ ';
      w(`| ${l.system} | ${n0(l.targetRate)} | ${n0(l.achieved)}${l.achieved < 0.95 * l.targetRate ? ' (the probe could not produce faster)' : ''} | ${n0(l.samples)} | ${ge}${n1(l.p50)} | ${ge}${n1(l.p99)} | ${ge}${n1(l.p999)} | ${ge}${n0(l.max)} | ${l.runs.map((x) => n0(x.p99)).join(', ')} | ${n0(l.rss)} |`);
    }
    if (latency.some((l) => !l.drained)) {
      w();
      w('≥: in at least one run the system had not committed all of that input a minute after the producer stopped (it cannot sustain that rate); only the outputs that arrived are counted, so the true percentiles are higher.');
    }
  }
  w();
  if (r.profile) {
    w('## Where aud spends its time (node --cpu-prof, one extra aud --workers 1 backlog run, main and worker thread together)');
    w();
    w(`Self time over ${n1(r.profile.seconds)} s of profile: the profiles of both threads, summed (the rules run in the worker; Kafka, the commit order and the restore in the main thread). \`(idle)\` is a thread waiting (for the broker, RocksDB, the client's threads or the other thread).`);
    w();
    w('| by file | share |');
    w('|---|---|');
    for (const f of r.profile.files) w(`| ${f.name} | ${n1(f.share * 100)}% |`);
    w();
    w('| by function | share |');
    w('|---|---|');
    for (const f of r.profile.functions) w(`| \`${f.name}\` | ${n1(f.share * 100)}% |`);
    w();
  }
  w('## Producing the workload');
  w();
  w('| format | events/s | MB | seconds |');
  w('|---|---|---|---|');
  for (const p of r.produced) w(`| ${p.format} | ${n0(p.eventsPerSecond)} | ${n1(p.mb)} | ${n1(p.seconds)} |`);
  w();
  if (r.failures.length > 0) {
    w('## Failures');
    w();
    for (const f of r.failures) w(`- ${f}`);
    w();
  }
  w('## Reproduce');
  w();
  w('```sh');
  w(r.command);
  w('```');
  w();
  w('See bench/README.md for what each figure means and how it is measured.');
  return lines.join('\n') + '\n';
}

/** bench.aud alone and with offers.aud, under the same system, in the same repeats. */
function renderOffers(r: BenchReport, x: NonNullable<BenchReport['offers']>, w: (line?: string) => void): void {
  w('## Offers and decisions');
  w();
  w(`bench.aud with bench/rules/offers.aud (three offers over its audiences, one decision with a cap and a send window in Europe/Oslo, evaluated for a customer when what its offers read changes and at the instants a cap frees or the window opens), under ${x.system}, in every repeat after the systems above; the first row is bench.aud alone, from those runs. Output events: enter/leave and decision events (output end offsets).`);
  w();
  renderVariant(r, x, ['bench.aud', 'bench.aud + offers.aud'], 'With the decision: ', 'bench.aud\'s events/s', w);
}

/** bench.aud keyed by customer and with identities, under the same system, in the same repeats. */
function renderIdentities(r: BenchReport, x: NonNullable<BenchReport['identities']>, w: (line?: string) => void): void {
  w('## Identities');
  w();
  w(`bench.aud with its source's \`key\` replaced by \`identity user_id, email limit 2, anonymous_id\`, over the same workload with identities (bench/workload/identity-workload.ts: 30% of the events carry a device's anonymous id only, 5% a device and the user id, which merges or renames profiles; now and then the e-mail beside the user id), on an input topic of one partition (identity sources run on one; docs/design.md, "Identities") with a record cache of 16,000 customers (what the keyed run's eight partitions have together), under ${x.system}, in every repeat after the systems above; the first row is bench.aud keyed by customer over the 8-partition topic, from those runs.`);
  w();
  renderVariant(r, x, ['bench.aud, keyed', 'bench.aud, identities'], 'With identities: ', 'the keyed events/s', w);
}

/** A table of bench.aud's runs under `x.system` and the variant's, and the ratio of their medians. */
function renderVariant(r: BenchReport, x: { system: string; throughput: ThroughputResult[] }, names: [string, string], ratio: string, of: string, w: (line?: string) => void): void {
  w('| rules | events/s (median) | each run | steady events/s | output events | peak RSS MB | state on disk MB |');
  w('|---|---|---|---|---|---|---|');
  const plain = summariseRuns(x.system, r.throughput.filter((t) => t.system === x.system));
  const other = summariseRuns(x.system, x.throughput);
  for (const [name, m] of [[names[0], plain], [names[1], other]] as const) {
    w(`| ${name} | ${m.runs.length ? n0(m.eps) : 'failed'} | ${m.runs.map((t) => n0(t.eventsPerSecond)).join(', ')} | ${n0(m.steady)} | ${n0(m.output)} | ${n0(m.rss)} | ${n1(m.state)} |`);
  }
  w();
  if (plain.runs.length && other.runs.length) {
    w(`${ratio}${n2(other.eps / plain.eps)}× ${of} (medians of the same run).`);
    w();
  }
}

/** Per system, a row per rule set: bench.aud's from the throughput runs above, the generated sets' from their own. */
function renderRuleSets(r: BenchReport, x: RuleSetReport, w: (line?: string) => void): void {
  const [bench, ...generated] = x.sets;
  w('## Large rule sets');
  w();
  w(`Rule sets of ${generated.map((s) => n0(s.audiences)).join(', ')} audiences, generated by bench/rules/generate-rules.ts (seed ${x.seed}) with bench.aud's source, output and events, run on the same input topic in every repeat after the systems above; the ${bench ? n0(bench.audiences) : ''}-audience row is bench.aud's, from those runs. Shared states: the plan's states per customer (\`aud explain\`), one per distinct aggregate, sequence or absence, however many audiences read it. Output events/s: enter/leave events written (output end offsets; under exactly-once they include the transaction markers) ÷ the same seconds as events/s.`);
  w();
  for (const system of x.systems) {
    w(`### ${system}`);
    w();
    w('| audiences | shared states | events/s (median) | each run | steady events/s | output events | output events/s | peak RSS MB | state on disk MB |');
    w('|---|---|---|---|---|---|---|---|---|');
    for (const set of x.sets) {
      const runs = set === bench
        ? r.throughput.filter((t) => t.system === system)
        : x.throughput.filter((t) => t.audiences === set.audiences && t.result.system === system).map((t) => t.result);
      const m = summariseRuns(system, runs);
      const outputRate = median(runs.map((t) => t.outputRecords / t.seconds));
      w(`| ${n0(set.audiences)}${set === bench ? ' (bench.aud)' : ''} | ${n0(set.sharedStates)} | ${runs.length ? n0(m.eps) : 'failed'} | ${runs.map((t) => n0(t.eventsPerSecond)).join(', ')} | ${n0(m.steady)} | ${n0(m.output)} | ${n0(outputRate)} | ${n0(m.rss)} | ${n1(m.state)} |`);
    }
    w();
  }
  if (x.latency.length > 0) {
    w(`Latency with each rule set (wall clock, as in the latency section below; medians over ${r.latencyRepeat} round(s)):`);
    w();
    w('| audiences | system | target events/s | achieved events/s | p50 ms | p99 ms | p99.9 ms | max ms | peak RSS MB |');
    w('|---|---|---|---|---|---|---|---|---|');
    const systems = new Set(x.latency.map((l) => l.result.system));
    const rows = [
      ...summariseLatency(r.latency.filter((l) => systems.has(l.system))).map((l) => ({ audiences: bench?.audiences ?? NaN, l })),
      ...generated.flatMap((set) => summariseLatency(x.latency.filter((l) => l.audiences === set.audiences).map((l) => l.result)).map((l) => ({ audiences: set.audiences, l }))),
    ].sort((a, b) => a.l.targetRate - b.l.targetRate || a.audiences - b.audiences);
    for (const { audiences, l } of rows) {
      const ge = l.drained ? '' : '≥ ';
      w(`| ${n0(audiences)} | ${l.system} | ${n0(l.targetRate)} | ${n0(l.achieved)} | ${ge}${n1(l.p50)} | ${ge}${n1(l.p99)} | ${ge}${n1(l.p999)} | ${ge}${n0(l.max)} | ${n0(l.rss)} |`);
    }
    w();
    if (rows.some(({ l }) => !l.drained)) {
      w('≥: that system had not committed all of the input a minute after the producer stopped; the percentiles count only what arrived.');
      w();
    }
  }
}
