import type { CommandModule } from 'yargs';
import { createLogger, type LogLevel } from '../../engine/log.js';
import { kafkaSettings } from '../kafka-settings.js';

interface WebhookArgs {
  brokers: string;
  topic: string;
  url: string;
  secretEnv: string;
  group?: string;
  batchSize: number;
  maxAttempts: number;
  timeoutMs: number;
  deadLetterFile: string;
  header: string[];
  kafka: string[];
  logLevel: LogLevel;
  logFormat: 'text' | 'json';
}

const DEFAULT_SECRET_ENV = 'AUD_WEBHOOK_SECRET';

/** `--header Name=value` (or `Name: value`); the value is never echoed, it may be a credential. */
function extraHeaders(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of list) {
    const at = p.search(/[=:]/);
    if (at <= 0) throw new Error('a --header is not Name=value (for example --header "Authorization=Bearer …"); its value is not shown');
    out[p.slice(0, at).trim()] = p.slice(at + 1).trim();
  }
  return out;
}

export const webhookCommand: CommandModule<object, WebhookArgs> = {
  command: 'webhook',
  describe: 'Post the enter/leave events of a topic to an HTTP endpoint, signed, batched, at-least-once; stop with Ctrl-C',
  builder: (y) => y
    .option('brokers', { type: 'string', demandOption: true, describe: 'Kafka bootstrap servers, HOST:PORT[,HOST:PORT]' })
    .option('topic', { type: 'string', demandOption: true, describe: 'the enter/leave topic (aud run\'s output topic)' })
    .option('url', { type: 'string', demandOption: true, describe: 'http(s) endpoint the events are POSTed to as {"events":[...]}' })
    .option('secret-env', { type: 'string', default: DEFAULT_SECRET_ENV, describe: 'environment variable holding the HMAC secret for X-Aud-Signature (the secret itself never goes on the command line)' })
    .option('group', { type: 'string', describe: 'consumer group id (default: aud-webhook-<topic>)' })
    .option('batch-size', { type: 'number', default: 500, describe: 'events per request at most' })
    .option('max-attempts', { type: 'number', default: 8, describe: 'attempts per request before its events are dead-lettered' })
    .option('timeout-ms', { type: 'number', default: 10_000, describe: 'time limit of one request' })
    .option('dead-letter-file', { type: 'string', default: 'webhook-dead-letters.jsonl', describe: 'JSON Lines file for events that could not be delivered' })
    .option('header', { type: 'string', array: true, default: [], describe: 'extra request header Name=value, repeatable' })
    .option('kafka', { type: 'string', array: true, default: [], describe: 'librdkafka setting key=value, repeatable' })
    .option('log-level', { choices: ['debug', 'info', 'warn', 'error'] as const, default: 'info' as const })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const }) as never,
  handler: async (args) => {
    const log = createLogger({ level: args.logLevel, format: args.logFormat });
    let kafkaConfig: Record<string, string>;
    let headers: Record<string, string>;
    try {
      kafkaConfig = kafkaSettings(args.kafka);
      headers = extraHeaders(args.header);
    } catch (err) {
      log.error((err as Error).message); process.exitCode = 1; return;
    }
    const secret = process.env[args.secretEnv];
    if (secret === undefined || secret === '') {
      if (args.secretEnv !== DEFAULT_SECRET_ENV) {
        log.error(`--secret-env ${args.secretEnv}: that environment variable is not set`); process.exitCode = 1; return;
      }
      log.warn(`${DEFAULT_SECRET_ENV} is not set: requests are not signed (no X-Aud-Signature header)`);
    }
    // Loaded here, not at the top: the other commands never load the Kafka client.
    const { WebhookSink, redactUrl } = await import('../../connectors/webhook/webhook-sink.js');
    const { WebhookConsumer } = await import('../../connectors/webhook/kafka-to-webhook.js');
    const groupId = args.group ?? `aud-webhook-${args.topic}`;
    let consumer: InstanceType<typeof WebhookConsumer>;
    try {
      const sink = new WebhookSink({
        url: args.url,
        ...(secret ? { secret } : {}),
        batchSize: args.batchSize,
        maxAttempts: args.maxAttempts,
        timeoutMs: args.timeoutMs,
        deadLetterFile: args.deadLetterFile,
        headers,
        log,
      });
      consumer = new WebhookConsumer({ kafka: { brokers: args.brokers, clientId: 'aud-webhook', kafkaConfig }, topic: args.topic, groupId, sink, log });
    } catch (err) {
      log.error((err as Error).message); process.exitCode = 1; return;
    }
    log.info('posting enter/leave events', {
      topic: args.topic, group: groupId, url: redactUrl(args.url), signed: Boolean(secret), batchSize: args.batchSize, deadLetterFile: args.deadLetterFile,
    });
    let stopping = false;
    const onSignal = (signal: string): void => {
      if (stopping) {
        log.warn(`second ${signal}: exiting now without a clean stop; the next start sends again what was not committed`);
        process.kill(process.pid, 'SIGKILL');
      }
      stopping = true;
      log.info(`${signal}: finishing the request in flight and leaving the group (send again to exit at once)`);
      consumer.stop().then(() => process.exit(0), (err: unknown) => {
        log.error('clean stop failed', { error: (err as Error).message });
        process.exit(1);
      });
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    try {
      await consumer.start();
    } catch (err) {
      log.error(`cannot start: ${(err as Error).message}`);
      process.exitCode = 1;
      await consumer.stop().catch(() => undefined);
    }
  },
};
