/**
 * The cost of a rule change on a running engine (docs/operations.md,
 * "Changing rules"): aud runs bench.aud over the workload's backlog until it
 * has committed all of it; then, while live events keep arriving at a fixed
 * rate, its rule file gains one audience on a new 90-day aggregate and aud
 * gets SIGHUP. Measured from aud's own log lines (JSON):
 *  - the deployment's seconds, from the signal to "new rules in force on
 *    every owned partition";
 *  - the history read again to build the new state (records over the
 *    partitions, summed; their `ms`, longest): records per second;
 *  - the rule_change enters it emitted, and the live events it applied
 *    meanwhile (they wait behind a partition's deployment, not behind the
 *    others').
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaSink, type SinkRecord } from '../../connectors/kafka/sink.js';
import { eventEncoder } from '../workload/event-encoding.js';
import { workloadEvents } from '../workload/retail-workload.js';
import { MeasuredProcess } from './child-process.js';
import { jsonLogLines, type AudLogLine } from './json-log.js';
import type { KafkaWatch } from './kafka-watch.js';
import { benchRulesFile, commandFor, type LaunchOptions, type SystemSpec } from './systems.js';

export interface RuleChangeResult {
  system: string;
  /** The audience added. */
  audience: string;
  /** Signal to every partition deployed. */
  seconds: number;
  historyRecords: number;
  /** historyRecords over the longest partition's deployment. */
  historyRecordsPerSecond: number;
  enters: number;
  liveRate: number;
  /** Live events produced from the signal to the end of the deployment. */
  liveDuring: number;
  /** From the end of the deployment until the live input was committed again (s). */
  catchUpSeconds: number;
  peakRssMb: number;
}

/** The audience the change adds: a 90-day sum, a state bench.aud does not have. */
export const ADDED_AUDIENCE = 'audience big_spender_90d { sum(purchase.amount) over 90 days >= 3000 }';

type LogLine = AudLogLine & { historyRecords?: number; ms?: number; enters?: number };

const logLines = (file: string): LogLine[] => jsonLogLines(file);

export async function ruleChangeRun(watch: KafkaWatch, spec: SystemSpec, launch: LaunchOptions, o: {
  events: number; customers: number; days: number; seed: number; zipf: number; liveRate: number; logDir: string; timeoutMs: number; say: (s: string) => void;
}): Promise<RuleChangeResult> {
  const rules = join(launch.stateDir + '.rules.aud');
  copyFileSync(benchRulesFile(launch.repo), rules);
  const { command, args } = commandFor(spec, { ...launch, rules: [rules] });
  const logFile = join(o.logDir, `${launch.group}.log`);
  const proc = new MeasuredProcess(spec.label, command, args, logFile);
  const deadline = performance.now() + o.timeoutMs;
  const waitFor = async (what: string, done: () => Promise<boolean> | boolean): Promise<void> => {
    while (!(await done())) {
      if (!proc.running) throw new Error(`aud exited while waiting for ${what}; see ${logFile}`);
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}; see ${logFile}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const sink = new KafkaSink({ brokers: launch.brokers, clientId: 'aud-bench-live' });
  let producing = true;
  let liveSent = 0;
  let live: Promise<void> = Promise.resolve();
  try {
    await waitFor('the backlog to be committed', async () => (await watch.committedOffset(launch.group, launch.input)) >= o.events);
    o.say(`  backlog of ${o.events} events committed; live input at ${o.liveRate} events/s, then SIGHUP with ${ADDED_AUDIENCE}`);
    // Live events: later than the backlog, at a fixed rate, in 100 ms slices.
    await sink.connect();
    const start = new Date(Date.parse('2026-01-01T00:00:00Z') + (o.days + 1) * 86_400_000);
    const encode = eventEncoder('json');
    const gen = workloadEvents({ customers: o.customers, events: 10_000_000, days: 365, seed: o.seed + 1, start, zipf: o.zipf });
    live = (async () => {
      const perSlice = Math.max(1, Math.round(o.liveRate / 10));
      while (producing) {
        const began = performance.now();
        const records: SinkRecord[] = [];
        for (let i = 0; i < perSlice; i++) {
          const e = gen.next().value!;
          records.push({ topic: launch.input, key: e.customer_id, value: encode(e) });
        }
        await sink.send(records);
        liveSent += records.length;
        await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - began))));
      }
    })();
    await new Promise((r) => setTimeout(r, 3000));
    writeFileSync(rules, `${readFileSync(rules, 'utf8')}\n${ADDED_AUDIENCE}\n`);
    const signalled = performance.now();
    const liveAtSignal = liveSent;
    proc.signal('SIGHUP');
    await waitFor('the rule change', () => logLines(logFile).some((l) => l.msg === 'new rules in force on every owned partition'));
    const seconds = (performance.now() - signalled) / 1000;
    const liveDuring = liveSent - liveAtSignal;
    producing = false;
    await live;
    const target = await watch.endOffset(launch.input);
    const deployed = performance.now();
    await waitFor('the live input to be committed', async () => (await watch.committedOffset(launch.group, launch.input)) >= target);
    const catchUpSeconds = (performance.now() - deployed) / 1000;
    const parts = logLines(logFile).filter((l) => l.msg === 'rules deployed on partition');
    const historyRecords = parts.reduce((s, l) => s + (l.historyRecords ?? 0), 0);
    const longestMs = parts.reduce((s, l) => Math.max(s, l.ms ?? 0), 0);
    return {
      system: spec.label, audience: ADDED_AUDIENCE, seconds, historyRecords,
      historyRecordsPerSecond: longestMs > 0 ? historyRecords / (longestMs / 1000) : NaN,
      enters: parts.reduce((s, l) => s + (l.enters ?? 0), 0), liveRate: o.liveRate, liveDuring, catchUpSeconds, peakRssMb: proc.peakRssMb,
    };
  } finally {
    producing = false;
    await live.catch(() => undefined);
    await sink.disconnect().catch(() => undefined);
    await proc.stop();
  }
}
