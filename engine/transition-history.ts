/**
 * A customer's last enter/leave transitions, kept in the customer's state
 * (its `h` entry) so that "why is this customer (not) in this audience?" can
 * say when it last changed and because of which record, on whichever process
 * owns the partition, after restores and rule changes alike. Written with
 * the membership it records, in the same state write, so it is exactly as
 * durable as the membership.
 *
 * Bounded per customer (RECENT_TRANSITIONS over all audiences): a customer
 * flickering in and out of one audience pushes older transitions out.
 *
 * Stored as small fixed-size binary records rather than MessagePack values:
 * with a thousand audiences a customer changes membership many times per
 * event, and packing and unpacking a list of tuples at every commit cost a
 * third more CPU on the 1,000-audience replay. Recording a transition is a
 * copy within the customer's own buffer; a commit copies the bytes as they
 * are. Every byte here is in every customer's state that ever changed
 * membership, so the input topic and partition of the causes, the same for
 * all of a partition's customers, are written once per log, not per record.
 *
 *     byte 0          records that follow (at most RECENT_TRANSITIONS)
 *     byte 1          length of the input topic of the Kafka causes, then the topic (UTF-8)
 *     4 bytes         the Kafka causes' partition (uint32)
 *     then per record, newest first, RECORD_BYTES each, big-endian:
 *       0..2   audience index (uint24), in the state's audience list (`l`)
 *       3      1 enter | 0 leave, plus reason code << 1, plus cause kind << 4
 *       4..9   at, epoch ms (uint48)
 *       10..13 version (uint32)
 *       14..19 the cause's offset or line (uint48)
 */
import type { Cause } from './input-record.js';
import type { ChangeReason } from './output-event.js';

export interface Transition {
  audience: string;
  type: 'enter' | 'leave';
  /** The engine's clock when it happened (epoch ms). */
  at: number;
  version: number;
  reason: ChangeReason;
  /** The input record that caused it; none for timers and rule changes. */
  cause?: Cause;
}

/** How many of a customer's transitions are kept, newest first (over all audiences). */
export const RECENT_TRANSITIONS = 16;

const RECORD_BYTES = 20;
/** The largest value of a 48-bit field: epoch ms until the year 10889, offsets and lines beyond any real log. */
const MAX_48 = 2 ** 48 - 1;
/** Reasons as stored, by code: the position in this list, so codes never change meaning (append only). */
const REASONS: readonly ChangeReason[] = ['event', 'timer', 'rule_change', 'merge', 'erasure'];
const CAUSE_NONE = 0;
const CAUSE_LINE = 1;
const CAUSE_KAFKA = 2;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function recordsAt(log: Uint8Array): number {
  return 6 + log[1]!;
}

function uint48(v: number): number {
  return v <= 0 ? 0 : v >= MAX_48 ? MAX_48 : Math.round(v);
}

/**
 * Add a transition in front of the state's log. The log is written in place
 * in a buffer of its own, made once per customer in memory (a decoded log is
 * a view of the stored bytes, never written to): a thousand audiences make
 * millions of transitions, and a new array for each was most of their cost.
 * A Kafka cause from another topic or partition than the log's Kafka causes
 * (the same state read from another input) starts the log afresh.
 */
export function recordTransition(
  state: TransitionHolder, audience: number, enter: boolean, at: number, version: number, reason: ChangeReason, cause: Cause | undefined,
): void {
  let log = state.h;
  let count = log ? log[0]! : 0;
  let topic: Uint8Array | undefined;
  let partition = log ? readUInt32(log, 2 + log[1]!) : 0;
  if (cause !== undefined && !('line' in cause)) {
    const current = log ? log.subarray(2, 2 + log[1]!) : undefined;
    if (current === undefined || !sameText(current, cause.topic) || (current.length > 0 && partition !== cause.partition)) {
      topic = encoder.encode(cause.topic);
      // Kafka topic names are at most 249 characters: longer is never seen, and is not kept.
      if (topic.length > 255) { topic = undefined; cause = undefined; }
      else {
        // The records already there name another topic or partition: they go. (None named, none go.)
        if (current !== undefined && current.length > 0) count = 0;
        partition = cause.partition;
      }
    }
  }
  if (!state.hOwned || topic !== undefined) {
    const head = topic ?? (log ? log.subarray(2, 2 + log[1]!) : new Uint8Array(0));
    const own = Buffer.alloc(6 + head.length + RECENT_TRANSITIONS * RECORD_BYTES);
    own[1] = head.length;
    own.set(head, 2);
    own.writeUInt32BE(partition, 2 + head.length);
    if (log && count > 0) own.set(log.subarray(recordsAt(log), recordsAt(log) + count * RECORD_BYTES), recordsAt(own));
    log = own;
    state.h = own;
    state.hOwned = true;
  }
  // An owned log is a Buffer: its write methods, not a DataView made per transition.
  const b = log as Buffer;
  const p = recordsAt(b);
  const kept = Math.min(count, RECENT_TRANSITIONS - 1);
  b.copyWithin(p + RECORD_BYTES, p, p + kept * RECORD_BYTES);
  b[0] = kept + 1;
  b.writeUIntBE(audience, p, 3);
  const kind = cause === undefined ? CAUSE_NONE : 'line' in cause ? CAUSE_LINE : CAUSE_KAFKA;
  b[p + 3] = (enter ? 1 : 0) | (REASONS.indexOf(reason) << 1) | (kind << 4);
  b.writeUIntBE(uint48(at), p + 4, 6);
  b.writeUInt32BE(Math.min(version, 0xffffffff), p + 10);
  b.writeUIntBE(uint48(cause === undefined ? 0 : 'line' in cause ? cause.line : Number(cause.offset)), p + 14, 6);
}

/** What recordTransition writes to: a customer state's `h` and whether its buffer is the state's own. */
export interface TransitionHolder {
  h: Uint8Array | undefined;
  hOwned: boolean;
}

/** The bytes of the log in use: what a state stores. */
export function transitionLogBytes(log: Uint8Array): Uint8Array {
  const used = recordsAt(log) + log[0]! * RECORD_BYTES;
  return used === log.length ? log : log.subarray(0, used);
}

/** The log's transitions, newest first, with audience names from the list the indexes refer to. */
export function transitionsOf(log: Uint8Array | undefined, audiences: readonly string[]): Transition[] {
  if (!log) return [];
  const b = asBuffer(log);
  const topic = decoder.decode(b.subarray(2, 2 + b[1]!));
  const partition = b.readUInt32BE(2 + b[1]!);
  const out: Transition[] = [];
  for (let i = 0, p = recordsAt(b); i < b[0]!; i++, p += RECORD_BYTES) {
    const audience = audiences[b.readUIntBE(p, 3)];
    if (audience === undefined) continue;
    const flags = b[p + 3]!;
    const t: Transition = {
      audience, type: (flags & 1) === 1 ? 'enter' : 'leave', at: b.readUIntBE(p + 4, 6), version: b.readUInt32BE(p + 10),
      reason: REASONS[(flags >> 1) & 7] ?? 'event',
    };
    const kind = flags >> 4;
    const where = b.readUIntBE(p + 14, 6);
    if (kind === CAUSE_LINE) t.cause = { line: where };
    else if (kind === CAUSE_KAFKA) t.cause = { topic, partition, offset: String(where) };
    out.push(t);
  }
  return out;
}

/**
 * The log with its audience indexes moved to another list (`map[old]`:
 * the new index, -1 for an audience the new rules dropped, whose
 * transitions go). Undefined when none is left.
 */
export function remapTransitions(log: Uint8Array, map: ArrayLike<number>): Uint8Array | undefined {
  const b = asBuffer(log);
  const head = recordsAt(b);
  const keep: number[] = [];
  for (let i = 0, p = head; i < b[0]!; i++, p += RECORD_BYTES) if ((map[b.readUIntBE(p, 3)] ?? -1) >= 0) keep.push(p);
  if (keep.length === 0) return undefined;
  const out = Buffer.alloc(head + keep.length * RECORD_BYTES);
  b.copy(out, 0, 0, head);
  out[0] = keep.length;
  keep.forEach((from, k) => {
    const to = head + k * RECORD_BYTES;
    b.copy(out, to, from, from + RECORD_BYTES);
    out.writeUIntBE(map[b.readUIntBE(from, 3)]!, to, 3);
  });
  return out;
}

/** Whether bytes are a transition log as written here (a state of another format carries something else under `h`). */
export function isTransitionLog(b: Uint8Array): boolean {
  return b.length >= 6 && b.length === 6 + b[1]! + b[0]! * RECORD_BYTES;
}

function readUInt32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Whether UTF-8 bytes spell `text`: the common case (ASCII, equal) without decoding. */
function sameText(bytes: Uint8Array, text: string): boolean {
  if (bytes.length !== text.length) return decoder.decode(bytes) === text;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== text.charCodeAt(i)) return decoder.decode(bytes) === text;
  return true;
}
