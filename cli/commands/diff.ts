/**
 * `aud diff OLD NEW [--input EVENTS | --state-dir DIR]`: what deploying NEW over OLD does, as
 * `terraform plan` says it before `apply` (engine/rule-change.ts): audiences
 * added, removed, changed, unchanged; per-customer states kept, built from
 * history (and how much of it), dropped. With events, the customers who
 * would enter and leave each audience were the change deployed after them;
 * with a state directory, were it deployed on that state now.
 */
import type { CommandModule } from 'yargs';
import type { Plan } from '../../dsl/plan.js';
import type { RuleChange } from '../../engine/rule-change.js';
import { loadPlan } from '../rules.js';

interface DiffArgs { old: string; new: string; input?: string; stateDir?: string; json: boolean }

/**
 * Per audience, the rule_change enters and leaves a deployment after the
 * input (or on the state) makes; null where the state alone cannot say
 * (the audience reads a state the change builds from history).
 */
type Moves = Record<string, { enter: number; leave: number } | null>;

/** What the counts were made on: the input's records and the instant the change was deployed at (null: no event applied, no clock). */
interface Counted { records: number; applied: number; skipped: number; bad: number; at: number | null; historyEvents: number }

const SIGN = { added: '+', removed: '-', changed: '~', unchanged: '=' } as const;

export const diffCommand: CommandModule<object, DiffArgs> = {
  command: 'diff <old> <new>',
  describe: 'Preview a rule change: audiences added, removed, changed; states kept, built from history, dropped; with --input or --state-dir, who enters and leaves',
  builder: (y) => y
    .positional('old', { type: 'string', demandOption: true, describe: 'the rules running now: FILE[,FILE...]' })
    .positional('new', { type: 'string', demandOption: true, describe: 'the rules to deploy: FILE[,FILE...]' })
    .option('input', { alias: 'i', type: 'string', describe: 'events (.jsonl or .avro): also count who would enter and leave each audience, were the change deployed after them' })
    .option('state-dir', { type: 'string', describe: 'an aud run state directory (engine stopped, or a copy): count who would enter and leave if the change were deployed on that state now' })
    .conflicts('input', 'state-dir')
    .option('json', { type: 'boolean', default: false, describe: 'one JSON object instead of text' }) as never,
  handler: async (args) => {
    // Both sides, so that every error of both is reported at once.
    const before = await loadSide('old', args.old);
    const after = await loadSide('new', args.new);
    if (!before || !after) { process.exitCode = 1; return; }
    const { planRuleChange, ruleChangeRefusal } = await import('../../engine/rule-change.js');
    const change = planRuleChange(before, after);
    const refused = ruleChangeRefusal(change);
    if (refused) process.stderr.write(`note: aud run and aud replay --deploy refuse this change: ${refused}\n`);
    let moves: Moves | undefined;
    let counted: Counted | undefined;
    const source = args.input ?? args.stateDir;
    if (source !== undefined) {
      try {
        if (args.input !== undefined) ({ moves, counted } = await movesAfter(before, after, args.input));
        else moves = await movesOnState(after, change, args.stateDir!);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        process.stderr.write(`error: ${e.code === 'ENOENT' ? `cannot read ${source}: no such file or directory` : e.message}\n`);
        process.exitCode = 1;
        return;
      }
    }
    process.stdout.write(args.json ? `${JSON.stringify(diffJson(change, moves, counted), null, 2)}\n` : diffText(change, moves, counted));
  },
};

async function loadSide(side: 'old' | 'new', list: string): Promise<Plan | undefined> {
  const files = list.split(',').filter((f) => f !== '');
  // No file would compile to empty rules: a preview that removes every audience.
  if (files.length === 0) {
    process.stderr.write(`error: no rule file given for the ${side} rules (FILE[,FILE...])\n`);
    return undefined;
  }
  const plan = await loadPlan(files);
  if (!plan) process.stderr.write(`the ${side} rules (${files.join(', ')}) have errors: nothing to compare.\n`);
  return plan;
}

/** Replay OLD over the events, deploy NEW after the last, and count the rule_change events per audience. */
async function movesAfter(before: Plan, after: Plan, input: string): Promise<{ moves: Moves; counted: Counted }> {
  const { inputRecords } = await import('../input-file.js');
  const { replay } = await import('../../engine/replay.js');
  const moves: Moves = {};
  const started = Date.now();
  let lastProgress = started;
  const summary = await replay(before, inputRecords(input), {
    deployments: [{ at: 'end', plan: after }],
    history: () => inputRecords(input),
    onOutput: (events) => {
      for (const e of events) {
        if (e.reason !== 'rule_change' || e.type === 'decision') continue;
        const m = (moves[e.audience] ??= { enter: 0, leave: 0 });
        m[e.type]++;
      }
    },
    onProgress: (n) => {
      const t = Date.now();
      if (process.stderr.isTTY && t - lastProgress > 1000) {
        lastProgress = t;
        process.stderr.write(`\r${n} records, ${Math.round(n / ((t - started) / 1000))} records/s `);
      }
    },
  });
  if (process.stderr.isTTY && lastProgress !== started) process.stderr.write('\r\x1b[K');
  const deployed = summary.deployed[0];
  return {
    moves,
    counted: {
      records: summary.records, applied: summary.applied, skipped: summary.skipped, bad: summary.bad,
      at: deployed?.at ?? null, historyEvents: deployed?.historyEvents ?? 0,
    },
  };
}

/**
 * Deploy NEW on a copy, in memory, of each partition store under `dir`,
 * from the rules that built it (its recorded plan, else OLD), at its
 * clock, and count the rule_change events per audience. No history is
 * read: audiences that read a state the change builds (or name one that
 * does) are not counted.
 */
async function movesOnState(after: Plan, change: RuleChange, dir: string): Promise<Moves> {
  const { readdir } = await import('node:fs/promises');
  const { existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { openRocksStore } = await import('../../engine/state/rocksdb-store.js');
  const { MemoryStore } = await import('../../engine/state/memory-store.js');
  const { PartitionTask } = await import('../../engine/partition-task.js');
  const { RuleDeployment } = await import('../../engine/deployment.js');
  const stores = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'CURRENT'))).map((d) => d.name).sort();
  if (stores.length === 0) throw new Error(`${dir} holds no partition store (a directory per partition, as aud run --state-dir writes)`);
  const needsHistory = new Set<string>();
  const built = new Set(change.newSlots);
  for (const a of after.audiences) {
    if (a.slots.some((i) => built.has(i)) || a.audiences.some((n) => needsHistory.has(n))) needsHistory.add(a.name);
  }
  const moves: Moves = {};
  for (const a of change.audiences) moves[a.name] = needsHistory.has(a.name) ? null : { enter: 0, leave: 0 };
  for (const name of stores) {
    let store;
    try {
      store = await openRocksStore(join(dir, name));
    } catch (err) {
      throw new Error(`cannot open the state of ${name} (${(err as Error).message.split('\n')[0]}): is aud run still using it? Stop it, or copy the directory and give the copy`);
    }
    const copy = new MemoryStore();
    try {
      const entries: { type: 'put'; key: string; value: Uint8Array }[] = [];
      for await (const [key, value] of store.scan('')) entries.push({ type: 'put', key, value });
      await copy.write(entries);
    } finally {
      await store.close();
    }
    const builtBy = (await PartitionTask.storedPlan(copy)) ?? change.from;
    if (builtBy.fingerprint !== change.from.fingerprint) {
      process.stderr.write(`note: ${name} was built by other rules than the old ones given (plan ${builtBy.fingerprint}): counting a deployment from those\n`);
    }
    const task = await PartitionTask.open(builtBy, copy);
    const { deployment, outputs } = await RuleDeployment.begin(task, copy, after, task.clock, {});
    await task.commit();
    for (let done = false; !done;) {
      const step = await deployment.finish(5_000);
      await step.task.commit();
      outputs.push(...step.outputs);
      done = step.done;
    }
    for (const e of outputs) {
      if (e.type === 'decision') continue;
      const m = moves[e.audience];
      if (m) m[e.type]++;
    }
  }
  return moves;
}

function historyText(ms: number): string {
  if (ms === Infinity) return 'all history';
  return `${durationWords(ms)} of history`;
}

function durationWords(ms: number): string {
  const units: [number, string][] = [[86_400_000, 'day'], [3_600_000, 'hour'], [60_000, 'minute'], [1000, 'second']];
  const parts: string[] = [];
  let rest = ms;
  for (const [size, name] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) { parts.push(`${n} ${name}${n === 1 ? '' : 's'}`); rest -= n * size; }
  }
  return parts.length > 0 ? parts.join(' ') : '0 seconds';
}

function diffText(change: RuleChange, moves: Moves | undefined, counted: Counted | undefined): string {
  const out: string[] = [];
  const kinds = ['added', 'changed', 'removed', 'unchanged'] as const;
  const count = (k: string) => change.audiences.filter((a) => a.change === k).length;
  out.push(`audiences (${kinds.map((k) => `${count(k)} ${k}`).join(', ')}):`);
  const width = Math.max(0, ...change.audiences.map((a) => a.name.length));
  for (const a of change.audiences) {
    const m = moves?.[a.name];
    const moved = moves === undefined ? '' : m === null ? '   needs the history (give --input)' : `   ${m?.enter ?? 0} enter, ${m?.leave ?? 0} leave`;
    out.push(`  ${SIGN[a.change]} ${a.name.padEnd(width)}${moved}`.trimEnd());
  }
  const kept = change.keptSlots.length;
  out.push('', `states (${kept} kept, ${change.newSlots.length} new, ${change.droppedSlots.length} dropped):`);
  const slotWidth = Math.max(0, ...change.newSlots.map((i) => change.to.slots[i]!.text.length), ...change.droppedSlots.map((s) => s.text.length));
  change.newSlots.forEach((i, k) => {
    const slot = change.to.slots[i]!;
    const how = slot.kind === 'decision' ? 'starts with nothing sent' : `built from ${historyText(change.newSlotHistoryMs[k]!)}`;
    out.push(`  + ${slot.text.padEnd(slotWidth)}   ${how}`);
  });
  for (const s of change.droppedSlots) out.push(`  - ${s.text.padEnd(slotWidth)}   dropped${s.kind === 'decision' ? ' (with what it sent)' : ''}`);
  if (change.newEvents.length > 0) out.push('', `new event types: ${change.newEvents.join(', ')} (customers known only by them are found in all history)`);
  out.push('');
  if (change.none) out.push('No change: deploying these rules changes no audience and no state.');
  else {
    out.push(`Deploying builds ${change.historyMs === 0 ? 'no state from history: none is read' : `its new states from ${historyText(change.historyMs)}`}; ` +
      'unchanged audiences emit nothing, the others emit enter/leave with reason rule_change where a membership differs' +
      `${(change.to.decisions ?? []).length > 0 ? '; every decision is evaluated again, and emits a decision event with reason rule_change where its offer differs' : ''}.`);
  }
  if (counted) out.push(countedText(counted));
  if (moves === undefined && !change.none) out.push('Give --input EVENTS or --state-dir DIR to count who would enter and leave.');
  return out.join('\n') + '\n';
}

/** Where the counts come from, so that zeros from an input that applied nothing do not pass for a harmless change. */
function countedText(c: Counted): string {
  const read = `${c.records} record${c.records === 1 ? '' : 's'} (${c.applied} applied, ${c.skipped} of undeclared types skipped, ${c.bad} bad${c.bad > 0 ? ': aud replay --input lists them' : ''})`;
  if (c.at === null) return `Counted on ${read}: no event was applied, so there is no customer to count.`;
  const history = `${c.historyEvents} history event${c.historyEvents === 1 ? '' : 's'}`;
  return `Counted on ${read}, deployed at ${new Date(c.at).toISOString()} (the end of the input); ${history} built the new states.`;
}

function diffJson(change: RuleChange, moves: Moves | undefined, counted: Counted | undefined): unknown {
  return {
    none: change.none,
    ...(counted ? { input: { ...counted, at: counted.at === null ? null : new Date(counted.at).toISOString() } } : {}),
    audiences: change.audiences.map((a) => {
      if (!moves) return a;
      const m = moves[a.name];
      return { ...a, enter: m === null ? null : m?.enter ?? 0, leave: m === null ? null : m?.leave ?? 0 };
    }),
    states: {
      kept: change.keptSlots.map((i) => change.to.slots[i]!.text),
      new: change.newSlots.map((i, k) => {
        const ms = change.newSlotHistoryMs[k]!;
        return { state: change.to.slots[i]!.text, historyMs: ms === Infinity ? null : ms };
      }),
      dropped: change.droppedSlots.map((s) => s.text),
    },
    newEvents: change.newEvents,
    /** Milliseconds of history the deployment reads; null: all of it. */
    historyMs: change.historyMs === Infinity ? null : change.historyMs,
  };
}
