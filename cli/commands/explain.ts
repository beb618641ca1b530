import type { CommandModule } from 'yargs';
import { explainPlan } from '../../dsl/explain.js';
import { loadPlan } from '../rules.js';

interface ExplainArgs { files: string[]; json: boolean }

export const explainCommand: CommandModule<object, ExplainArgs> = {
  command: 'explain <files..>',
  describe: 'Print the compiled plan: shared states, what feeds them, what depends on what, timers',
  builder: (y) => y
    .positional('files', { type: 'string', array: true, demandOption: true, describe: '.aud rule files' })
    .option('json', { type: 'boolean', default: false, describe: 'print the plan as JSON' }) as never,
  handler: async (args) => {
    const plan = await loadPlan(args.files);
    if (!plan) { process.exitCode = 1; return; }
    process.stdout.write(args.json ? JSON.stringify(plan, null, 2) + '\n' : explainPlan(plan));
  },
};
