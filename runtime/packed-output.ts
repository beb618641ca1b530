/**
 * A batch's enter/leave events as the Kafka records they become, packed in
 * the thread that made them.
 *
 * With hundreds of audiences a batch makes dozens of enter/leave events per
 * input record, each two records (the event, and its membership record or
 * tombstone). As objects they cost the main thread a structured clone each,
 * a JSON text, a labelled counter and a copy into the producer's buffer, and
 * the main thread, which also consumes and produces for every partition,
 * becomes the bottleneck while the rule workers wait. Packed here they cross
 * as two byte arrays, and the main thread hands them to the producer as they
 * are (connectors/kafka/batch-produce.ts takes this very layout).
 *
 * JSON output only: an Avro output format encodes in the main thread, which
 * holds the schema registry's id (the runner then returns the events).
 */
import type { PackedRecords } from '../connectors/kafka/batch-produce.js';
import { outputEventJson, type MembershipEvent, type OutputEvent } from '../engine/output-event.js';

export interface PackedOutput {
  /** Key: the customer; value: the enter/leave or decision event's JSON (engine/output-event.ts). */
  events: PackedRecords;
  /** Key: `audience/customer`; value: the membership's JSON, or null (a tombstone) on leave. One per enter/leave event. */
  memberships: PackedRecords;
  /** Enter and leave events per audience, for the metrics. */
  counts: AudienceCounts[];
  /** Decision events per decision and offer, for the metrics. */
  decisions: DecisionCounts[];
}

export interface DecisionCounts {
  decision: string;
  /** The offer the events named; null: none. */
  offer: string | null;
  events: number;
}

export interface AudienceCounts {
  audience: string;
  enters: number;
  leaves: number;
}

/** The same records, in the same order, as output-records.ts's outputRecords makes of `outputs`. */
export function packOutput(outputs: readonly OutputEvent[]): PackedOutput {
  const n = outputs.length;
  const eventTexts = new Array<string>(2 * n);
  const membershipTexts: (string | null)[] = [];
  let decisions = false;
  for (let i = 0; i < n; i++) {
    const o = outputs[i]!;
    eventTexts[2 * i] = o.customer;
    eventTexts[2 * i + 1] = outputEventJson(o);
    if (o.type === 'decision') { decisions = true; continue; }
    membershipTexts.push(`${o.audience}/${o.customer}`, o.type === 'enter' ? membershipJson(o) : null);
  }
  return {
    events: packTexts(eventTexts, n), memberships: packTexts(membershipTexts, membershipTexts.length / 2),
    counts: audienceCounts(outputs), decisions: decisions ? decisionCounts(outputs) : [],
  };
}

/** Decision events per decision and offer, in the order they first appear. */
export function decisionCounts(outputs: readonly OutputEvent[]): DecisionCounts[] {
  const counts = new Map<string, DecisionCounts>();
  for (const o of outputs) {
    if (o.type !== 'decision') continue;
    const key = `${o.decision}\u0000${o.offer ?? ''}`;
    let c = counts.get(key);
    if (!c) { c = { decision: o.decision, offer: o.offer, events: 0 }; counts.set(key, c); }
    c.events++;
  }
  return [...counts.values()];
}

/** Enter and leave events per audience, in the order the audiences first appear. */
export function audienceCounts(outputs: readonly OutputEvent[]): AudienceCounts[] {
  const counts = new Map<string, AudienceCounts>();
  for (const o of outputs) {
    if (o.type === 'decision') continue;
    let c = counts.get(o.audience);
    if (!c) { c = { audience: o.audience, enters: 0, leaves: 0 }; counts.set(o.audience, c); }
    if (o.type === 'enter') c.enters++; else c.leaves++;
  }
  return [...counts.values()];
}

/** The membership record's value: what the compacted membership topic holds while the customer is inside. */
export function membershipJson(o: MembershipEvent): string {
  return `{"audience":${JSON.stringify(o.audience)},"customer":${JSON.stringify(o.customer)},"since":"${o.at}","version":${o.version}}`;
}

/** Keys and values (alternating; null: none) as UTF-8, one after another, with their byte lengths (-1: null). */
function packTexts(texts: readonly (string | null)[], count: number): PackedRecords {
  let chars = 0;
  for (const t of texts) if (t !== null) chars += t.length;
  // A UTF-16 unit is at most three bytes of UTF-8; the records are copied to their exact size below.
  const scratch = Buffer.allocUnsafe(3 * chars);
  const lengths = new Int32Array(texts.length);
  let at = 0;
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i]!;
    if (t === null) { lengths[i] = -1; continue; }
    const written = scratch.write(t, at);
    lengths[i] = written;
    at += written;
  }
  return { count, data: new Uint8Array(scratch.subarray(0, at)), lengths };
}

/**
 * The enter/leave events' JSON texts of a packed output, the first `limit`
 * of them: what the dashboard's live tail shows (event-tail.ts), decoded
 * only while someone watches.
 */
export function packedEventTexts(packed: PackedOutput, limit: number): string[] {
  const { count, data, lengths } = packed.events;
  const utf8 = new TextDecoder();
  const texts: string[] = [];
  let at = 0;
  for (let i = 0; i < count && texts.length < limit; i++) {
    at += Math.max(0, lengths[2 * i]!); // the key: the customer, in the event too
    const valueBytes = lengths[2 * i + 1]!;
    if (valueBytes < 0) continue;
    texts.push(utf8.decode(data.subarray(at, at + valueBytes)));
    at += valueBytes;
  }
  return texts;
}
