import type { CommandModule } from 'yargs';
import type { Plan } from '../../dsl/plan.js';
import { loadPlan } from '../rules.js';

interface WhyArgs {
  files: string[]; customer: string; input?: string; at?: string; json: boolean;
  brokers?: string; topic?: string; group?: string; kafka: string[];
}

/**
 * `aud why`: why a customer is in (or not in) each audience. Two steps: a
 * source gives the customer's state (WhyInput: the plan, the state, the
 * clock, the partition, the transitions), then engine/customer-why.ts
 * explains it. The source is a file of events replayed (--input,
 * cli/replayed-customer.ts) or the state a running engine committed, read
 * from its changelog topic (--brokers, cli/logged-customer.ts).
 */
export const whyCommand: CommandModule<object, WhyArgs> = {
  command: 'why <files..>',
  describe: 'Explain why a customer is in (or not in) each audience: every part of each rule with its value, what decided it, when it next changes, the last enter/leave',
  builder: (y) => y
    .positional('files', { type: 'string', array: true, demandOption: true, describe: '.aud rule files' })
    .option('customer', { alias: 'c', type: 'string', demandOption: true, describe: 'the customer id' })
    .option('input', { alias: 'i', type: 'string', describe: 'events: .jsonl (- for stdin) or .avro container, replayed with the event clock' })
    .option('at', { type: 'string', describe: 'with --input: explain as of this time (ISO-8601 or epoch ms): the events up to it, then the clock moved on to it (default: the last event)' })
    .option('brokers', { type: 'string', describe: 'instead of --input: explain the state a running engine committed, read from its changelog topic on these brokers' })
    .option('topic', { type: 'string', describe: 'with --brokers: the engine\'s input topic (default: the source block\'s), which names the default group' })
    .option('group', { type: 'string', describe: 'with --brokers: the engine\'s consumer group (default aud-<input topic>), which names the changelog' })
    .option('kafka', { type: 'string', array: true, default: [], describe: 'with --brokers: librdkafka setting key=value, repeatable' })
    .option('json', { type: 'boolean', default: false, describe: 'print the why as JSON (the shape GET /customers/ID/why answers)' }) as never,
  handler: async (args) => {
    const plan = await loadPlan(args.files);
    if (!plan) { process.exitCode = 1; return; }
    // Loaded here, not at the top: every command imports this file, and only some need the engine.
    const { timeFlag } = await import('../time-flag.js');
    const { customerWhy } = await import('../../engine/customer-why.js');
    const { replayedCustomer, UnknownCustomerError } = await import('../replayed-customer.js');
    const { whyText } = await import('../why-text.js');
    let at: number | undefined;
    if (args.at !== undefined) {
      at = timeFlag(args.at);
      if (at === undefined) {
        process.stderr.write(`error: --at "${args.at}" is not a time; give ISO-8601 (2026-03-01T00:00:00Z) or epoch milliseconds\n`);
        process.exitCode = 1;
        return;
      }
    }
    if ((args.input === undefined) === (args.brokers === undefined)) {
      process.stderr.write('error: give --input EVENTS (replay a file) or --brokers HOST:PORT (the state a running engine committed), one of the two\n');
      process.exitCode = 1;
      return;
    }
    if (args.brokers !== undefined) {
      if (at !== undefined) {
        process.stderr.write('error: --at goes with --input: with --brokers the why is as of the engine\'s last commit\n');
        process.exitCode = 1;
        return;
      }
      await whyFromChangelog(args, plan);
      return;
    }
    const inputName = args.input === '-' ? 'stdin' : args.input!;
    let source: Awaited<ReturnType<typeof replayedCustomer>>;
    try {
      source = await replayedCustomer({ plan, input: args.input!, customer: args.customer, ...(at !== undefined ? { at } : {}) });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const message = err instanceof UnknownCustomerError ? e.message : e.code === 'ENOENT' ? `cannot read ${inputName}: no such file` : e.message;
      process.stderr.write(`error: ${message}\n`);
      process.exitCode = 1;
      return;
    }
    if (source.bad > 0) process.stderr.write(`note: ${source.bad} bad records in ${inputName} were skipped (aud replay names them)\n`);
    if (source.customer !== args.customer) process.stderr.write(`note: ${args.customer} is an identifier of customer ${source.customer}\n`);
    const why = customerWhy(source.customer, source);
    process.stdout.write(args.json ? JSON.stringify(why, null, 2) + '\n' : whyText(why, plan));
  },
};

/** `aud why --brokers`: the committed state of the customer, from the engine's changelog. */
async function whyFromChangelog(args: WhyArgs, plan: Plan): Promise<void> {
  const fail = (message: string): void => { process.stderr.write(`error: ${message}\n`); process.exitCode = 1; };
  const topic = args.topic ?? plan.source.topic;
  if (!topic && args.group === undefined) return fail('no input topic: declare source "topic" { ... }, or pass --topic or --group (they name the changelog)');
  const { kafkaSettings } = await import('../kafka-settings.js');
  let kafkaConfig: Record<string, string>;
  try {
    kafkaConfig = kafkaSettings(args.kafka);
  } catch (err) {
    return fail((err as Error).message);
  }
  const { changelogTopicFor, defaultGroupFor } = await import('../../runtime/naming.js');
  const { createLogger } = await import('../../engine/log.js');
  const { customerWhy } = await import('../../engine/customer-why.js');
  const { loggedCustomer } = await import('../logged-customer.js');
  const { UnknownCustomerError } = await import('../replayed-customer.js');
  const { whyText } = await import('../why-text.js');
  const changelogTopic = changelogTopicFor(args.group ?? defaultGroupFor(topic!));
  // Progress of the changelog read goes to stderr, as warnings and above only: stdout is the answer.
  const log = createLogger({ level: 'warn' });
  let source: Awaited<ReturnType<typeof loggedCustomer>>;
  try {
    source = await loggedCustomer({ plan, kafka: { brokers: args.brokers!, clientId: 'aud-why', kafkaConfig }, changelogTopic, customer: args.customer, log });
  } catch (err) {
    return fail(err instanceof UnknownCustomerError ? err.message : `cannot read ${changelogTopic} on ${args.brokers}: ${(err as Error).message}`);
  }
  if (source.rulesDiffer) {
    process.stderr.write(`note: the engine's state was built by other rules than ${args.files.join(', ')} (a change not deployed yet?): explained with the rules it runs\n`);
  }
  if (source.customer !== args.customer) process.stderr.write(`note: ${args.customer} is an identifier of customer ${source.customer}\n`);
  const why = customerWhy(source.customer, source);
  process.stdout.write(args.json ? JSON.stringify(why, null, 2) + '\n' : whyText(why, source.plan));
}
