import type { CommandModule } from 'yargs';
import { createLogger, type LogLevel } from '../../engine/log.js';
import { loadPlan } from '../rules.js';

interface RunArgs {
  files: string[];
  brokers: string;
  group?: string;
  stateDir: string;
  workers: number;
  clock: 'wall' | 'event';
  topic?: string;
  outputTopic?: string;
  kafka: string[];
  tickMs: number;
  logLevel: LogLevel;
  logFormat: 'text' | 'json';
}

/** `--kafka key=value` pairs: librdkafka settings passed through (SASL, SSL, ...). */
function kafkaSettings(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`--kafka "${p}" is not key=value (for example --kafka security.protocol=SASL_SSL)`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run <files..>',
  describe: 'Run the rules on Kafka as a long-lived engine (consumer group, RocksDB state); stop with Ctrl-C',
  builder: (y) => y
    .positional('files', { type: 'string', array: true, demandOption: true, describe: '.aud rule files' })
    .option('brokers', { type: 'string', demandOption: true, describe: 'Kafka bootstrap servers, HOST:PORT[,HOST:PORT]' })
    .option('group', { type: 'string', describe: 'consumer group id (default: aud-<input topic>)' })
    .option('state-dir', { type: 'string', default: '.aud-state', describe: 'where the RocksDB stores live, one per input partition' })
    .option('workers', { type: 'number', default: 1, describe: 'worker threads for rule evaluation' })
    .option('clock', { choices: ['wall', 'event'] as const, default: 'wall' as const, describe: 'wall: machine time once caught up; event: largest event time seen' })
    .option('topic', { type: 'string', describe: 'input topic (default: the source block\'s)' })
    .option('output-topic', { type: 'string', describe: 'enter/leave topic (default: the output declaration\'s)' })
    .option('kafka', { type: 'string', array: true, default: [], describe: 'librdkafka setting key=value, repeatable' })
    .option('tick-ms', { type: 'number', default: 1000, describe: 'how often caught-up partitions move to the wall clock' })
    .option('log-level', { choices: ['debug', 'info', 'warn', 'error'] as const, default: 'info' as const })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const }) as never,
  handler: async (args) => {
    const log = createLogger({ level: args.logLevel, format: args.logFormat });
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
    if (args.workers !== 1) log.warn('--workers > 1 is not used yet: every partition runs on the main thread', { workers: args.workers });
    // Loaded here, not at the top: check, replay and test never load the Kafka client.
    const { KafkaRuntime } = await import('../../engine/kafka-runtime.js');
    const { changelogTopicFor } = await import('../../engine/changelog.js');
    const groupId = args.group ?? `aud-${inputTopic}`;
    const runtime = new KafkaRuntime({
      plan,
      kafka: { brokers: args.brokers, clientId: 'aud', kafkaConfig },
      groupId,
      stateDir: args.stateDir,
      inputTopic,
      outputTopic,
      membershipTopic: `${outputTopic}.members`,
      deadLetterTopic: `${inputTopic}.dlq`,
      changelogTopic: changelogTopicFor(groupId),
      clock: args.clock,
      tickMs: args.tickMs,
      log,
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
      runtime.stop().then(() => process.exit(0), (err: unknown) => {
        log.error('clean stop failed', { error: (err as Error).message });
        process.exit(1);
      });
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    try {
      await runtime.start();
    } catch (err) {
      log.error(`cannot start: ${(err as Error).message}`);
      process.exitCode = 1;
      await runtime.stop().catch(() => undefined);
    }
  },
};
