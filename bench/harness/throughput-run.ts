/**
 * One throughput measurement: a system starts on a topic that already holds
 * the whole backlog, and the clock runs from its spawn until the group has
 * committed every input offset. The output must then hold still for a few
 * seconds, so that a system that commits before its output is out cannot
 * look faster than it is. Meanwhile: peak RSS; afterwards: the state on disk.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MeasuredProcess } from './child-process.js';
import type { KafkaWatch } from './kafka-watch.js';
import { commandFor, type LaunchOptions, type SystemSpec } from './systems.js';

export interface ThroughputResult {
  system: string;
  repeat: number;
  events: number;
  /** Input events / seconds from spawn to every offset committed. */
  eventsPerSecond: number;
  seconds: number;
  /** Seconds from spawn to the first committed offset (start-up, rebalance, restore). */
  startSeconds: number;
  /** Events/s between the first commit and the last (start-up left out). */
  steadyEventsPerSecond: number;
  outputRecords: number;
  peakRssMb: number;
  stateMb: number;
  exitCode: number | null;
  logFile: string;
}

const POLL_MS = 250;
const STABLE_MS = 3000;

export function directoryMb(dir: string): number {
  if (!existsSync(dir)) return 0;
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]) / 1e6;
}

export async function throughputRun(
  watch: KafkaWatch, spec: SystemSpec, launch: LaunchOptions, o: { events: number; repeat: number; logDir: string; timeoutMs: number; say: (s: string) => void },
): Promise<ThroughputResult> {
  await watch.createTopic(launch.output, 8);
  const { command, args } = commandFor(spec, launch);
  const logFile = join(o.logDir, `${launch.group}.log`);
  const proc = new MeasuredProcess(spec.label, command, args, logFile);
  let firstCommitAt: number | undefined;
  let firstCommitted = 0;
  let doneAt: number | undefined;
  let output = -1;
  let stableSince = 0;
  let lastReport = performance.now();
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      if (!proc.running) throw new Error(`${spec.label} exited early (code ${await proc.exited}); see ${logFile}`);
      const now = performance.now();
      if (now - proc.startedAt > o.timeoutMs) throw new Error(`${spec.label} did not finish the backlog in ${o.timeoutMs / 1000} s; see ${logFile}`);
      const committed = await watch.committedOffset(launch.group, launch.input);
      const out = await watch.endOffset(launch.output);
      if (firstCommitAt === undefined && committed > 0) { firstCommitAt = now; firstCommitted = committed; }
      if (doneAt === undefined && committed >= o.events) doneAt = now;
      if (out !== output) { output = out; stableSince = now; }
      if (now - lastReport >= 5000) {
        lastReport = now;
        o.say(`  ${spec.label}: ${committed}/${o.events} committed (${Math.round(committed / ((now - proc.startedAt) / 1000))} events/s), output ${out}, RSS peak ${proc.peakRssMb.toFixed(0)} MB`);
      }
      if (doneAt !== undefined && now - stableSince >= STABLE_MS) break;
    }
  } catch (err) {
    await proc.stop();
    throw err;
  }
  const peakRssMb = proc.peakRssMb;
  const exitCode = await proc.stop();
  const seconds = (doneAt! - proc.startedAt) / 1000;
  const startSeconds = (firstCommitAt! - proc.startedAt) / 1000;
  const steadySeconds = (doneAt! - firstCommitAt!) / 1000;
  return {
    system: spec.label, repeat: o.repeat, events: o.events,
    eventsPerSecond: o.events / seconds, seconds, startSeconds,
    steadyEventsPerSecond: steadySeconds > 0 ? (o.events - firstCommitted) / steadySeconds : NaN,
    outputRecords: output, peakRssMb, stateMb: directoryMb(launch.stateDir), exitCode, logFile,
  };
}
