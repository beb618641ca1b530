/**
 * The systems the benchmark runs, and the command line of each: aud (the
 * engine built in this worktree, dist/cli/aud.js), the passthrough limit
 * (bench/peers/passthrough) and the Kafka Streams peer (bench/peers/kafka-streams).
 * Every one reads the same input topic as a consumer group of its own and
 * writes its own output topic.
 */
import { join } from 'node:path';
import { changelogTopicFor, membershipTopicFor } from '../../runtime/naming.js';

export type SystemKind = 'aud' | 'passthrough' | 'streams';

export interface SystemSpec {
  /** The label in progress lines and RESULTS.md, e.g. `aud --workers 2`. */
  label: string;
  kind: SystemKind;
  /** aud: --workers; Kafka Streams: --threads. */
  workers: number;
  exactlyOnce: boolean;
}

/** Names accepted by --systems: passthrough, streams-N, streams-eos-N, aud-N, aud-eos-N. */
export function parseSystem(name: string): SystemSpec {
  if (name === 'passthrough') return { label: 'passthrough', kind: 'passthrough', workers: 1, exactlyOnce: false };
  const m = /^(aud|streams)(-eos)?-(\d+)$/.exec(name);
  if (!m) throw new Error(`unknown system "${name}": use passthrough, aud-N, aud-eos-N, streams-N or streams-eos-N`);
  const kind = m[1] as 'aud' | 'streams';
  const workers = Number(m[3]);
  const exactlyOnce = m[2] !== undefined;
  const label = kind === 'aud'
    ? `aud --workers ${workers}${exactlyOnce ? ' --exactly-once' : ''}`
    : `Kafka Streams --threads ${workers}${exactlyOnce ? ' --exactly-once' : ''}`;
  return { label, kind, workers, exactlyOnce };
}

export interface LaunchOptions {
  repo: string;
  brokers: string;
  input: string;
  output: string;
  /** Consumer group (Kafka Streams: application id). */
  group: string;
  stateDir: string;
  clock: 'event' | 'wall';
  /** Kafka Streams commit.interval.ms (see bench/README.md for why it is set). */
  streamsCommitMs: number;
  /** aud's rule files; default: bench.aud (benchRulesFile). */
  rules?: string[];
  /** Node options before the script (aud and passthrough), e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** More aud flags, for experiments (`--aud-arg`), e.g. --kafka queued.max.messages.kbytes=16384. */
  audArgs?: string[];
  /** Node options for aud only, for experiments (`--aud-node-arg`), e.g. --single-threaded-gc. */
  audNodeArgs?: string[];
}

export function commandFor(spec: SystemSpec, o: LaunchOptions): { command: string; args: string[] } {
  switch (spec.kind) {
    case 'aud':
      return {
        command: process.execPath,
        args: [
          ...(o.nodeArgs ?? []), ...(o.audNodeArgs ?? []), join(o.repo, 'dist/cli/aud.js'), 'run', ...(o.rules ?? [benchRulesFile(o.repo)]),
          '--brokers', o.brokers, '--group', o.group, '--state-dir', o.stateDir, '--clock', o.clock,
          '--topic', o.input, '--output-topic', o.output, '--workers', String(spec.workers), '--log-format', 'json',
          ...(spec.exactlyOnce ? ['--exactly-once'] : []), ...(o.audArgs ?? []),
        ],
      };
    case 'passthrough':
      return {
        command: process.execPath,
        args: [...(o.nodeArgs ?? []), join(o.repo, 'dist/bench/peers/passthrough/passthrough.js'), '--brokers', o.brokers, '--input', o.input, '--output', o.output, '--group', o.group],
      };
    case 'streams':
      return {
        command: 'java',
        args: [
          '-jar', streamsJar(o.repo), '--brokers', o.brokers, '--input', o.input, '--output', o.output,
          '--app-id', o.group, '--state-dir', o.stateDir, '--threads', String(spec.workers),
          '--commit-interval-ms', String(o.streamsCommitMs),
          ...(spec.exactlyOnce ? ['--exactly-once'] : []),
        ],
      };
  }
}

/** The ten audiences every system computes (the Kafka Streams peer has them in code). */
/** bench/rules/offers.aud: three offers and a decision over bench.aud's audiences (`--offers`). */
export function benchOffersFile(repo: string): string {
  return join(repo, 'bench/rules/offers.aud');
}

export function benchRulesFile(repo: string): string {
  return join(repo, 'bench/rules/bench.aud');
}

export function streamsJar(repo: string): string {
  return join(repo, 'bench/peers/kafka-streams/target/aud-streams-peer.jar');
}

/** Topics a system creates for itself, besides the output topic, to delete after the run. */
export function ownTopicPrefixes(spec: SystemSpec, o: { input: string; output: string; group: string }): string[] {
  switch (spec.kind) {
    case 'aud': return [membershipTopicFor(o.output), changelogTopicFor(o.group)];
    case 'passthrough': return [];
    case 'streams': return [`${o.group}-`];
  }
}
