import type { CommandModule } from 'yargs';

interface TestArgs { files: string[]; cases: string[] }

export const testCommand: CommandModule<object, TestArgs> = {
  command: 'test [files..]',
  describe: 'Run rule unit tests: case files with events and the exact enter/leave events expected',
  builder: (y) => y
    .positional('files', { type: 'string', array: true, default: [], describe: '.aud rule files (for cases that name none)' })
    .option('cases', { type: 'string', array: true, demandOption: true, describe: 'case files (YAML/JSON) or directories of them' }) as never,
  handler: async (args) => {
    // Loaded here, not at the top: every command imports this file, and only test needs the engine and YAML.
    const { findCaseFiles, loadCases, runCase } = await import('../rule-cases.js');
    let passed = 0;
    let failed = 0;
    let files: string[];
    try {
      files = await findCaseFiles(args.cases);
    } catch (err) {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      process.exitCode = 1;
      return;
    }
    for (const file of files) {
      let cases;
      try {
        cases = await loadCases(file, args.files);
      } catch (err) {
        failed++;
        process.stdout.write(`FAIL ${file}\n  ${(err as Error).message}\n`);
        continue;
      }
      for (const c of cases) {
        const outcome = await runCase(c);
        if (outcome.passed) {
          passed++;
          process.stdout.write(`ok   ${c.name} (${outcome.actual.length} events)\n`);
        } else {
          failed++;
          process.stdout.write(`FAIL ${c.name}\n${outcome.failures.map((f) => '  ' + f.replace(/\n/g, '\n  ')).join('\n')}\n`);
        }
      }
    }
    process.stdout.write(`${passed} passed, ${failed} failed\n`);
    if (failed > 0 || passed === 0) process.exitCode = 1;
  },
};
