/**
 * Latency at a fixed input rate, wall clock, at-least-once: aud runs on an
 * empty topic; a rate-controlled producer writes workload events whose `ts`
 * is the moment each was handed to the producer; a consumer of the output
 * topic notes when each enter/leave arrives. Output events carry their cause
 * (input partition and offset); after the run the input topic is read back
 * to find each cause's `ts`. Latency = arrival − ts: producer linger, broker,
 * engine, output produce and fetch included. The first seconds are warm-up
 * and left out; timer-caused changes have no input cause and are left out.
 *
 * Run on the passthrough, the same probe gives the floor: its output is the
 * input record itself, so each arrival's stamp is in its own value.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { readPartition } from '../../connectors/kafka/partition-reader.js';
import { KafkaSink, type SinkRecord } from '../../connectors/kafka/sink.js';
import { KafkaSource } from '../../connectors/kafka/source.js';
import { valueAt } from '../../engine/record-batch.js';
import { workloadEvents } from '../workload/retail-workload.js';
import { MeasuredProcess } from './child-process.js';
import type { KafkaWatch } from './kafka-watch.js';
import { percentile } from './stats.js';
import { commandFor, type LaunchOptions, type SystemSpec } from './systems.js';

export interface LatencyResult {
  system: string;
  /** Which round of `--latency-repeat` (1-based). */
  repeat: number;
  targetRate: number;
  achievedRate: number;
  events: number;
  samples: number;
  p50: number; p99: number; p999: number; max: number;
  peakRssMb: number;
  /** False when the system had not committed the whole input a minute after the producer stopped: it could not keep up, and the percentiles only count what arrived (a lower bound). */
  drained: boolean;
}

/**
 * A workload event as JSON text in two halves around its `ts`, made before
 * the clock starts, so that the probe's own cost per event at send time is
 * one string concatenation (the probe shares the 2 cores with what it measures).
 */
function preEncode(e: Record<string, unknown>): { key: string; head: string; tail: string } {
  const { ts: _ts, ...rest } = e;
  const body = JSON.stringify(rest);
  return { key: String(e['customer_id']), head: `{"ts":"`, tail: `",${body.slice(1)}` };
}

const TS_FIELD = Buffer.from('"ts":"');
const CAUSE_PARTITION = Buffer.from('"partition":');
const CAUSE_OFFSET = Buffer.from('"offset":"');

/** The ISO time after `"ts":"` (the passthrough copies the probe's records, which start with it). */
function stampOf(value: Buffer): number {
  const i = value.indexOf(TS_FIELD);
  return Date.parse(value.toString('latin1', i + TS_FIELD.length, i + TS_FIELD.length + 24));
}

/** `partition/offset` of an output event's cause, without parsing the whole event; undefined for timer changes. */
function causeOf(value: Buffer): string | undefined {
  const p = value.lastIndexOf(CAUSE_PARTITION);
  if (p < 0) return undefined;
  const comma = value.indexOf(0x2c, p);
  const o = value.indexOf(CAUSE_OFFSET, comma);
  const end = value.indexOf(0x22, o + CAUSE_OFFSET.length);
  return `${value.toString('latin1', p + CAUSE_PARTITION.length, comma)}/${value.toString('latin1', o + CAUSE_OFFSET.length, end)}`;
}

const TICK_MS = 5;
const PARTITIONS = 8;

/** Until `text` is on `count` lines of the process's log. */
async function waitForLog(file: string, text: string, count: number, timeoutMs: number, proc: MeasuredProcess): Promise<void> {
  const started = performance.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    if (!proc.running) throw new Error(`${proc.name} exited; see ${file}`);
    const n = readFileSync(file, 'utf8').split('\n').filter((l) => l.includes(text)).length;
    if (n >= count) return;
    if (performance.now() - started > timeoutMs) throw new Error(`no "${text}" ×${count} in ${file} after ${timeoutMs / 1000} s`);
  }
}

export async function latencyRun(
  watch: KafkaWatch, spec: SystemSpec, launch: LaunchOptions,
  o: { rate: number; seconds: number; warmupSeconds: number; customers: number; seed: number; repeat: number; logDir: string; say: (s: string) => void },
): Promise<LatencyResult> {
  await watch.createTopic(launch.input, PARTITIONS);
  await watch.createTopic(launch.output, PARTITIONS);
  const { command, args } = commandFor(spec, launch);
  const logFile = join(o.logDir, `${launch.group}.log`);
  const proc = new MeasuredProcess(spec.label, command, args, logFile);
  const kafka = { brokers: launch.brokers, clientId: 'aud-bench-latency' };
  // Arrival time (epoch ms, the same clock as the producer's stamps) of each output, by cause.
  const arrivals: { cause: string; at: number }[] = [];
  // The passthrough's outputs: stamp and arrival at once.
  const copies: { ts: number; at: number }[] = [];
  const passthrough = spec.kind === 'passthrough';
  const outputs = new KafkaSource({ ...kafka, groupId: `${launch.group}.probe`, topics: [launch.output], kafkaConfig: { 'fetch.wait.max.ms': 5 } });
  const sink = new KafkaSink(kafka);
  try {
    if (passthrough) {
      await waitForLog(logFile, 'passthrough started', 1, 60_000, proc);
      await new Promise((r) => setTimeout(r, 3000)); // its consumer joins the group
    } else {
      await waitForLog(logFile, '"msg":"partition assigned"', PARTITIONS, 60_000, proc);
    }
    await outputs.start({
      onAssign: async () => undefined, onRevoke: async () => undefined,
      onBatch: async (batch) => {
        const at = Date.now();
        for (let i = 0; i < batch.records.count; i++) {
          const v = valueAt(batch.records, i)!;
          const value = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
          if (passthrough) { copies.push({ ts: stampOf(value), at }); continue; }
          const cause = causeOf(value);
          if (cause !== undefined) arrivals.push({ cause, at });
        }
      },
    });
    await sink.connect();
    await new Promise((r) => setTimeout(r, 2000)); // the probe's consumer joins its group
    const total = Math.round(o.rate * o.seconds);
    const events: { key: string; head: string; tail: string }[] = [];
    for (const e of workloadEvents({ customers: o.customers, events: total, days: 1, seed: o.seed, start: new Date(), zipf: 0.8 })) {
      events.push(preEncode(e as unknown as Record<string, unknown>));
    }
    const started = Date.now();
    let sent = 0;
    const inFlight = new Set<Promise<unknown>>();
    let lastReport = started;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * o.rate));
      if (due > sent) {
        const records: SinkRecord[] = [];
        const ts = new Date().toISOString();
        for (; sent < due; sent++) {
          const e = events[sent]!;
          records.push({ topic: launch.input, key: e.key, value: e.head + ts + e.tail });
        }
        const p = sink.send(records).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      if (Date.now() - lastReport >= 5000) { lastReport = Date.now(); o.say(`  ${spec.label} at ${o.rate} events/s: ${sent}/${total} sent, ${arrivals.length + copies.length} outputs`); }
      await new Promise((r) => setTimeout(r, TICK_MS));
    }
    await Promise.all(inFlight);
    const achievedRate = total / ((Date.now() - started) / 1000);
    // Until everything is committed and the output holds still.
    let out = -1; let stableSince = Date.now(); let drained = false;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 250));
      const n = arrivals.length + copies.length;
      if (n !== out) { out = n; stableSince = Date.now(); }
      if (await watch.committedOffset(launch.group, launch.input) >= total && Date.now() - stableSince >= 2000) { drained = true; break; }
    }
    const peakRssMb = proc.peakRssMb;
    // Each cause's stamp, read back from the input topic.
    const stamps = new Map<string, number>();
    for (let p = 0; p < PARTITIONS && !passthrough; p++) {
      await readPartition(kafka, launch.input, p, undefined, async (records) => {
        for (const r of records) stamps.set(`${p}/${r.offset}`, stampOf(r.value!));
      });
    }
    const warmEnd = started + o.warmupSeconds * 1000;
    const latencies: number[] = [];
    for (const a of arrivals) {
      const ts = stamps.get(a.cause);
      if (ts !== undefined && ts >= warmEnd) latencies.push(a.at - ts);
    }
    for (const c of copies) if (c.ts >= warmEnd) latencies.push(c.at - c.ts);
    const sorted = Float64Array.from(latencies).sort();
    return {
      system: spec.label, repeat: o.repeat, targetRate: o.rate, achievedRate, events: total, samples: sorted.length,
      p50: percentile(sorted, 50), p99: percentile(sorted, 99), p999: percentile(sorted, 99.9), max: sorted[sorted.length - 1] ?? NaN,
      peakRssMb, drained,
    };
  } finally {
    await outputs.stop().catch(() => undefined);
    await sink.disconnect().catch(() => undefined);
    await proc.stop();
  }
}
