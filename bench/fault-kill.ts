/**
 * Fault run: kill -9 the engine at random moments while it works through a
 * stream, restart it, again and again; then let it finish, and compare the
 * output topic with `aud replay` of the same input, partition by partition
 * (test/support/kill-run.ts does the work).
 *
 *   node dist/bench/fault-kill.js [--kills 20] [--customers 30000] [--days 40] [--partitions 1]
 *       [--exactly-once] [--lose-state] [--engines 1|2] [--dynamic] [--pause-ms N] [--max-kill-delay-ms 1500]
 *       [--rules a.aud,b.aud] [--identities] [--brokers 127.0.0.1:9092]
 *
 * --rules         rule files over the retail example's events, comma-separated
 *                 (default examples/retail/retail.aud); bench/rules/fault-actions.aud
 *                 with retail.aud and offers.aud adds steady audiences and decisions;
 * --identities    customers known by several identifiers: the rules' source
 *                 resolves identities (user_id, email, anonymous_id), 30% of the
 *                 events are anonymous, 5% log a device in (merges), 5% of the
 *                 customers are erased once (bench/workload/identity-workload.ts);
 *                 one partition;
 * --lose-state    delete the killed engine's state directory before it restarts
 *                 (every restart restores from the changelog);
 * --engines 2     two engines in one group; each kill picks one, the other goes
 *                 on; the second half of the input is produced during the kills;
 * --dynamic       no static membership: a killed engine's partitions move to the
 *                 survivor when its session times out (6 s), and back when it
 *                 rejoins; with it (the default) a restart takes them back at once;
 * --pause-ms N    freeze the chosen engine (SIGSTOP) for N ms instead of killing
 *                 it, then let it go on: with --engines 2 --dynamic and N past the
 *                 session timeout, it wakes up as a zombie whose partitions the
 *                 other engine owns (exactly-once fences it).
 *
 * Prints progress on stderr, then on stdout:
 *   kills survived N, events in N, events out N, missing N, duplicates N, unexpected N
 * missing: in replay, not in the topic; duplicates: more copies than replay
 * has; unexpected: in the topic, not in replay. At-least-once promises
 * missing = 0 and unexpected = 0; exactly-once promises every customer's
 * events to be replay's, in order, nothing more. The exit code says whether
 * the promise held.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runKillFaults } from '../test/support/kill-run.js';

// A run takes minutes: a mistyped or unknown flag (or --help) must not start one with the defaults.
const VALUED = ['kills', 'customers', 'days', 'partitions', 'engines', 'pause-ms', 'max-kill-delay-ms', 'rules', 'brokers'];
const FLAGS = ['exactly-once', 'lose-state', 'dynamic', 'identities'];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]!;
  const name = a.replace(/^--/, '');
  if (a === '--help' || a === '-h') {
    // The usage is this file's header comment (the compiled file keeps it).
    const header = /\/\*\*([\s\S]*?)\*\//.exec(readFileSync(fileURLToPath(import.meta.url), 'utf8'))?.[1] ?? '';
    process.stdout.write(header.split('\n').map((l) => l.replace(/^ \* ?/, '')).join('\n').trim() + '\n');
    process.exit(0);
  }
  if (VALUED.includes(name)) { i++; continue; }
  if (!FLAGS.includes(name)) {
    process.stderr.write(`fault-kill: unknown option ${a}; see --help\n`);
    process.exit(2);
  }
}

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const flag = (name: string): boolean => process.argv.includes(`--${name}`);
const brokers = arg('brokers', process.env.AUD_TEST_BROKERS ?? '127.0.0.1:9092');
process.env.AUD_TEST_BROKERS = brokers;
const engines = Number(arg('engines', '1'));
if (engines !== 1 && engines !== 2) throw new Error('--engines is 1 or 2');
const exactlyOnce = flag('exactly-once');
const r = await runKillFaults({
  brokers, kills: Number(arg('kills', '20')), customers: Number(arg('customers', '30000')), days: Number(arg('days', '40')),
  partitions: Number(arg('partitions', '1')), engines, loseState: flag('lose-state'), staticMembership: !flag('dynamic'),
  ...(process.argv.includes('--pause-ms') ? { pauseMs: Number(arg('pause-ms', '0')) } : {}),
  maxKillDelayMs: Number(arg('max-kill-delay-ms', '1500')), exactlyOnce, identities: flag('identities'),
  ...(process.argv.includes('--rules') ? { rules: arg('rules', '').split(',').filter(Boolean).map((r) => resolve(r)) } : {}),
  say: (s) => process.stderr.write(`[fault] ${s}\n`),
});
const ok = r.missing === 0 && r.unexpected === 0 && (!exactlyOnce || (r.duplicates === 0 && r.identical));
console.log(`replay: ${r.expected} events; every customer's events as replay's, in order: ${r.identical ? 'yes' : 'no'}; ` +
  `${r.seconds} s; ${ok ? 'PASS' : 'FAIL'}${r.logDir ? `; engine logs kept in ${r.logDir}` : ''}`);
console.log(`kills survived ${r.killsSurvived}, events in ${r.eventsIn}, events out ${r.eventsOut}, ` +
  `missing ${r.missing}, duplicates ${r.duplicates}, unexpected ${r.unexpected}`);
process.exitCode = ok ? 0 : 1;
