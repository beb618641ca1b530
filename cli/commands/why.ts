import type { CommandModule } from 'yargs';
import { loadPlan } from '../rules.js';

interface WhyArgs { files: string[]; customer: string; input: string; at?: string; json: boolean }

/**
 * `aud why`: why a customer is in (or not in) each audience. Two steps: a
 * source gives the customer's state (WhyInput: the plan, the state, the
 * clock, the partition, the transitions), then engine/customer-why.ts
 * explains it. The source is a file of events replayed (--input); another
 * source of state plugs in as another function giving a WhyInput.
 */
export const whyCommand: CommandModule<object, WhyArgs> = {
  command: 'why <files..>',
  describe: 'Explain why a customer is in (or not in) each audience: every part of each rule with its value, what decided it, when it next changes, the last enter/leave',
  builder: (y) => y
    .positional('files', { type: 'string', array: true, demandOption: true, describe: '.aud rule files' })
    .option('customer', { alias: 'c', type: 'string', demandOption: true, describe: 'the customer id' })
    .option('input', { alias: 'i', type: 'string', demandOption: true, describe: 'events: .jsonl (- for stdin) or .avro container, replayed with the event clock' })
    .option('at', { type: 'string', describe: 'explain as of this time (ISO-8601 or epoch ms): the events up to it, then the clock moved on to it (default: the last event)' })
    .option('json', { type: 'boolean', default: false, describe: 'print the why as JSON (the shape GET /customers/ID/why answers)' }) as never,
  handler: async (args) => {
    const plan = await loadPlan(args.files);
    if (!plan) { process.exitCode = 1; return; }
    // Loaded here, not at the top: every command imports this file, and only some need the engine.
    const { parseTime } = await import('../../engine/input-record.js');
    const { customerWhy } = await import('../../engine/customer-why.js');
    const { replayedCustomer, UnknownCustomerError } = await import('../replayed-customer.js');
    const { whyText } = await import('../why-text.js');
    let at: number | undefined;
    if (args.at !== undefined) {
      at = parseTime(/^\d+$/.test(args.at) ? Number(args.at) : args.at);
      if (at === undefined) {
        process.stderr.write(`error: --at "${args.at}" is not a time; give ISO-8601 (2026-03-01T00:00:00Z) or epoch milliseconds\n`);
        process.exitCode = 1;
        return;
      }
    }
    const inputName = args.input === '-' ? 'stdin' : args.input;
    let source: Awaited<ReturnType<typeof replayedCustomer>>;
    try {
      source = await replayedCustomer({ plan, input: args.input, customer: args.customer, ...(at !== undefined ? { at } : {}) });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const message = err instanceof UnknownCustomerError ? e.message : e.code === 'ENOENT' ? `cannot read ${inputName}: no such file` : e.message;
      process.stderr.write(`error: ${message}\n`);
      process.exitCode = 1;
      return;
    }
    if (source.bad > 0) process.stderr.write(`note: ${source.bad} bad records in ${inputName} were skipped (aud replay names them)\n`);
    const why = customerWhy(args.customer, source);
    process.stdout.write(args.json ? JSON.stringify(why, null, 2) + '\n' : whyText(why, plan));
  },
};
