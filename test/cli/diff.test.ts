/**
 * `aud diff` as a user runs it: the built CLI on rule files in a temporary
 * directory. What counts as a changed audience (a threshold, a trait it
 * uses, an audience it names) and what does not (formatting); states kept,
 * built from history (how much), dropped; --json; --input counts checked
 * against a stream where who enters and leaves is known, and what they were
 * counted on; a broken or missing file, an empty side.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileSources } from '../../dsl/compile.js';
import { PartitionTask } from '../../engine/partition-task.js';
import { batchOfRecords } from '../../engine/record-batch.js';
import { openRocksStore } from '../../engine/state/rocksdb-store.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(repo, 'dist/cli/aud.js');

function aud(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: repo, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const HEADER = 'source "s" { key c type type time ts }\nevent buy { amount: number }\nevent view { page: string }\n';
const OLD = `${HEADER}
trait spend = sum(buy.amount) over 30 days
audience big { spend >= 100 }
audience buyer { count(buy) >= 1 }
audience loyal { in buyer and count(buy) over 7 days >= 2 }
audience browser { count(view) over 1 day >= 3 }
audience viewer { count(view) >= 1 }
audience gone { count(view) == 0 }
`;
// spend's window changes (so big changes); buyer's bar changes (so loyal, which names it, changes);
// browser is only reformatted; viewer is the same text; gone is removed; fan is added, on a state of its own.
const NEW = `${HEADER}
trait spend = sum(buy.amount) over 60 days
audience big { spend >= 100 }
audience buyer { count(buy) >= 2 }
audience loyal { in buyer and count(buy) over 7 days >= 2 }
audience browser {
  count(view) over 1 day >= 3
}
audience viewer { count(view) >= 1 }
audience fan { count(view where page == "/fan") >= 1 }
`;

function files(): { dir: string; oldFile: string; newFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'aud-diff-'));
  const oldFile = join(dir, 'old.aud');
  const newFile = join(dir, 'new.aud');
  writeFileSync(oldFile, OLD);
  writeFileSync(newFile, NEW);
  return { dir, oldFile, newFile };
}

test('aud diff: added, removed, changed (directly, through a trait, through `in`), unchanged (reformatted); states kept, new with their history, dropped', () => {
  const { oldFile, newFile } = files();
  const r = aud('diff', oldFile, newFile);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n').slice(0, 8), [
    'audiences (1 added, 3 changed, 1 removed, 2 unchanged):',
    '  ~ big',
    '  ~ buyer',
    '  ~ loyal',
    '  = browser',
    '  = viewer',
    '  + fan',
    '  - gone',
  ]);
  assert.match(r.stdout, /^states \(4 kept, 2 new, 1 dropped\):$/m);
  assert.match(r.stdout, /^ {2}\+ sum\(buy\.amount\) over 60 days +built from 60 days of history$/m);
  assert.match(r.stdout, /^ {2}\+ count\(view where page == "\/fan"\) +built from all history$/m);
  assert.match(r.stdout, /^ {2}- sum\(buy\.amount\) over 30 days +dropped$/m);
  assert.match(r.stdout, /Deploying builds its new states from all history/);

  const same = aud('diff', oldFile, oldFile);
  assert.equal(same.code, 0);
  assert.match(same.stdout, /^No change: deploying these rules changes no audience and no state\.$/m);
});

test('aud diff --json, and --input: who would enter and leave, were the change deployed after these events', () => {
  const { dir, oldFile, newFile } = files();
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, [
    // a: one buy of 150 forty days ago (out of spend's 30 days, inside 60): enters big; one buy only: leaves buyer.
    { c: 'a', type: 'buy', ts: '2026-01-01T00:00:00Z', amount: 150 },
    // b: a view of /fan: enters fan; and leaves gone (removed) it was never in.
    { c: 'b', type: 'view', ts: '2026-02-09T00:00:00Z', page: '/fan' },
    // c: no view: in gone, which is removed: leaves it.
    { c: 'c', type: 'buy', ts: '2026-02-10T00:00:00Z', amount: 1 },
    // No time: a bad record, counted as such and nothing else.
    { c: 'd', type: 'buy', amount: 5 },
  ].map((e) => JSON.stringify(e)).join('\n') + '\n');
  const r = aud('diff', oldFile, newFile, '--input', events, '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    none: boolean; historyMs: number | null; input: unknown; audiences: { name: string; change: string; enter: number; leave: number }[];
  };
  assert.equal(out.none, false);
  // The three events all feed a state the change builds (60-day spend, the /fan count): all are history.
  assert.deepEqual(out.input, { records: 4, applied: 3, skipped: 0, bad: 1, at: '2026-02-10T00:00:00.000Z', historyEvents: 3 });
  assert.equal(out.historyMs, null, 'fan\'s unwindowed count needs all history');
  const by = Object.fromEntries(out.audiences.map((a) => [a.name, `${a.change} +${a.enter} -${a.leave}`]));
  assert.deepEqual(by, {
    big: 'changed +1 -0', buyer: 'changed +0 -2', loyal: 'changed +0 -0', browser: 'unchanged +0 -0', viewer: 'unchanged +0 -0', fan: 'added +1 -0', gone: 'removed +0 -2',
  });

  const text = aud('diff', oldFile, newFile, '--input', events);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^ {2}\+ fan +1 enter, 0 leave$/m);
  assert.match(text.stdout, /^ {2}- gone +0 enter, 2 leave$/m);
  assert.match(text.stdout, /^Counted on 4 records \(3 applied, 0 of undeclared types skipped, 1 bad: aud replay --input lists them\), deployed at 2026-02-10T00:00:00\.000Z \(the end of the input\); 3 history events built the new states\.$/m);

  // Zeros from an input that applied nothing must not read as a harmless change.
  const nothing = join(dir, 'nothing.jsonl');
  writeFileSync(nothing, '{"c":"a","type":"buy"}\n');
  const none = aud('diff', oldFile, newFile, '--input', nothing);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /^Counted on 1 record \(0 applied, 0 of undeclared types skipped, 1 bad: aud replay --input lists them\): no event was applied, so there is no customer to count\.$/m);
});

test('aud diff --state-dir: a stopped engine\'s state, deployed on in memory; audiences that need the history are not counted', async () => {
  const { dir, oldFile, newFile } = files();
  const stateDir = join(dir, 'state');
  const old = compileSources(new Map([[oldFile, OLD]]));
  const store = await openRocksStore(join(stateDir, 's-0'));
  const task = await PartitionTask.open(old.plan!, store);
  await task.process(batchOfRecords([
    { c: 'a', type: 'buy', ts: '2026-01-01T00:00:00Z', amount: 150 },
    { c: 'b', type: 'view', ts: '2026-02-09T00:00:00Z', page: '/fan' },
    { c: 'c', type: 'buy', ts: '2026-02-10T00:00:00Z', amount: 1 },
  ].map((value) => ({ value }))));
  await task.commit();
  await store.close();
  const r = aud('diff', oldFile, newFile, '--state-dir', stateDir, '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { audiences: { name: string; enter: number | null; leave: number | null }[] };
  const by = Object.fromEntries(out.audiences.map((a) => [a.name, a.enter === null ? 'needs history' : `+${a.enter} -${a.leave}`]));
  assert.deepEqual(by, { big: 'needs history', buyer: '+0 -2', loyal: '+0 -0', browser: '+0 -0', viewer: '+0 -0', fan: 'needs history', gone: '+0 -2' });
  const text = aud('diff', oldFile, newFile, '--state-dir', stateDir);
  assert.match(text.stdout, /^ {2}\+ fan +needs the history \(give --input\)$/m);
  assert.match(text.stdout, /^ {2}- gone +0 enter, 2 leave$/m);
});

test('aud diff: a broken side is named, with its errors, and exits 1; a missing --input is one line', () => {
  const { dir, oldFile, newFile } = files();
  const broken = join(dir, 'broken.aud');
  writeFileSync(broken, NEW.replace('>= 2 }', '>= "2" }'));
  const r = aud('diff', oldFile, broken);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /broken\.aud:\d+:\d+: /);
  assert.match(r.stderr, /the new rules \(.*broken\.aud\) have errors: nothing to compare\./);
  assert.equal(r.stdout, '');
  const both = aud('diff', oldFile.replace('old.aud', 'nope.aud'), broken);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /the old rules \(.*nope\.aud\) have errors: nothing to compare\./);
  // An empty list would compile to no rules at all: a preview removing every audience.
  const empty = aud('diff', oldFile, ',');
  assert.equal(empty.code, 1);
  assert.equal(empty.stdout, '');
  assert.equal(empty.stderr, 'error: no rule file given for the new rules (FILE[,FILE...])\n');
  const missing = aud('diff', oldFile, newFile, '--input', join(dir, 'nope.jsonl'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: cannot read .*nope\.jsonl: no such file or directory$/m);
});
