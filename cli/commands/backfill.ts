import { access, constants } from 'node:fs/promises';
import { extname } from 'node:path';
import type { CommandModule } from 'yargs';
import type { PartitionerName } from '../../connectors/kafka/partitioner.js';
import type { Plan } from '../../dsl/plan.js';
import type { CustomerOf } from '../../engine/backfill.js';
import type { InputRecord } from '../../engine/input-record.js';
import { parseDurationFlag } from '../duration.js';
import { loadPlan } from '../rules.js';

interface BackfillArgs {
  files: string[];
  input: string[];
  stateDir: string;
  brokers?: string;
  topic?: string;
  group?: string;
  partitions?: number;
  partitioner: PartitionerName;
  until?: string;
  maxClockJump?: string;
  kafka: string[];
}

/** Where a record was read, for the bad-record report: several files each have their own line numbers. */
type Origins = WeakMap<InputRecord, string>;

async function* inputRecords(paths: string[], plan: Plan, origins: Origins): AsyncGenerator<InputRecord> {
  const from = (record: InputRecord, where: string): InputRecord => { origins.set(record, where); return record; };
  const { readAvroContainer } = await import('../../connectors/file/avro-container.js');
  const { readCsvEvents } = await import('../../connectors/file/csv.js');
  const { readJsonLines } = await import('../../connectors/file/jsonl.js');
  for (const path of paths) {
    const ext = extname(path);
    if (ext === '.avro') {
      for await (const { index, value } of readAvroContainer(path)) yield from({ value, cause: { line: index } }, `${path}: record ${index}`);
    } else if (ext === '.csv') {
      for await (const { line, value } of readCsvEvents(path, plan)) yield from({ value, cause: { line } }, `${path}:${line}`);
    } else {
      // JSON Lines: parsed here once, to route by customer; a line that is not JSON goes on as text and is reported bad.
      for await (const { line, text } of readJsonLines(path)) {
        let value: InputRecord['value'] = text;
        try { value = JSON.parse(text) as Record<string, unknown>; } catch { /* reported by the decoder */ }
        yield from({ value, cause: { line } }, `${path}:${line}`);
      }
    }
  }
}

function customerField(plan: Plan): CustomerOf {
  const field = plan.source.keyField;
  return (record) => {
    const v = record.value;
    if (field === undefined || v === null || typeof v !== 'object' || v instanceof Uint8Array) return undefined;
    const id = (v as Record<string, unknown>)[field];
    return typeof id === 'string' ? id : typeof id === 'number' ? String(id) : undefined;
  };
}

function progressBar(total: number | undefined): { update(n: number): void; done(): void } {
  const started = Date.now();
  let last = 0;
  return {
    update(n) {
      const now = Date.now();
      if (now - last < (process.stderr.isTTY ? 250 : 5000)) return;
      last = now;
      const rate = Math.round(n / Math.max(0.001, (now - started) / 1000));
      const line = total ? `${'#'.repeat(Math.round((n / total) * 30)).padEnd(30, '.')} ${n}/${total}` : `${n} records`;
      process.stderr.write(`${process.stderr.isTTY ? '\r' : ''}backfill [${line}] ${rate} records/s${process.stderr.isTTY ? ' ' : '\n'}`);
    },
    done() { if (process.stderr.isTTY) process.stderr.write('\n'); },
  };
}

export const backfillCommand: CommandModule<object, BackfillArgs> = {
  command: 'backfill <files..>',
  describe: 'Load historical events (JSON Lines, CSV, Avro) into the state of a new deployment, through the same operators as the stream',
  builder: (y) => y
    .positional('files', { type: 'string', array: true, demandOption: true, describe: '.aud rule files' })
    .option('input', { alias: 'i', type: 'string', array: true, demandOption: true, describe: 'history files, in time order: .jsonl, .csv (header row), .avro' })
    .option('state-dir', { type: 'string', default: '.aud-state', describe: 'the state directory `aud run` will use (must hold no state yet)' })
    .option('brokers', { type: 'string', describe: 'Kafka: read the input topic\'s partition count and write the state to the changelog topic (recommended)' })
    .option('topic', { type: 'string', describe: 'input topic (default: the source block\'s)' })
    .option('group', { type: 'string', describe: 'the consumer group `aud run` will use (default aud-<input topic>): names the changelog' })
    .option('partitions', { type: 'number', describe: 'the input topic\'s partition count, without --brokers' })
    .option('partitioner', { choices: ['murmur2', 'crc32'] as const, default: 'murmur2' as const, describe: 'how the live topic\'s producers partition by customer id: murmur2 (Java clients, Kafka Streams) or crc32 (librdkafka\'s default)' })
    .option('until', { type: 'string', describe: 'after the last event, advance the clock to this time (ISO-8601 or epoch ms): timers due by then fire' })
    .option('max-clock-jump', { type: 'string', describe: 'a record whose time is further ahead of its partition\'s clock than this (30s, 5m, 2h, 7d) is a bad record and does not move the clock (default off)' })
    .option('kafka', { type: 'string', array: true, default: [], describe: 'librdkafka setting key=value, repeatable' }) as never,
  handler: async (args) => {
    const plan = await loadPlan(args.files);
    if (!plan) { process.exitCode = 1; return; }
    // Loaded here, not at the top: every command imports this file, and only backfill needs RocksDB.
    const { partitionFor } = await import('../../connectors/kafka/partitioner.js');
    const { backfill, BackfillTargetNotEmptyError } = await import('../../engine/backfill.js');
    const { timeFlag } = await import('../time-flag.js');
    const { openRocksStore } = await import('../../engine/state/rocksdb-store.js');
    const { changelogTopicFor, defaultGroupFor, partitionStateDir } = await import('../../runtime/naming.js');
    const fail = (message: string): void => { process.stderr.write(`error: ${message}\n`); process.exitCode = 1; };
    const topic = args.topic ?? plan.source.topic;
    if (!topic) return fail('no input topic: declare source "topic" { ... } or pass --topic (stores are named after it)');
    if (plan.source.identity) return fail('the source resolves identities (identity in the source): backfill does not build identity state yet; produce the history to the input topic instead (its one partition is read from the start), or use aud replay');
    if (plan.source.keyField === undefined) return fail('the source block has no `key` field: history files must name the customer in a field to be routed to partitions');
    let until: number | undefined;
    if (args.until !== undefined) {
      until = timeFlag(args.until);
      if (until === undefined) return fail(`--until "${args.until}" is not a time; give ISO-8601 or epoch milliseconds`);
    }
    const notPair = args.kafka.find((p) => p.indexOf('=') <= 0);
    if (notPair !== undefined) return fail(`--kafka "${notPair}" is not key=value (for example --kafka security.protocol=SASL_SSL)`);
    // Before any store is created: a typo in a path must not leave a half-made state directory behind.
    for (const path of args.input) {
      try {
        await access(path, constants.R_OK);
      } catch (err) {
        return fail(`cannot read the history file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
      }
    }
    const kafkaConfig = Object.fromEntries(args.kafka.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
    const kafka = args.brokers ? { brokers: args.brokers, clientId: 'aud-backfill', kafkaConfig } : undefined;
    let partitions = args.partitions;
    let changelog: { topic: string; sink: import('../../connectors/kafka/sink.js').KafkaSink } | undefined;
    if (kafka) {
      try {
        const { partitionCount, ensureTopics, endOffsets } = await import('../../connectors/kafka/admin.js');
        const { KafkaSink } = await import('../../connectors/kafka/sink.js');
                const count = await partitionCount(kafka, topic);
        if (partitions !== undefined && partitions !== count) return fail(`--partitions ${partitions}, but ${topic} has ${count}`);
        partitions = count;
        const changelogTopic = changelogTopicFor(args.group ?? defaultGroupFor(topic));
        const { COMPACTED_TOPIC_CONFIG } = await import('../../runtime/compacted-topics.js');
        await ensureTopics(kafka, [{ topic: changelogTopic, partitions, config: { ...COMPACTED_TOPIC_CONFIG } }]);
        const ends = await endOffsets(kafka, changelogTopic);
        if ([...ends.values()].some((o) => o > 0n)) {
          return fail(`the changelog ${changelogTopic} already holds state: backfill builds the state of a new deployment (use a new --group, or delete that group's state and changelog first)`);
        }
        const sink = new KafkaSink(kafka);
        await sink.connect();
        changelog = { topic: changelogTopic, sink };
      } catch (err) {
        // A missing topic or an unreachable broker: say which, without a stack trace.
        return fail((err as Error).message);
      }
    }
    if (partitions === undefined) return fail('give --brokers (recommended: the partition count is read and the state written to the changelog) or --partitions');

    const started = Date.now();
    const maxClockJump = args.maxClockJump === undefined ? undefined : parseDurationFlag('max-clock-jump', args.maxClockJump);
    if (maxClockJump instanceof Error) return fail(maxClockJump.message);
    const bar = progressBar(undefined);
    const { writeCheckpoint } = await import('../../runtime/changelog.js');
    try {
      const origins: Origins = new WeakMap();
      const summary = await backfill(plan, inputRecords(args.input, plan, origins), customerField(plan), {
        partitions,
        partitionOf: (customer) => partitionFor(args.partitioner, customer, partitions),
        openStore: (p) => openRocksStore(partitionStateDir(args.stateDir, topic, p)),
        ...(until !== undefined ? { until } : {}),
        ...(maxClockJump !== undefined ? { clockGuard: { maxJumpMs: maxClockJump } } : {}),
        onBad: (b) => process.stderr.write(`${origins.get(b.record) ?? 'record'}: bad record skipped: ${b.reason}\n`),
        onProgress: (n) => bar.update(n),
        ...(changelog ? {
          writeChangelog: async (p: number, records: { key: string; value: Uint8Array }[]) => {
            const first = (await changelog.sink.send(records.map((r) => ({ topic: changelog.topic, partition: p, key: r.key, value: Buffer.from(r.value) }))))
              .get(`${changelog.topic}/${p}`);
            return first! + BigInt(records.length) - 1n;
          },
          onChangelogWritten: (_p: number, store: import('../../engine/state/store.js').PartitionStore, last: bigint) => writeCheckpoint(store, last),
        } : {}),
      });
      bar.done();
      const secs = (Date.now() - started) / 1000;
      const members = Object.entries(summary.members).map(([a, n]) => `${a} ${n}`).join(', ');
      process.stderr.write(`backfilled ${summary.records} records in ${secs.toFixed(1)} s (${Math.round(summary.records / Math.max(secs, 0.001))} records/s) ` +
        `into ${partitions} partition(s) of ${args.stateDir}: ${summary.applied} applied, ${summary.skipped} of undeclared types skipped, ${summary.bad} bad; ` +
        `${summary.customers} customers; members: ${members || 'none'}; ${summary.changes} enter/leave changes in the history (not emitted)` +
        `${changelog ? `; ${summary.changelogRecords} records written to ${changelog.topic}` : '; no changelog written (no --brokers): keep this state directory'}\n`);
    } catch (err) {
      bar.done();
      if (err instanceof BackfillTargetNotEmptyError) return fail(err.message);
      // Stores were written as the history went: a second run would be refused, and a live one would start from part of the past.
      fail(`backfill stopped: ${(err as Error).message}. The state under ${args.stateDir} is incomplete: delete it` +
        `${changelog ? ` and the changelog topic ${changelog.topic}` : ''} before running backfill again, and do not start aud run on it`);
    } finally {
      await changelog?.sink.disconnect();
    }
  },
};
