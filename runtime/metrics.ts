/**
 * The engine's Prometheus metrics, served by the query API at `/metrics`.
 *
 * One registry per engine (not prom-client's global one), so that tests and
 * several runtimes in one process do not mix their numbers. Values that are
 * cheap to keep as they happen are counters and gauges set on the way; values
 * that cost a look (audience sizes, state size on disk) are read when scraped.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import client from 'prom-client';
import { clientPatches } from '../connectors/kafka/client-patches.js';

export interface ScrapeSources {
  /** Members per audience over the partitions this process owns. */
  audienceSizes(): Record<string, number>;
  /** State directories of the partitions this process owns, by partition label. */
  stateDirs(): Map<string, string>;
}

export class EngineMetrics {
  readonly registry = new client.Registry();
  readonly eventsIn: client.Counter<'topic'>;
  readonly eventsApplied: client.Counter;
  readonly recordsSkipped: client.Counter;
  readonly badRecords: client.Counter<'topic'>;
  readonly clockRefused: client.Counter<'topic'>;
  readonly segmentEvents: client.Counter<'audience' | 'type'>;
  readonly decisionEvents: client.Counter<'decision' | 'offer'>;
  readonly consumerLag: client.Gauge<'topic' | 'partition'>;
  readonly batchSeconds: client.Histogram;
  readonly recordLatency: client.Histogram;
  readonly commitFailures: client.Counter;
  readonly partitionsAssigned: client.Gauge;
  readonly restoredRecords: client.Counter;
  readonly timersPending: client.Gauge<'partition'>;
  readonly largestState: client.Gauge<'partition'>;
  readonly boundedEvents: client.Counter<'partition'>;
  readonly audiencesWarming: client.Gauge;
  readonly historyRecords: client.Counter;
  readonly profileMerges: client.Counter;
  readonly erasures: client.Counter;

  constructor(sources: ScrapeSources) {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry, prefix: 'aud_' });
    this.eventsIn = new client.Counter({ name: 'aud_events_in_total', help: 'Input records read (good, bad and of undeclared types)', labelNames: ['topic'], registers });
    this.eventsApplied = new client.Counter({ name: 'aud_events_applied_total', help: 'Input events applied to the state', registers });
    this.recordsSkipped = new client.Counter({ name: 'aud_records_skipped_total', help: 'Input records of event types no rule declares', registers });
    this.badRecords = new client.Counter({ name: 'aud_bad_records_total', help: 'Input records sent to the dead-letter topic', labelNames: ['topic'], registers });
    this.clockRefused = new client.Counter({ name: 'aud_clock_skew_records_total', help: 'Input records dead-lettered because their time was too far ahead (--max-clock-skew, --max-clock-jump); also counted in aud_bad_records_total', labelNames: ['topic'], registers });
    this.segmentEvents = new client.Counter({ name: 'aud_segment_events_total', help: 'Enter and leave events produced', labelNames: ['audience', 'type'], registers });
    this.decisionEvents = new client.Counter({ name: 'aud_decision_events_total', help: 'Decision events produced, by the offer they name ("none": no offer)', labelNames: ['decision', 'offer'], registers });
    this.consumerLag = new client.Gauge({ name: 'aud_consumer_lag', help: 'Input records not yet applied, per partition, as of the last batch', labelNames: ['topic', 'partition'], registers });
    this.batchSeconds = new client.Histogram({
      name: 'aud_batch_duration_seconds', help: 'From a batch handed to the engine to its commit (output acknowledged, state written)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers,
    });
    // Kafka Streams' record-e2e-latency (KIP-613), per record: what a user of
    // the output waits for, less the broker hops at either end. A backlog
    // shows here as its age, which is why the buckets reach an hour.
    this.recordLatency = new client.Histogram({
      name: 'aud_record_latency_seconds',
      help: 'From an input record\'s Kafka timestamp to the moment the enter/leave events of its batch are handed to the producer (exactly-once: committed)',
      buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600], registers,
    });
    this.commitFailures = new client.Counter({ name: 'aud_commit_failures_total', help: 'Batches whose commit failed (the partition was reopened and the batch read again)', registers });
    this.partitionsAssigned = new client.Gauge({ name: 'aud_partitions_assigned', help: 'Input partitions this process owns', registers });
    this.restoredRecords = new client.Counter({ name: 'aud_restored_records_total', help: 'Changelog records applied while restoring state', registers });
    this.timersPending = new client.Gauge({ name: 'aud_timers_pending', help: 'Customers with a scheduled re-evaluation, per partition', labelNames: ['partition'], registers });
    this.largestState = new client.Gauge({ name: 'aud_customer_state_largest_bytes', help: 'The largest customer state written since the partition was opened (encoded bytes), per partition', labelNames: ['partition'], registers });
    const patches = clientPatches();
    const patched = new client.Gauge({
      name: 'aud_kafka_client_patched', help: 'Whether the Kafka client carries each of aud\'s patches (1) or not (0): unpatched is correct, only slower (patches/README.md)',
      labelNames: ['patch'], registers,
    });
    for (const [patch, has] of Object.entries(patches)) patched.set({ patch }, has ? 1 : 0);
    this.boundedEvents = new client.Counter({
      name: 'aud_bounded_state_events_total', help: 'Events added to a customer\'s distinct or top holding its most values (past them: approximate), per partition',
      labelNames: ['partition'], registers,
    });
    this.audiencesWarming = new client.Gauge({ name: 'aud_audiences_warming', help: 'Audiences a rule change adds or changes, while it is rolled out over the owned partitions (0: none in progress)', registers });
    this.historyRecords = new client.Counter({ name: 'aud_rule_change_history_records_total', help: 'Input records read again to build the states a rule change adds', registers });
    this.profileMerges = new client.Counter({ name: 'aud_profile_merges_total', help: 'Events that merged profiles or gave a profile a new id (identity sources)', registers });
    this.erasures = new client.Counter({ name: 'aud_erasures_total', help: 'aud.forget records applied (each logs an erasure receipt)', registers });
    new client.Gauge({
      name: 'aud_audience_size', help: 'Members per audience over the partitions this process owns', labelNames: ['audience'], registers,
      collect() {
        this.reset();
        for (const [audience, n] of Object.entries(sources.audienceSizes())) this.set({ audience }, n);
      },
    });
    new client.Gauge({
      name: 'aud_state_size_bytes', help: 'Bytes on disk of each owned partition\'s state store', labelNames: ['partition'], registers,
      async collect() {
        this.reset();
        for (const [partition, dir] of sources.stateDirs()) this.set({ partition }, await directoryBytes(dir));
      },
    });
  }

  /** The text exposition format, for `/metrics`. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** Bytes of the files under `dir`, however deep (a RocksDB store). */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) total += await directoryBytes(path);
    else total += (await stat(path).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
