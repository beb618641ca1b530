/**
 * `aud diff` as a user runs it: the built CLI on rule files in a temporary
 * directory. What counts as a changed audience (a threshold, a trait it
 * uses, an audience it names) and what does not (formatting); states kept,
 * built from history (how much), dropped; --json; --input counts checked
 * against a stream where who enters and leaves is known; a broken file.
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
audience gone { count(view) == 0 }
`;
// spend's window changes (so big changes); buyer's bar changes (so loyal, which names it, changes);
// browser is only reformatted; gone is removed; fan is added, on a state of its own.
const NEW = `${HEADER}
trait spend = sum(buy.amount) over 60 days
audience big { spend >= 100 }
audience buyer { count(buy) >= 2 }
audience loyal { in buyer and count(buy) over 7 days >= 2 }
audience browser {
  count(view) over 1 day >= 3
}
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
  assert.deepEqual(r.stdout.split('\n').slice(0, 7), [
    'audiences (1 added, 3 changed, 1 removed, 1 unchanged):',
    '  ~ big',
    '  ~ buyer',
    '  ~ loyal',
    '  = browser',
    '  + fan',
    '  - gone',
  ]);
  assert.match(r.stdout, /^states \(3 kept, 2 new, 2 dropped\):$/m);
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
  ].map((e) => JSON.stringify(e)).join('\n') + '\n');
  const r = aud('diff', oldFile, newFile, '--input', events, '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { none: boolean; historyMs: number | null; audiences: { name: string; change: string; enter: number; leave: number }[] };
  assert.equal(out.none, false);
  assert.equal(out.historyMs, null, 'fan\'s unwindowed count needs all history');
  const by = Object.fromEntries(out.audiences.map((a) => [a.name, `${a.change} +${a.enter} -${a.leave}`]));
  assert.deepEqual(by, {
    big: 'changed +1 -0', buyer: 'changed +0 -2', loyal: 'changed +0 -0', browser: 'unchanged +0 -0', fan: 'added +1 -0', gone: 'removed +0 -2',
  });
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
  assert.deepEqual(by, { big: 'needs history', buyer: '+0 -2', loyal: '+0 -0', browser: '+0 -0', fan: 'needs history', gone: '+0 -2' });
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
  const missing = aud('diff', oldFile, newFile, '--input', join(dir, 'nope.jsonl'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: cannot read .*nope\.jsonl: no such file or directory$/m);
});
