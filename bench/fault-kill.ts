/**
 * Fault run: kill -9 the engine at random moments while it works through a
 * stream, restart it on the same state directory, again and again; then let
 * it finish, and compare the output topic with `aud replay` of the same input
 * (test/support/kill-run.ts does the work).
 *
 *   node dist/bench/fault-kill.js [--kills 20] [--customers 30000] [--days 40] [--exactly-once] [--brokers 127.0.0.1:9092]
 *
 * Prints kills survived, events in, events out, missing (in replay, not in the
 * topic), duplicates (more copies than replay has) and unexpected (in the
 * topic, not in replay). At-least-once promises missing = 0 and unexpected = 0;
 * exactly-once promises the topic identical to replay, event for event.
 */
import { runKillFaults } from '../test/support/kill-run.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const brokers = arg('brokers', process.env.AUD_TEST_BROKERS ?? '127.0.0.1:9092');
process.env.AUD_TEST_BROKERS = brokers;
const r = await runKillFaults({
  brokers, kills: Number(arg('kills', '20')), customers: Number(arg('customers', '30000')), days: Number(arg('days', '40')),
  maxKillDelayMs: 1500, exactlyOnce: process.argv.includes('--exactly-once'), say: (s) => process.stderr.write(`[fault] ${s}\n`),
});
console.log(`kills survived ${r.killsSurvived}, events in ${r.eventsIn}, events out ${r.eventsOut} (replay: ${r.expected}), ` +
  `missing ${r.missing}, duplicates ${r.duplicates}, unexpected ${r.unexpected}, identical to replay (same order): ${r.identical ? 'yes' : 'no'}`);
const exactlyOnce = process.argv.includes('--exactly-once');
process.exitCode = r.missing === 0 && r.unexpected === 0 && (!exactlyOnce || r.identical) ? 0 : 1;
