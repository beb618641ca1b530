import type { CommandModule } from 'yargs';
import { loadPlan } from '../rules.js';

interface CheckArgs { files: string[] }

/** `1 score`, `2 scores`. */
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check <files..>',
  describe: 'Parse and type-check rule files; print every error with its position',
  builder: (y) => y.positional('files', { type: 'string', array: true, demandOption: true, describe: '.aud rule files' }) as never,
  handler: async (args) => {
    const plan = await loadPlan(args.files);
    if (!plan) { process.exitCode = 1; return; }
    const kind = (k: string) => plan.traits.filter((t) => t.kind === k).length;
    const counts = [
      counted(plan.events.length, 'event'), counted(kind('trait'), 'trait'), counted(kind('score'), 'score'),
      counted(plan.audiences.length, 'audience'),
      // Offers and decisions only when there are some: rules without them read as they always have.
      ...((plan.decisions ?? []).length > 0 || (plan.offers ?? []).length > 0
        ? [counted((plan.offers ?? []).length, 'offer'), counted((plan.decisions ?? []).length, 'decision')] : []),
      counted(plan.slots.length, 'shared state'),
    ];
    process.stdout.write(`ok: ${args.files.join(', ')}: ${counts.join(', ')}\n`);
  },
};
