/**
 * The command line as yargs should see it.
 *
 * yargs-parser reads a lone `-` after a long option as a positional, not as
 * the option's value: `--input -` left `input` empty while `-i -` and
 * `--input=-` meant stdin. In aud a lone `-` is only ever a value (stdin or
 * stdout for a file option; rule files are always named), so `--name -` is
 * rewritten to `--name=-`, the spelling yargs reads right, before parsing.
 * Everything after `--` is left as it is.
 */
export function normaliseArgv(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') { out.push(...args.slice(i)); break; }
    if (a.startsWith('--') && !a.includes('=') && args[i + 1] === '-') {
      out.push(`${a}=-`);
      i++;
      continue;
    }
    out.push(a);
  }
  return out;
}
