import type { CommandModule } from 'yargs';
import { loadPlan } from '../rules.js';

interface CheckArgs { files: string[] }

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check <files..>',
  describe: 'Parse and type-check rule files; print every error with its position',
  builder: (y) => y.positional('files', { type: 'string', array: true, demandOption: true, describe: '.aud rule files' }) as never,
  handler: async (args) => {
    const plan = await loadPlan(args.files);
    if (!plan) { process.exitCode = 1; return; }
    const n = (k: string) => plan.traits.filter((t) => t.kind === k).length;
    process.stdout.write(`ok: ${args.files.join(', ')}: ${plan.events.length} events, ${n('trait')} traits, ${n('score')} scores, ` +
      `${plan.audiences.length} audiences, ${plan.slots.length} shared states\n`);
  },
};
