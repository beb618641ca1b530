/**
 * The demo behind `npm run demo`: the retail rules on a local Kafka broker.
 *
 *  1. creates the input topic (8 partitions) and starts `aud run` on
 *     examples/retail/retail.aud and offers.aud as a child process, with its
 *     own state dir;
 *  2. produces ninety days of generated history (timestamps ending now): the
 *     engine reads it as a backlog on the event clock, so carts are abandoned,
 *     VIPs made and lapsed as the history unfolds;
 *  3. keeps producing live events at a steady rate, stamped with the real time;
 *  4. prints every enter/leave and decision event from the output topic as
 *     it arrives, until Ctrl-C, then stops the engine cleanly.
 *
 * Meanwhile the engine's dashboard is at http://127.0.0.1:<--http>/ (printed
 * at the start and again once the history is produced).
 *
 * Run it with `npm run demo` (scripts/demo.sh installs and starts what is missing).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { rm } from 'node:fs/promises';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ensureTopics } from '../../connectors/kafka/admin.js';
import { KafkaSink, type SinkRecord } from '../../connectors/kafka/sink.js';
import { KafkaSource } from '../../connectors/kafka/source.js';
import { valueAt } from '../../engine/record-batch.js';
import { generateRetailEvents } from './generate.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
const rules = [join(repo, 'examples/retail/retail.aud'), join(repo, 'examples/retail/offers.aud')];
const cli = join(repo, 'dist/cli/aud.js');

const args = await yargs(hideBin(process.argv))
  .option('brokers', { type: 'string', default: '127.0.0.1:9092' })
  .option('customers', { type: 'number', default: 2000 })
  .option('days', { type: 'number', default: 90, describe: 'days of history before the live stream' })
  .option('rate', { type: 'number', default: 50, describe: 'live events per second' })
  .option('fresh', { type: 'boolean', default: true, describe: 'start from empty state and new topics' })
  .option('http', { type: 'number', default: 8080, describe: 'port of the engine\'s query API (customers, audience sizes, metrics)' })
  .strict()
  .parseAsync();

const run = `${Date.now().toString(36)}`;
const inputTopic = args.fresh ? `retail.events.demo-${run}` : 'retail.events';
const outputTopic = args.fresh ? `retail.segments.demo-${run}` : 'retail.segments';
const stateDir = join(repo, '.aud-state', `demo-${args.fresh ? run : 'main'}`);
const kafka = { brokers: args.brokers, clientId: 'aud-demo' };

const colour = (code: number, s: string): string => (process.stdout.isTTY ? `\x1b[${code}m${s}\x1b[0m` : s);
const say = (s: string): void => { process.stdout.write(colour(2, `[demo] ${s}`) + '\n'); };

await ensureTopics(kafka, [{ topic: inputTopic, partitions: 8 }]);
say(`input topic ${inputTopic} (8 partitions), output topic ${outputTopic}, state in ${stateDir}`);

const engine: ChildProcess = spawn(process.execPath, [
  cli, 'run', ...rules, '--brokers', args.brokers, '--topic', inputTopic, '--output-topic', outputTopic,
  '--state-dir', stateDir, '--group', `aud-demo-${run}`, '--http', String(args.http), '--http-host', '127.0.0.1',
  // Its own process group: Ctrl-C reaches only the demo, which then stops the engine once, cleanly.
], { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
const engineExited = new Promise<number | null>((res) => engine.on('exit', (code) => res(code)));
const dashboard = `http://127.0.0.1:${args.http}/`;
say(`dashboard: ${dashboard}`);

// Print enter/leave and decision events as they arrive.
const utf8 = new TextDecoder();
let enters = 0;
let leaves = 0;
let decisions = 0;
const watcher = new KafkaSource({ ...kafka, groupId: `aud-demo-watch-${run}`, topics: [outputTopic] });
await ensureTopics(kafka, [{ topic: outputTopic, partitions: 8 }]);
await watcher.start({
  onAssign: async () => undefined,
  onRevoke: async () => undefined,
  onBatch: async (batch) => {
    for (let i = 0; i < batch.records.count; i++) {
      const value = valueAt(batch.records, i);
      if (value === null) continue;
      const e = JSON.parse(utf8.decode(value)) as { type: string; audience?: string; decision?: string; offer?: string | null; score?: number | null; customer: string; at: string; reason: string };
      if (e.type === 'decision') {
        decisions++;
        const offer = e.offer === null ? colour(2, 'no offer') : `${e.offer} ${colour(2, `score ${e.score!.toFixed(2)}`)}`;
        process.stdout.write(`${e.at}  ${colour(36, 'OFFER')} ${e.decision!.padEnd(20)} ${e.customer}  ${offer}  ${colour(2, `(${e.reason})`)}\n`);
        continue;
      }
      if (e.type === 'enter') enters++; else leaves++;
      const tag = e.type === 'enter' ? colour(32, 'ENTER') : colour(31, 'LEAVE');
      process.stdout.write(`${e.at}  ${tag} ${e.audience!.padEnd(20)} ${e.customer}  ${colour(2, `(${e.reason})`)}\n`);
    }
  },
});

const sink = new KafkaSink(kafka);
await sink.connect();
const toRecord = (e: Record<string, unknown>): SinkRecord => ({ topic: inputTopic, key: String(e.customer_id), value: JSON.stringify(e) });

// History: `days` of simulated behaviour ending now.
const start = new Date(Date.now() - args.days * 86_400_000);
let batch: SinkRecord[] = [];
let history = 0;
for (const e of generateRetailEvents({ customers: args.customers, days: args.days, seed: 7, start })) {
  if (Date.parse(String(e.ts)) > Date.now()) break;
  batch.push(toRecord(e));
  if (batch.length >= 5000) { await sink.send(batch); history += batch.length; batch = []; }
}
await sink.send(batch);
history += batch.length;
say(`produced ${history} history events for ${args.customers} customers over ${args.days} days; now live at ${args.rate} events/s (Ctrl-C to stop)`);
say(`dashboard: ${dashboard} (audiences over time, the live tail, partitions, customer search)`);
say(`query API: curl localhost:${args.http}/audiences · curl localhost:${args.http}/customers/c-000001 · curl localhost:${args.http}/customers/c-000001/why · curl localhost:${args.http}/metrics`);
say(`why is c-000001 in (or not in) each audience, from the engine's committed state: ` +
  `npx aud why examples/retail/retail.aud examples/retail/offers.aud --customer c-000001 --brokers ${args.brokers} --group aud-demo-${run}`);

// Live: the generator's next day, restamped with the real time as it is sent.
let stopping = false;
const live = (async () => {
  const interval = 1000 / args.rate;
  for (const e of generateRetailEvents({ customers: args.customers, days: 3650, seed: 8, start: new Date() })) {
    if (stopping) break;
    e.ts = new Date().toISOString();
    await sink.send([toRecord(e)]);
    await new Promise((r) => setTimeout(r, interval));
  }
})();

const shutdown = async (): Promise<void> => {
  if (stopping) process.exit(130);
  stopping = true;
  say('stopping: the engine finishes its batch, flushes and commits');
  await live.catch(() => undefined);
  engine.kill('SIGTERM');
  await engineExited;
  await watcher.stop();
  await sink.disconnect();
  say(`${enters} enter, ${leaves} leave and ${decisions} decision events seen`);
  if (args.fresh) await rm(stateDir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGINT', () => { void shutdown(); });
process.on('SIGTERM', () => { void shutdown(); });
const code = await engineExited;
if (!stopping) {
  say(`the engine exited unexpectedly (code ${code}); see its log above`);
  process.exit(1);
}
