/**
 * The names the runtime gives the topics, directories and transactional ids
 * it owns, derived from the names a user chooses (input and output topics,
 * consumer group, state directory). Spelt here only: `aud run`, `aud
 * backfill`, the runtime, the benchmark harness and the tests all derive
 * them from these functions, so that a backfill writes the state a later run
 * reads.
 */
import { join } from 'node:path';

/** Compacted, one partition per output partition: key `audience/customer`, value the membership, tombstone on leave. */
export function membershipTopicFor(outputTopic: string): string {
  return `${outputTopic}.members`;
}

/** Records the rules could not read, with the reason in a header. */
export function deadLetterTopicFor(inputTopic: string): string {
  return `${inputTopic}.dlq`;
}

/** Compacted, one partition per input partition: a copy of every state write of the group. */
export function changelogTopicFor(groupId: string): string {
  return `${groupId}-state-changelog`;
}

/** The dashboard's sizes over time (size-history.ts): beside the partitions' stores, the process's own. */
export function sizeHistoryFile(stateDir: string): string {
  return join(stateDir, 'dashboard', 'sizes.jsonl');
}

/** The RocksDB directory of one input partition's state. */
export function partitionStateDir(stateDir: string, topic: string, partition: number): string {
  return join(stateDir, `${topic}-${partition}`);
}

/**
 * Exactly-once: the transactional id of one input partition's producer.
 * Stable across restarts and processes, so that a new owner fences the old.
 */
export function transactionalIdFor(groupId: string, topic: string, partition: number): string {
  return `${groupId}-${topic}-${partition}`;
}

/** The consumer group (and so the changelog) when `--group` is not given. */
export function defaultGroupFor(inputTopic: string): string {
  return `aud-${inputTopic}`;
}
