/**
 * `aud fmt FILES... [--check]`: rewrite rule files in the canonical layout
 * (dsl/format.ts, the same formatter the language server applies).
 *
 * Without --check each file that changes is rewritten in place and named on
 * stdout. With --check nothing is written: each file that is not formatted is
 * named on stderr and the exit code is 1, so CI can reject unformatted rules.
 * A file that does not parse is never touched: its errors are printed and the
 * exit code is 1.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { CommandModule } from 'yargs';
import { formatDiagnostic } from '../../dsl/diagnostics.js';
import { SourceLines } from '../../dsl/source-lines.js';

interface FmtArgs { files: string[]; check: boolean }

export const fmtCommand: CommandModule<object, FmtArgs> = {
  command: 'fmt <files..>',
  describe: 'Rewrite rule files in the canonical layout; --check only reports the files that are not',
  builder: (y) => y
    .positional('files', { type: 'string', array: true, demandOption: true, describe: '.aud rule files' })
    .option('check', { type: 'boolean', default: false, describe: 'write nothing; exit 1 naming each file that is not formatted' }) as never,
  handler: async (args) => {
    // Loaded here, not at the top: every command imports this file, and the parser is built when its module loads.
    const { FormatError, formatRuleText } = await import('../../dsl/format.js');
    let failed = false;
    for (const path of args.files) {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        process.stderr.write(`error: cannot read rule file ${path}: ${(err as Error).message}\n`);
        failed = true;
        continue;
      }
      let result;
      try {
        result = formatRuleText(path, text);
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        process.stderr.write(`error: ${err.message}\n`);
        failed = true;
        continue;
      }
      if (!result.ok) {
        const lines = new SourceLines(text);
        process.stderr.write(`${result.diagnostics.map((d) => formatDiagnostic(d, lines)).join('\n\n')}\n\n${path}: not formatted: it has syntax errors\n`);
        failed = true;
        continue;
      }
      if (result.text === text) continue;
      if (args.check) {
        process.stderr.write(`${path}: not formatted (aud fmt ${path} rewrites it)\n`);
        failed = true;
      } else {
        await writeFile(path, result.text);
        process.stdout.write(`formatted ${path}\n`);
      }
    }
    if (failed) process.exitCode = 1;
  },
};
