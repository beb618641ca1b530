/**
 * What the runtime writes to Kafka, built from what the rules return: the
 * enter/leave events and their membership records, dead letters, the
 * changelog copy of a commit.
 */
import type { SinkRecord, TopicRecords } from '../connectors/kafka/sink.js';
import { outputEventJson, type OutputEvent } from '../engine/output-event.js';
import type { BadRecord } from '../engine/partition-task.js';
import type { ChangelogCopy } from './worker/partition-runner.js';
import { membershipJson, type PackedOutput } from './packed-output.js';

export interface OutputTopics {
  outputTopic: string;
  /** Compacted: key `audience/customer`, value the membership, tombstone on leave. */
  membershipTopic: string;
  deadLetterTopic: string;
  changelogTopic: string;
  /** The value of an enter/leave event (`--output-format avro`); default JSON. */
  encodeOutput?: (event: OutputEvent) => string | Buffer;
}

/** Each enter/leave event and its membership record (a tombstone on leave); each decision event. */
export function outputRecords(topics: OutputTopics, outputs: OutputEvent[]): SinkRecord[] {
  const encode = topics.encodeOutput ?? outputEventJson;
  const records: SinkRecord[] = [];
  for (const o of outputs) {
    records.push({ topic: topics.outputTopic, key: o.customer, value: encode(o) });
    if (o.type === 'decision') continue;
    records.push({
      topic: topics.membershipTopic,
      key: `${o.audience}/${o.customer}`,
      value: o.type === 'enter' ? membershipJson(o) : null,
    });
  }
  return records;
}

/** The same records when a rule worker packed them (packed-output.ts): the events', then the memberships'. */
export function packedOutputRecords(topics: OutputTopics, packed: PackedOutput | undefined): TopicRecords[] {
  if (!packed) return [];
  return [{ topic: topics.outputTopic, records: packed.events }, { topic: topics.membershipTopic, records: packed.memberships }];
}

/** Bad records as read, with why and where from in headers. */
export function deadLetters(topics: OutputTopics, bad: BadRecord[]): SinkRecord[] {
  return bad.map((b) => {
    const cause = b.record.cause && 'offset' in b.record.cause ? b.record.cause : undefined;
    const value = b.record.value;
    const headers: Record<string, string> = { 'aud.error': b.reason };
    if (cause) {
      headers['aud.source.topic'] = cause.topic;
      headers['aud.source.partition'] = String(cause.partition);
      headers['aud.source.offset'] = cause.offset;
    }
    return {
      topic: topics.deadLetterTopic,
      key: b.record.key ?? null,
      value: value === null ? null : typeof value === 'string' ? value : value instanceof Uint8Array ? Buffer.from(value) : JSON.stringify(value),
      headers,
    };
  });
}

/** A prepared commit's changelog copy, to the partition's own changelog partition. */
export function changelogRecords(topics: OutputTopics, partition: number, copy: ChangelogCopy): SinkRecord[] {
  return copy.map((w) => ({
    topic: topics.changelogTopic, partition, key: w.key,
    value: w.value === null ? null : Buffer.from(w.value.buffer, w.value.byteOffset, w.value.byteLength),
  }));
}
