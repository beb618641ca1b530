#!/usr/bin/env node
/**
 * `aud`: the command line. Each command lives in cli/commands/, one file each;
 * this file only registers them. Commands return an exit code rather than
 * calling process.exit, so that output streams are flushed before exit.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { backfillCommand } from './commands/backfill.js';
import { checkCommand } from './commands/check.js';
import { diffCommand } from './commands/diff.js';
import { explainCommand } from './commands/explain.js';
import { fmtCommand } from './commands/fmt.js';
import { forgetCommand } from './commands/forget.js';
import { lspCommand } from './commands/lsp.js';
import { replayCommand } from './commands/replay.js';
import { runCommand } from './commands/run.js';
import { testCommand } from './commands/test.js';
import { webhookCommand } from './commands/webhook.js';
import { whyCommand } from './commands/why.js';
import { normaliseArgv } from './argv.js';
import { exitQuietlyOnClosedStdout } from './closed-stdout.js';

exitQuietlyOnClosedStdout();

await yargs(normaliseArgv(hideBin(process.argv)))
  .scriptName('aud')
  .usage('$0 <command> [options]\n\nReal-time audiences over a customer event stream.')
  .command(checkCommand)
  .command(diffCommand)
  .command(backfillCommand)
  .command(explainCommand)
  .command(fmtCommand)
  .command(forgetCommand)
  .command(lspCommand)
  .command(replayCommand)
  .command(runCommand)
  .command(testCommand)
  .command(webhookCommand)
  .command(whyCommand)
  .demandCommand(1, 'Name a command: check, diff, explain, fmt, lsp, replay, run, test, backfill, webhook or why (aud --help lists them).')
  .strict()
  .recommendCommands()
  .help()
  .wrap(Math.min(100, process.stdout.columns ?? 100))
  .parseAsync();
