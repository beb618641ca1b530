/**
 * Restore speed from the changelog: after a throughput run, aud's state
 * directory is deleted and aud started again with the same group. Its input
 * is all committed, so all it does is read the changelog back into RocksDB.
 * Each partition logs `state restored from changelog` with records and
 * seconds (runtime/changelog.ts). The partitions of one assignment restore at
 * the same time, so the figure is the sum of records over the longest
 * partition's seconds: records per second of the whole process.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MeasuredProcess } from './child-process.js';
import { jsonLogLines, type AudLogLine } from './json-log.js';
import { commandFor, type LaunchOptions, type SystemSpec } from './systems.js';

export interface RestoreResult {
  repeat: number;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  /** Spawn to every partition assigned: what a restart after a lost disk costs. */
  wallSeconds: number;
  peakRssMb: number;
}

type LogLine = AudLogLine & { records?: number; seconds?: number };

const logLines = (file: string): LogLine[] => jsonLogLines(file);

export async function restoreRun(spec: SystemSpec, launch: LaunchOptions, o: { partitions: number; repeat: number; logDir: string; timeoutMs: number }): Promise<RestoreResult> {
  rmSync(launch.stateDir, { recursive: true, force: true });
  const { command, args } = commandFor(spec, launch);
  const logFile = join(o.logDir, `${launch.group}.restore-${o.repeat}.log`);
  const proc = new MeasuredProcess('aud restore', command, args, logFile);
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      if (!proc.running) throw new Error(`aud exited during the restore; see ${logFile}`);
      if (performance.now() - proc.startedAt > o.timeoutMs) throw new Error(`the restore did not finish in ${o.timeoutMs / 1000} s; see ${logFile}`);
      const lines = logLines(logFile);
      if (lines.filter((l) => l.msg === 'partition assigned').length >= o.partitions) {
        const wallSeconds = (performance.now() - proc.startedAt) / 1000;
        const restored = lines.filter((l) => l.msg === 'state restored from changelog');
        const records = restored.reduce((s, l) => s + (l.records ?? 0), 0);
        const seconds = restored.reduce((s, l) => Math.max(s, l.seconds ?? 0), 0);
        return { repeat: o.repeat, records, seconds, recordsPerSecond: seconds > 0 ? records / seconds : NaN, wallSeconds, peakRssMb: proc.peakRssMb };
      }
    }
  } finally {
    await proc.stop();
  }
}
