import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { CommandModule } from 'yargs';
import { createLogger, type LogLevel } from '../../engine/log.js';
import type { OutputEvent } from '../../engine/output-event.js';
import { accessProblem, isLoopback, type HttpAccess } from '../../runtime/http-access.js';
import { QueryServer } from '../../runtime/query-server.js';
import type { ValueDecoder } from '../../engine/value-decoder.js';
import { DEFAULT_YOUNG_GENERATION_MB, MIN_YOUNG_GENERATION_MB } from '../../runtime/worker/young-generation.js';
import { avroOutputEncoder, avroValueDecoder } from '../avro-options.js';
import { defaultConfigFile, environmentOverrides, readConfigFile, redactSettings, type FlagKind } from '../config-file.js';
import { parseDurationFlag } from '../duration.js';
import { kafkaSettings } from '../kafka-settings.js';
import { loadPlan } from '../rules.js';
import { RuleReloader } from '../rule-reloader.js';

interface RunArgs {
  files: string[];
  brokers: string;
  group?: string;
  stateDir: string;
  workers: number;
  cacheCustomers: number;
  youngGenerationMb: number;
  clock: 'wall' | 'event';
  topic?: string;
  outputTopic?: string;
  kafka: string[];
  tickMs: number;
  maxClockSkew: string;
  maxClockJump?: string;
  commitIntervalMs: number;
  exactlyOnce: boolean;
  avroSchema?: string;
  schemaRegistry?: string;
  outputFormat: 'json' | 'avro';
  config?: string;
  http?: number;
  httpHost: string;
  httpToken?: string;
  httpTlsCert?: string;
  httpTlsKey?: string;
  advertisedHttp?: string;
  logLevel: LogLevel;
  logFormat: 'text' | 'json';
  watch: boolean;
}

/** The flags AUD_* environment variables may set (AUD_BROKERS, AUD_STATE_DIR, ...). */
const RUN_FLAGS: Record<string, FlagKind> = {
  brokers: 'string', group: 'string', 'state-dir': 'string', workers: 'number', 'cache-customers': 'number', 'young-generation-mb': 'number', clock: 'string', topic: 'string',
  'output-topic': 'string', 'max-clock-skew': 'string', 'max-clock-jump': 'string', kafka: 'array', 'tick-ms': 'number', 'commit-interval-ms': 'number', 'exactly-once': 'boolean', http: 'number',
  'avro-schema': 'string', 'schema-registry': 'string', 'output-format': 'string',
  'http-host': 'string', 'http-token': 'string', 'http-tls-cert': 'string', 'http-tls-key': 'string', 'advertised-http': 'string', 'log-level': 'string', 'log-format': 'string',
};

/** The query API's token and TLS files from the flags (or AUD_HTTP_TOKEN); throws with what to fix. */
function httpAccess(args: RunArgs): HttpAccess {
  if ((args.httpTlsCert === undefined) !== (args.httpTlsKey === undefined)) {
    throw new Error('give --http-tls-cert and --http-tls-key together (a PEM certificate and its private key)');
  }
  const read = (flag: string, path: string): Buffer => {
    try { return readFileSync(path); } catch (err) { throw new Error(`--${flag} ${path}: ${(err as Error).message}`); }
  };
  return {
    ...(args.httpToken !== undefined && args.httpToken !== '' ? { token: args.httpToken } : {}),
    ...(args.httpTlsCert !== undefined ? { tls: { cert: read('http-tls-cert', args.httpTlsCert), key: read('http-tls-key', args.httpTlsKey!) } } : {}),
  };
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run [files..]',
  describe: 'Run the rules on Kafka as a long-lived engine (consumer group, RocksDB state); stop with Ctrl-C',
  builder: (y) => y
    .positional('files', { type: 'string', array: true, describe: '.aud rule files (or `files:` in the config file)' })
    .config('config', 'a YAML or JSON file of flags (default: aud.config.yaml or .json here, if present); flags and AUD_* variables override it', readConfigFile)
    .default('config', defaultConfigFile(), defaultConfigFile() ?? 'none')
    .middleware(environmentOverrides(RUN_FLAGS), true)
    .option('brokers', { type: 'string', demandOption: 'give --brokers, brokers: in the config file, or AUD_BROKERS', describe: 'Kafka bootstrap servers, HOST:PORT[,HOST:PORT]' })
    .option('group', { type: 'string', describe: 'consumer group id (default: aud-<input topic>)' })
    .option('state-dir', { type: 'string', default: '.aud-state', describe: 'where the RocksDB stores live, one per input partition' })
    .option('workers', { type: 'number', default: 1, describe: 'worker threads for rule evaluation; partition p runs in thread p mod N (0: in the main thread)' })
    .option('cache-customers', { type: 'number', default: 2_000, describe: 'decoded customers kept in memory per partition, in front of RocksDB' })
    .option('young-generation-mb', { type: 'number', default: DEFAULT_YOUNG_GENERATION_MB, describe: 'V8 young generation of each rule worker thread: larger runs a backlog faster, smaller gives shorter garbage-collection pauses (lower p99 latency)' })
    .option('clock', { choices: ['wall', 'event'] as const, default: 'wall' as const, describe: 'wall: machine time once caught up; event: largest event time seen' })
    .option('topic', { type: 'string', describe: 'input topic (default: the source block\'s)' })
    .option('output-topic', { type: 'string', describe: 'enter/leave topic (default: the output declaration\'s)' })
    .option('kafka', { type: 'string', array: true, default: [], describe: 'librdkafka setting key=value, repeatable' })
    .option('exactly-once', { type: 'boolean', default: false, describe: 'Kafka transactions: output, state changelog and input offsets commit together (consumers read with isolation.level=read_committed)' })
    .option('avro-schema', { type: 'string', describe: 'format avro: the .avsc schema of the values (plain Avro binary), or with --schema-registry the reader schema' })
    .option('schema-registry', { type: 'string', describe: 'a Confluent-compatible schema registry URL: Avro input is in its wire format, Avro output registered under <output>-value; credentials as http://user:pass@host:8081' })
    .option('output-format', { choices: ['json', 'avro'] as const, default: 'json' as const, describe: 'enter/leave events as JSON, or Avro with connectors/avro/segment-event.avsc' })
    .option('http', { type: 'number', describe: 'serve the query API (customers, audience sizes, health, readiness, Prometheus metrics) and the dashboard (at /) on this port' })
    .option('http-host', { type: 'string', default: '127.0.0.1', describe: 'address the query API listens on; beyond loopback it needs a token' })
    .option('http-token', { type: 'string', describe: 'bearer token the query API requires (prefer AUD_HTTP_TOKEN: a flag shows in the process list); required when --http-host is not loopback' })
    .option('http-tls-cert', { type: 'string', describe: 'PEM certificate: serve the query API over HTTPS (with --http-tls-key)' })
    .option('http-tls-key', { type: 'string', describe: 'PEM private key of --http-tls-cert' })
    .option('advertised-http', { type: 'string', describe: 'HOST:PORT at which other members reach this one\'s query API (default: the host name and --http)' })
    .option('max-clock-skew', { type: 'string', default: '5m', describe: 'wall clock: a record whose time is further ahead of this machine\'s clock is dead-lettered and does not move the clock (300ms, 30s, 5m, 2h, 7d; off)' })
    .option('max-clock-jump', { type: 'string', describe: 'a record whose time is further ahead of its partition\'s clock is dead-lettered (for --clock event; default off)' })
    .option('tick-ms', { type: 'number', default: 1000, describe: 'how often caught-up partitions move to the wall clock' })
    .option('commit-interval-ms', { type: 'number', default: 200, describe: 'at-least-once: how often each partition commits its state (output goes out with every batch)' })
    .option('watch', { type: 'boolean', default: false, describe: 'deploy the rule files again when one changes (as on SIGHUP): docs/operations.md, "Changing rules"' })
    .option('log-level', { choices: ['debug', 'info', 'warn', 'error'] as const, default: 'info' as const })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const }) as never,
  handler: async (args) => {
    const log = createLogger({ level: args.logLevel, format: args.logFormat });
    if (!args.files || args.files.length === 0) {
      log.error('no rule files: name them (aud run rules/*.aud ...) or list them under files: in the config file');
      process.exitCode = 1; return;
    }
    const plan = await loadPlan(args.files);
    if (!plan) { process.exitCode = 1; return; }
    const inputTopic = args.topic ?? plan.source.topic;
    const outputTopic = args.outputTopic ?? plan.outputTopic;
    if (!inputTopic) { log.error('no input topic: declare source "topic" { ... } in a rule file or pass --topic'); process.exitCode = 1; return; }
    if (!outputTopic) { log.error('no output topic: declare output "topic" in a rule file or pass --output-topic'); process.exitCode = 1; return; }
    let kafkaConfig: Record<string, string>;
    try {
      kafkaConfig = kafkaSettings(args.kafka);
    } catch (err) {
      log.error((err as Error).message); process.exitCode = 1; return;
    }
    if (!Number.isInteger(args.workers) || args.workers < 0) {
      log.error(`--workers ${args.workers} is not a whole number of threads: give 0 (the main thread) or more`); process.exitCode = 1; return;
    }
    if (!Number.isInteger(args.cacheCustomers) || args.cacheCustomers < 0) {
      log.error(`--cache-customers ${args.cacheCustomers} is not a whole number: give 0 or more`); process.exitCode = 1; return;
    }
    if (!Number.isInteger(args.youngGenerationMb) || args.youngGenerationMb < MIN_YOUNG_GENERATION_MB) {
      log.error(`--young-generation-mb ${args.youngGenerationMb} is not a whole number of MB from ${MIN_YOUNG_GENERATION_MB} up: ` +
        `give ${DEFAULT_YOUNG_GENERATION_MB} (the default, for throughput) or about 32 for shorter pauses`); process.exitCode = 1; return;
    }
    const maxClockSkew = parseDurationFlag('max-clock-skew', args.maxClockSkew);
    const maxClockJump = args.maxClockJump === undefined ? undefined : parseDurationFlag('max-clock-jump', args.maxClockJump);
    if (maxClockSkew instanceof Error || maxClockJump instanceof Error) {
      log.error(((maxClockSkew instanceof Error ? maxClockSkew : maxClockJump) as Error).message); process.exitCode = 1; return;
    }
    const clockGuard = {
      ...(args.clock === 'wall' && maxClockSkew !== undefined ? { maxAheadOfMachineMs: maxClockSkew } : {}),
      ...(maxClockJump !== undefined ? { maxJumpMs: maxClockJump } : {}),
    };
    let valueDecoder: ValueDecoder | undefined;
    let encodeOutput: ((event: OutputEvent) => Buffer) | undefined;
    if (args.outputFormat === 'avro' && (plan.decisions ?? []).length > 0) {
      log.error('cannot start: --output-format avro writes enter/leave events only, and these rules have decisions (their events have no Avro schema); use --output-format json');
      process.exitCode = 1; return;
    }
    try {
      valueDecoder = await avroValueDecoder(plan, inputTopic, args, log);
      encodeOutput = await avroOutputEncoder(outputTopic, args, log);
    } catch (err) {
      log.error(`cannot start: ${(err as Error).message}`); process.exitCode = 1; return;
    }
    // Loaded here, not at the top: check, replay and test never load the Kafka client.
    const { KafkaRuntime } = await import('../../runtime/kafka-runtime.js');
    const { changelogTopicFor, deadLetterTopicFor, defaultGroupFor, membershipTopicFor } = await import('../../runtime/naming.js');
    const groupId = args.group ?? defaultGroupFor(inputTopic);
    log.info('configuration', {
      rules: args.files.join(','), brokers: args.brokers, group: groupId, stateDir: args.stateDir, exactlyOnce: args.exactlyOnce,
      config: args.config ?? 'none', ...(Object.keys(kafkaConfig).length > 0 ? { kafka: JSON.stringify(redactSettings(kafkaConfig)) } : {}),
    });
    let server: QueryServer | undefined;
    let advertised: string | undefined;
    if (args.http !== undefined) {
      let access: HttpAccess;
      try {
        access = httpAccess(args);
      } catch (err) {
        log.error(`cannot serve the query API: ${(err as Error).message}`); process.exitCode = 1; return;
      }
      const problem = accessProblem(args.httpHost, access);
      if (problem) { log.error(`cannot serve the query API: ${problem}`); process.exitCode = 1; return; }
      server = new QueryServer(log, access);
      try {
        const port = await server.listen(args.http, args.httpHost);
        // Members of the group find each other's query API through the client id (see `groupMembers`):
        // on loopback, only processes of this machine can, at the address bound.
        advertised = args.advertisedHttp ?? `${isLoopback(args.httpHost) ? args.httpHost : hostname()}:${port}`;
        log.info('query API listening', { url: `${access.tls ? 'https' : 'http'}://${args.httpHost}:${port}`, advertised, token: access.token !== undefined });
      } catch (err) {
        log.error(`cannot serve the query API on ${args.httpHost}:${args.http}: ${(err as Error).message}; pick another --http port`);
        process.exitCode = 1; return;
      }
    }
    const runtime = new KafkaRuntime({
      plan,
      kafka: { brokers: args.brokers, clientId: advertised ? `aud@${advertised}` : 'aud', kafkaConfig },
      groupId,
      stateDir: args.stateDir,
      inputTopic,
      outputTopic,
      membershipTopic: membershipTopicFor(outputTopic),
      deadLetterTopic: deadLetterTopicFor(inputTopic),
      changelogTopic: changelogTopicFor(groupId),
      clock: args.clock,
      tickMs: args.tickMs,
      clockGuard,
      commitIntervalMs: args.commitIntervalMs,
      exactlyOnce: args.exactlyOnce,
      workers: args.workers,
      cacheCustomers: args.cacheCustomers,
      youngGenerationMb: args.youngGenerationMb,
      ...(valueDecoder ? { valueDecoder } : {}),
      ...(encodeOutput ? { encodeOutput } : {}),
      log,
      onFatal: () => {
        if (stopping) return;
        stopping = true;
        process.exitCode = 1;
        // A clean stop commits nothing new here; if it cannot finish, exit anyway: the error is logged.
        setTimeout(() => process.exit(1), 30_000).unref();
        runtime.stop().then(() => server?.close()).finally(() => process.exit(1));
      },
    });
    let stopping = false;
    const onSignal = (signal: string): void => {
      if (stopping) {
        log.warn(`second ${signal}: exiting now without a clean stop; the next start replays from the last commit`);
        // process.exit() can block while the Kafka client tears down mid-stop; a second signal must not wait.
        process.kill(process.pid, 'SIGKILL');
      }
      stopping = true;
      log.info(`${signal}: finishing the batch in flight, flushing and committing (send again to exit at once)`);
      runtime.stop().then(() => server?.close()).then(() => process.exit(0), (err: unknown) => {
        log.error('clean stop failed', { error: (err as Error).message });
        process.exit(1);
      });
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    const reloader = new RuleReloader(args.files, log, (next) => runtime.deploy(next));
    process.on('SIGHUP', () => reloader.reload('SIGHUP'));
    if (args.watch) reloader.watch();
    server?.serve(runtime, advertised);
    try {
      await runtime.start();
    } catch (err) {
      log.error(`cannot start: ${(err as Error).message}`);
      process.exitCode = 1;
      await runtime.stop().catch(() => undefined);
      await server?.close();
    }
  },
};
