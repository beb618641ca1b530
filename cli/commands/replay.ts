import type { CommandModule } from 'yargs';
import { MAX_TALLY_VALUES } from '../../dsl/plan.js';
import { parseDurationFlag } from '../duration.js';
import type { Deployment } from '../../engine/replay.js';
import { inputRecords } from '../input-file.js';
import { loadPlan } from '../rules.js';

interface ReplayArgs { files: string[]; input: string; output: string; until?: string; batch: number; maxClockJump?: string; deploy: string[] }

export const replayCommand: CommandModule<object, ReplayArgs> = {
  command: 'replay <files..>',
  describe: 'Run the rules over a file of events with the event clock (no Kafka); write enter/leave and decision events as JSON Lines',
  builder: (y) => y
    .positional('files', { type: 'string', array: true, demandOption: true, describe: '.aud rule files' })
    .option('input', { alias: 'i', type: 'string', demandOption: true, describe: 'events: .jsonl (- for stdin) or .avro container' })
    .option('output', { alias: 'o', type: 'string', default: '-', describe: 'where enter/leave events go (- for stdout)' })
    .option('until', { type: 'string', describe: 'after the last event, advance the clock to this time (ISO-8601 or epoch ms) so that timers due by then fire' })
    .option('max-clock-jump', { type: 'string', describe: 'a record whose time is further ahead of the clock than this (30s, 5m, 2h, 7d) is a bad record and does not move the clock (default off)' })
    .option('deploy', { type: 'string', array: true, default: [], describe: 'TIME=FILE[,FILE...]: from event time TIME on, these rule files replace those in force (repeatable; docs/operations.md, "Changing rules")' })
    .option('batch', { type: 'number', default: 1000, describe: 'records per batch (memory only; the output does not depend on it)' }) as never,
  handler: async (args) => {
    const plan = await loadPlan(args.files);
    if (!plan) { process.exitCode = 1; return; }
    // Loaded here, not at the top: every command imports this file, and only replay, backfill and test need the engine.
    const { timeFlag } = await import('../time-flag.js');
    const { outputEventJson } = await import('../../engine/output-event.js');
    const { replay } = await import('../../engine/replay.js');
    const { planRuleChange, ruleChangeRefusal } = await import('../../engine/rule-change.js');
    const { JsonLinesWriter } = await import('../../connectors/file/jsonl.js');
    let until: number | undefined;
    if (args.until !== undefined) {
      until = timeFlag(args.until);
      if (until === undefined) {
        process.stderr.write(`error: --until "${args.until}" is not a time; give ISO-8601 (2026-03-01T00:00:00Z) or epoch milliseconds\n`);
        process.exitCode = 1;
        return;
      }
    }
    const deployments: Deployment[] = [];
    for (const spec of args.deploy) {
      const eq = spec.indexOf('=');
      const at = eq > 0 ? timeFlag(spec.slice(0, eq)) : undefined;
      const files = eq > 0 ? spec.slice(eq + 1).split(',').filter((f) => f !== '') : [];
      if (at === undefined || files.length === 0) {
        process.stderr.write(`error: --deploy "${spec}" is not TIME=FILE[,FILE...]; for example --deploy 2026-03-01T00:00:00Z=rules-v2.aud\n`);
        process.exitCode = 1;
        return;
      }
      const next = await loadPlan(files);
      if (!next) {
        process.stderr.write(`the rules deployed at ${spec.slice(0, eq)} have errors; nothing was run.\n`);
        process.exitCode = 1;
        return;
      }
      deployments.push({ at, plan: next });
    }
    deployments.sort((a, b) => (a.at as number) - (b.at as number));
    for (let k = 0; k < deployments.length; k++) {
      const refused = ruleChangeRefusal(planRuleChange(k === 0 ? plan : deployments[k - 1]!.plan, deployments[k]!.plan));
      if (refused) {
        process.stderr.write(`error: the rules deployed at ${new Date(deployments[k]!.at as number).toISOString()} are refused: ${refused}; nothing was run.\n`);
        process.exitCode = 1;
        return;
      }
    }
    if (deployments.length > 0 && args.input === '-') {
      process.stderr.write('error: --deploy re-reads the input to build new states from history, and stdin cannot be read twice: give the events as a file\n');
      process.exitCode = 1;
      return;
    }
    const maxClockJump = args.maxClockJump === undefined ? undefined : parseDurationFlag('max-clock-jump', args.maxClockJump);
    if (maxClockJump instanceof Error) {
      process.stderr.write(`error: ${maxClockJump.message}\n`);
      process.exitCode = 1;
      return;
    }
    const writer = new JsonLinesWriter(args.output);
    const inputName = args.input === '-' ? 'stdin' : args.input;
    const started = Date.now();
    let lastProgress = started;
    let summary: Awaited<ReturnType<typeof replay>>;
    try {
      summary = await replay(plan, inputRecords(args.input), {
        ...(until !== undefined ? { until } : {}),
        ...(maxClockJump !== undefined ? { clockGuard: { maxJumpMs: maxClockJump } } : {}),
        batchSize: args.batch,
        deployments, history: () => inputRecords(args.input),
        onOutput: (events) => writer.write(events.map(outputEventJson)),
        onBad: (b) => {
          const where = b.record.cause && 'line' in b.record.cause ? `${inputName}:${b.record.cause.line}` : inputName;
          process.stderr.write(`${where}: bad record skipped: ${b.reason}\n`);
        },
        onProgress: (n) => {
          const t = Date.now();
          if (process.stderr.isTTY && t - lastProgress > 1000) {
            lastProgress = t;
            process.stderr.write(`\r${n} records, ${Math.round(n / ((t - started) / 1000))} records/s `);
          }
        },
      });
    } catch (err) {
      // The input cannot be read (a missing file, not an Avro container): one line, not a stack trace.
      await writer.close().catch(() => undefined);
      const e = err as NodeJS.ErrnoException;
      process.stderr.write(`error: ${e.code === 'ENOENT' ? `cannot read ${inputName}: no such file` : e.message}\n`);
      process.exitCode = 1;
      return;
    }
    await writer.close();
    const secs = (Date.now() - started) / 1000;
    process.stderr.write(`${process.stderr.isTTY ? '\r' : ''}replayed ${summary.records} records in ${secs.toFixed(1)} s: ${summary.applied} applied, ` +
      `${summary.skipped} of undeclared types skipped, ${summary.bad} bad; ${summary.outputs - summary.decisions} enter/leave events` +
      `${summary.decisions > 0 ? `, ${summary.decisions} decision events` : ''}; ` +
      `clock ${summary.clock === null ? 'not started' : new Date(summary.clock).toISOString()}\n`);
    for (const d of summary.deployed) {
      process.stderr.write(`deployed new rules at ${new Date(d.at).toISOString()}: ${d.historyEvents} history events built their new states\n`);
    }
    for (const d of deployments.slice(summary.deployed.length)) {
      process.stderr.write(`note: the rules deployed at ${new Date(d.at as number).toISOString()} never took effect: the clock ended before (give --until to move it on)\n`);
    }
    if (summary.boundedAdds > 0) {
      process.stderr.write(`note: ${summary.boundedAdds} events went to a customer's distinct or top holding its most values (${MAX_TALLY_VALUES}): ` +
        'past them distinct reads a lower bound and top ranks the most recently seen values (docs/language.md, "Aggregates")\n');
    }
  },
};
