/** The `aud` command as a user runs it: exit codes, stdout, stderr. */
import { test } from 'node:test';
import YAML from 'yaml';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeAvroContainer } from '../support/avro-files.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(repo, 'dist/cli/aud.js');

function aud(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: repo, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('aud check: the retail example is clean', () => {
  const r = aud('check', 'examples/retail/retail.aud');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ok: examples\/retail\/retail\.aud: 5 events, 4 traits, 1 score, 8 audiences, 13 shared states\n$/);
});

test('aud check: a faulty copy exits 1 with every error as file:line:col, the line and a caret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aud-check-'));
  const bad = join(dir, 'bad.aud');
  writeFileSync(bad, readFileSync(join(repo, 'examples/retail/retail.aud'), 'utf8')
    .replace('count(page_view where brand == "Acme")', 'count(page_veiw where brand == "Acme")')
    .replace('lifetime_value >= 2000', 'lifetime_value >= "2000"'));
  const r = aud('check', bad);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n');
  const first = lines.findIndex((l) => l.startsWith(`${bad}:30:9: unknown event "page_veiw"; did you mean "page_view"?`));
  assert.ok(first >= 0, r.stderr);
  assert.equal(lines[first + 1], '    count(page_veiw where brand == "Acme") over 30 days >= 5');
  assert.equal(lines[first + 2], '          ^^^^^^^^^');
  assert.match(r.stderr, new RegExp(`${bad}:58:19: cannot compare a number with a string`));
  assert.match(r.stderr, /2 errors in 1 file; nothing was run\./);
});

test('aud replay: the thresholds example gives exactly its expected output; stdout carries nothing else', () => {
  const r = aud('replay', 'examples/thresholds/thresholds.aud', '--input', 'examples/thresholds/events.jsonl', '--until', '2026-01-20T00:00:00Z');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, readFileSync(join(repo, 'examples/thresholds/expected.jsonl'), 'utf8'));
  assert.match(r.stderr, /events\.jsonl:5: bad record skipped: not JSON/);
  assert.match(r.stderr, /events\.jsonl:6: bad record skipped: field "amount" of purchase must be a number, got "lots"/);
  assert.match(r.stderr, /events\.jsonl:10: bad record skipped: no customer id: field "customer_id" is missing/);
  assert.match(r.stderr, /replayed 11 records .*: 7 applied, 1 of undeclared types skipped, 3 bad; 10 enter\/leave events/);
});

test('aud replay: without --until the timers after the last event do not fire', () => {
  const r = aud('replay', 'examples/thresholds/thresholds.aud', '--input', 'examples/thresholds/events.jsonl');
  assert.equal(r.code, 0, r.stderr);
  const expected = readFileSync(join(repo, 'examples/thresholds/expected.jsonl'), 'utf8').trim().split('\n');
  assert.deepEqual(r.stdout.trim().split('\n'), expected.slice(0, 9), 'c2 leaves weekly_spender only once the clock reaches 10 January 12:00');
});

test('aud replay: a bad --until says what to write', () => {
  const r = aud('replay', 'examples/thresholds/thresholds.aud', '--input', 'examples/thresholds/events.jsonl', '--until', 'next tuesday');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--until "next tuesday" is not a time; give ISO-8601/);
});

test('aud replay --deploy: the rules change at the given time (rule_change events); a bad --deploy or a broken file is refused before anything runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aud-deploy-'));
  const events = join(dir, 'events.jsonl');
  const cases = YAML.parse(readFileSync(join(repo, 'examples/retail/cases/rule-change.yaml'), 'utf8')) as { events: unknown[] };
  writeFileSync(events, cases.events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const r = aud('replay', 'examples/retail/retail.aud', '--input', events, '--deploy', '2026-01-10T00:00:00Z=examples/retail/rule-change/retail-v2.aud');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => { const e = JSON.parse(l); return `${e.type} ${e.audience} ${e.customer} ${e.at} v${e.version} ${e.reason}`; }), [
    'enter brand_lover c2 2026-01-04T10:04:00.000Z v1 event',
    'leave brand_lover c2 2026-01-10T00:00:00.000Z v2 rule_change',
    'enter vip c1 2026-01-10T00:00:00.000Z v1 rule_change',
    'enter big_basket c1 2026-01-10T00:00:00.000Z v1 rule_change',
  ]);
  assert.match(r.stderr, /deployed new rules at 2026-01-10T00:00:00.000Z: 3 history events built their new states/);

  const bad = aud('replay', 'examples/retail/retail.aud', '--input', events, '--deploy', 'examples/retail/rule-change/retail-v2.aud');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--deploy "examples\/retail\/rule-change\/retail-v2.aud" is not TIME=FILE\[,FILE...\]/);
  const broken = join(dir, 'broken.aud');
  writeFileSync(broken, readFileSync(join(repo, 'examples/retail/rule-change/retail-v2.aud'), 'utf8').replace('over 30 days >= 500', 'over 30 days >= "500"'));
  const refused = aud('replay', 'examples/retail/retail.aud', '--input', events, '--deploy', `2026-01-10T00:00:00Z=${broken}`);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /broken\.aud:\d+:\d+: /);
  assert.match(refused.stderr, /the rules deployed at 2026-01-10T00:00:00Z have errors; nothing was run/);
  assert.equal(refused.stdout, '');
});

test('aud test: the steady example cases pass, with enters and leaves by timer', () => {
  const ok = aud('test', '--cases', 'examples/steady/cases');
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^5 passed, 0 failed$/m);
});

test('aud why: a steady audience shows since when its conditions hold and when it enters', () => {
  const r = aud('why', 'examples/steady/steady.aud', '-c', 'e1', '-i', 'examples/steady/events.jsonl', '--at', '2026-03-01T09:30:00Z', '--json');
  assert.equal(r.code, 0, r.stderr);
  const why = JSON.parse(r.stdout) as { audiences: { name: string; member: boolean; value: boolean; nextChangeAt: string | null; steady?: Record<string, unknown> }[] };
  const engaged = why.audiences.find((a) => a.name === 'engaged')!;
  assert.equal(engaged.member, false);
  assert.equal(engaged.value, true, 'the enter condition holds');
  assert.equal(engaged.nextChangeAt, '2026-03-01T10:09:00.000Z');
  assert.deepEqual({ ...engaged.steady, leave: undefined }, {
    leave: undefined, enterHeldSince: '2026-03-01T09:09:00.000Z', leaveHeldSince: null, changedAt: null, dueAt: '2026-03-01T10:09:00.000Z',
  });
  assert.equal(why.audiences.find((a) => a.name === 'engaged_buyer')!.nextChangeAt, '2026-03-01T10:09:00.000Z', '`in engaged` changes when engaged does');
});

test('aud replay --deploy: rules that add a steady audience are refused, naming it, and nothing is run', () => {
  const events = join(repo, 'examples/steady/events.jsonl');
  const changed = join(mkdtempSync(join(tmpdir(), 'aud-steady-')), 'steady-v2.aud');
  writeFileSync(changed, readFileSync(join(repo, 'examples/steady/steady.aud'), 'utf8').replace('enter after 1 hour', 'enter after 2 hours'));
  const r = aud('replay', 'examples/steady/steady.aud', '--input', events, '--deploy', `2026-03-01T12:00:00Z=${changed}`);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the rules deployed at 2026-03-01T12:00:00.000Z are refused: the new rules add or change the steady audience "engaged":/);
  assert.equal(r.stdout, '');
  // In an aud test case, the case fails with the reason.
  const cases = join(dirname(changed), 'case.yaml');
  writeFileSync(cases, [
    'cases:',
    '  - name: changes engaged',
    `    rules: [${join(repo, 'examples/steady/steady.aud')}]`,
    '    events: [{customer_id: e1, type: page_view, ts: "2026-03-01T09:00:00Z", url: /p}]',
    `    deploy: [{at: "2026-03-01T10:00:00Z", rules: [${changed}]}]`,
    '    expect: []',
  ].join('\n'));
  const t = aud('test', '--cases', cases);
  assert.equal(t.code, 1);
  assert.match(t.stdout, /FAIL changes engaged\n {2}the rules deployed at 2026-03-01T10:00:00.000Z are refused: the new rules add or change the steady audience "engaged"/);
});

test('aud test: the example cases pass (the case of docs/operations.md among them); a wrong expectation fails with the difference', () => {
  const ok = aud('test', '--cases', 'examples/retail/cases', 'examples/telco/cases', 'examples/webshop/cases');
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^ok {3}examples\/retail\/cases\/spec-vip-lapsed\.yaml \(2 events\)$/m);
  assert.match(ok.stdout, /^ok {3}examples\/retail\/cases\/rule-change\.yaml \(6 events\)$/m);
  assert.match(ok.stdout, /^ok {3}logging in on a second device merges both devices' browsing under the user id \(9 events\)$/m);
  assert.match(ok.stdout, /^16 passed, 0 failed$/m);

  const dir = mkdtempSync(join(tmpdir(), 'aud-case-'));
  const file = join(dir, 'wrong.yaml');
  writeFileSync(file, readFileSync(join(repo, 'examples/retail/cases/spec-vip-lapsed.yaml'), 'utf8')
    .replace('rules: [../retail.aud]', `rules: [${join(repo, 'examples/retail/retail.aud')}]`)
    .replace('at: "2026-01-03T10:00:00Z"', 'at: "2026-01-02T10:00:00Z"'));
  const bad = aud('test', '--cases', file);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /#1: enter vip c1 at 2026-01-02T10:00:00Z: came at 2026-01-03T10:00:00.000Z/);
  assert.match(bad.stdout, /^0 passed, 1 failed$/m);
});

test('aud explain: shared states and what reads them', () => {
  const r = aud('explain', 'examples/retail/retail.aud');
  assert.equal(r.code, 0, r.stderr);
  // count(purchase) over 90 days is used by vip, orders_90d and churn: one state.
  const lines = r.stdout.split('\n').filter((l) => /^\s+#\d+ count\(purchase\) over 90 days$/.test(l));
  assert.equal(lines.length, 1, r.stdout);
  assert.match(r.stdout, /window 90 days in 1 hour buckets/);
  assert.match(r.stdout, /lapsed_vip "VIPs who stopped buying"\n\s+= in vip and count\(purchase\) over 60 days == 0/);
});

test('aud replay: an Avro object container file gives the same output as the JSON Lines it was made from', async () => {
  const { default: avro } = await import('avsc');
  const dir = mkdtempSync(join(tmpdir(), 'aud-avro-'));
  const file = join(dir, 'events.avro');
  const schema = avro.Type.forSchema({
    type: 'record', name: 'ShopEvent', fields: [
      { name: 'customer_id', type: ['null', 'string'], default: null },
      { name: 'type', type: 'string' },
      { name: 'ts', type: 'string' },
      { name: 'amount', type: ['null', 'double'], default: null },
      { name: 'channel', type: ['null', 'string'], default: null },
    ],
  });
  // The well-formed records of the thresholds example (Avro cannot carry the malformed ones).
  const records = readFileSync(join(repo, 'examples/thresholds/events.jsonl'), 'utf8').trim().split('\n')
    .flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } })
    .filter((r) => typeof r.amount !== 'string' && r.type !== 'page_view')
    .map((r) => ({ customer_id: r.customer_id ?? null, type: r.type, ts: r.ts, amount: r.amount ?? null, channel: r.channel ?? null }));
  await writeAvroContainer(file, schema, records);
  const r = aud('replay', 'examples/thresholds/thresholds.aud', '--input', file, '--until', '2026-01-20T00:00:00Z');
  assert.equal(r.code, 0, r.stderr);
  const strip = (text: string) => text.trim().split('\n').map((l) => { const { cause: _c, ...rest } = JSON.parse(l) as Record<string, unknown>; return rest; });
  assert.deepEqual(strip(r.stdout), strip(readFileSync(join(repo, 'examples/thresholds/expected.jsonl'), 'utf8')));
  assert.match(r.stderr, /bad record skipped: no customer id/, 'the record without a customer id is still reported');
});

test('aud backfill: a history file that is not there is refused before any state is created', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aud-backfill-'));
  const stateDir = join(dir, 'state');
  const r = aud('backfill', 'examples/thresholds/thresholds.aud', '--input', join(dir, 'history.jsonl'), '--state-dir', stateDir, '--partitions', '2');
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `error: cannot read the history file ${join(dir, 'history.jsonl')}: no such file\n`);
  assert.equal(existsSync(stateDir), false, 'no state directory left behind');
  const k = aud('backfill', 'examples/thresholds/thresholds.aud', '--input', 'examples/thresholds/events.jsonl', '--state-dir', stateDir, '--partitions', '2', '--kafka', 'acks');
  assert.equal(k.code, 1);
  assert.equal(k.stderr, 'error: --kafka "acks" is not key=value (for example --kafka security.protocol=SASL_SSL)\n');
});

test('aud run: a young generation too small to work is refused with the values to give, before Kafka is touched', () => {
  // 127.0.0.1:1 answers nothing: reaching it would hang, not fail like this.
  const r = aud('run', 'examples/thresholds/thresholds.aud', '--brokers', '127.0.0.1:1', '--young-generation-mb', '4');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error --young-generation-mb 4 is not a whole number of MB from 8 up: give 192 \(the default, for throughput\) or about 32 for shorter pauses\n$/);
});

test('aud replay: an input that is missing or not an Avro container is one error line and exit 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aud-replay-'));
  const missing = aud('replay', 'examples/thresholds/thresholds.aud', '--input', join(dir, 'events.jsonl'));
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, `error: cannot read ${join(dir, 'events.jsonl')}: no such file\n`);
  const notAvro = join(dir, 'events.avro');
  writeFileSync(notAvro, '{"customer_id":"c1"}\n');
  const r = aud('replay', 'examples/thresholds/thresholds.aud', '--input', notAvro);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `error: ${notAvro} is not a readable Avro object container file (after 0 records): invalid magic bytes\n`);
  assert.equal(r.stdout, '');
});

test('aud replay: --input -, -i - and --input=- all read the events from stdin', () => {
  const events = readFileSync(join(repo, 'examples/thresholds/events.jsonl'), 'utf8');
  const expected = readFileSync(join(repo, 'examples/thresholds/expected.jsonl'), 'utf8');
  for (const spelling of [['--input', '-'], ['-i', '-'], ['--input=-']]) {
    const r = spawnSync(process.execPath, [cli, 'replay', 'examples/thresholds/thresholds.aud', ...spelling, '--until', '2026-01-20T00:00:00Z'],
      { cwd: repo, encoding: 'utf8', input: events });
    assert.equal(r.status, 0, `${spelling.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, expected, spelling.join(' '));
    assert.match(r.stderr, /stdin:5: bad record skipped: not JSON/, spelling.join(' '));
  }
  // `-` as the output is the same: --output - writes to stdout.
  const r = spawnSync(process.execPath, [cli, 'replay', 'examples/thresholds/thresholds.aud', '--input', '-', '--output', '-', '--until', '2026-01-20T00:00:00Z'],
    { cwd: repo, encoding: 'utf8', input: events });
  assert.equal(r.stdout, expected, r.stderr);
});

test('a reader that closes stdout early ends every printing command quietly with status 0', async () => {
  // Enough output to fill the pipe: 200 copies of the thresholds events, replayed.
  const dir = mkdtempSync(join(tmpdir(), 'aud-epipe-'));
  const many = join(dir, 'many.jsonl');
  const lines = readFileSync(join(repo, 'examples/thresholds/events.jsonl'), 'utf8').trim().split('\n');
  const out: string[] = [];
  for (let i = 0; i < 2000; i++) out.push(...lines.map((l) => l.replace(/"c(\d)"/, `"c$1-${i}"`)));
  writeFileSync(many, out.join('\n') + '\n');
  const commands = [
    ['explain', '--json', 'examples/retail/retail.aud'],
    ['replay', 'examples/thresholds/thresholds.aud', '--input', many],
  ];
  for (const args of commands) {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [cli, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    // Read one chunk, then close our end, as `head -c 1` does.
    await new Promise<void>((res) => child.stdout.once('data', () => { child.stdout.destroy(); res(); }));
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    assert.equal(code, 0, `aud ${args.join(' ')}: exit ${code}, stderr: ${stderr}`);
    assert.doesNotMatch(stderr, /EPIPE|Error|at /, `aud ${args.join(' ')}: ${stderr}`);
  }
});

test('aud webhook reads its flags from --config and AUD_* variables, as aud run does', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aud-webhook-config-'));
  const config = join(dir, 'webhook.yaml');
  writeFileSync(config, 'brokers: 127.0.0.1:9\ntopic: retail.segments\n');
  const run = (env: Record<string, string>) => spawnSync(process.execPath, [cli, 'webhook', '--config', config],
    { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env } });
  const missing = run({});
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /give --url, url: in the config file, or AUD_URL/);
  // The URL from the environment is read (and refused for its scheme, before Kafka is touched).
  const fromEnv = run({ AUD_URL: 'ftp://crm.example.com/aud' });
  assert.equal(fromEnv.status, 1);
  assert.match(fromEnv.stderr, /webhook URL must be http:\/\/ or https:\/\/, not ftp:/);
  writeFileSync(config, 'brokers: 127.0.0.1:9\ntopic: retail.segments\nurl: ftp://crm.example.com/from-file\n');
  assert.match(run({}).stderr, /webhook URL must be http:\/\/ or https:\/\/, not ftp:/);
});
