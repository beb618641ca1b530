/**
 * Producing the workload into a topic, fast: batches of records through
 * aud's own KafkaSink (connectors/kafka/sink.ts), several batches in flight,
 * a longer linger and bigger batches than the engine uses, because this is
 * bulk loading before the measurement, not part of it. Keyed by customer id;
 * the client's partitioner puts each customer in one partition, and the
 * stream is in time order, so every partition is.
 */
import { KafkaSink, type SinkRecord } from '../../connectors/kafka/sink.js';
import { eventEncoder, type WorkloadFormat } from './event-encoding.js';
import { identityEvents, identityKey, type IdentityWorkloadOptions } from './identity-workload.js';
import { workloadEvents, type WorkloadOptions } from './retail-workload.js';

export interface ProduceOptions extends WorkloadOptions {
  brokers: string;
  topic: string;
  format: WorkloadFormat;
  /** Called every couple of seconds and at the end. */
  onProgress?: (p: ProduceProgress) => void;
  /** The events with identities instead of a customer key (identity-workload.ts), keyed by their first identifier; JSON only. */
  identities?: IdentityWorkloadOptions;
}

export interface ProduceProgress { produced: number; total: number; bytes: number; seconds: number; eventsPerSecond: number }

const BATCH = 20_000;
const IN_FLIGHT = 4;

export async function produceWorkload(opts: ProduceOptions): Promise<ProduceProgress> {
  const sink = new KafkaSink({
    brokers: opts.brokers,
    clientId: 'aud-bench-workload',
    kafkaConfig: { 'linger.ms': 50, 'batch.size': 1_000_000, 'queue.buffering.max.messages': 1_000_000, 'queue.buffering.max.kbytes': 1_048_576 },
  });
  await sink.connect();
  const encode = eventEncoder(opts.format);
  const started = performance.now();
  let produced = 0;
  let bytes = 0;
  let lastReport = started;
  const progress = (): ProduceProgress => {
    const seconds = (performance.now() - started) / 1000;
    return { produced, total: opts.events, bytes, seconds, eventsPerSecond: Math.round(produced / Math.max(seconds, 1e-3)) };
  };
  const inFlight = new Set<Promise<void>>();
  let batch: SinkRecord[] = [];
  const flush = async (): Promise<void> => {
    const records = batch;
    batch = [];
    const p = sink.send(records).then(() => {
      produced += records.length;
      inFlight.delete(p);
      const now = performance.now();
      if (opts.onProgress && now - lastReport >= 2000) { lastReport = now; opts.onProgress(progress()); }
    });
    inFlight.add(p);
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
  };
  try {
    if (opts.identities) {
      if (opts.format !== 'json') throw new Error('the identity workload is produced as JSON only');
      const events = workloadEvents(opts) as Iterable<unknown> as Iterable<Record<string, unknown>>;
      for (const e of identityEvents(events, opts.identities)) {
        const value = JSON.stringify({ ...e, ts: new Date(e['ts'] as number).toISOString() });
        bytes += value.length;
        batch.push({ topic: opts.topic, key: identityKey(e), value });
        if (batch.length >= BATCH) await flush();
      }
    } else {
      for (const e of workloadEvents(opts)) {
        const value = encode(e);
        bytes += value.length;
        batch.push({ topic: opts.topic, key: e.customer_id, value });
        if (batch.length >= BATCH) await flush();
      }
    }
    if (batch.length > 0) await flush();
    await Promise.all(inFlight);
  } finally {
    await sink.disconnect();
  }
  const done = progress();
  opts.onProgress?.(done);
  return done;
}
