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
 * Stored as fixed-size binary records rather than MessagePack values: with a
 * thousand audiences a customer changes membership many times per event,
 * and packing and unpacking a list of tuples at every commit cost a third
 * more CPU on the 1,000-audience replay. Recording a transition is a
 * copy within the customer's own buffer; a commit copies the bytes as they
 * are.
 *
 *     byte 0          records that follow (at most RECENT_TRANSITIONS)
 *     byte 1          length of the input topic of the Kafka causes, then the topic (UTF-8)
 *     then per record, newest first, RECORD_BYTES each:
 *       0..3   audience index (uint32), in the state's audience list (`l`)
 *       4      1 enter | 0 leave, plus reason code << 1, plus cause kind << 4
 *       8..15  at, epoch ms (float64)
 *       16..19 version (uint32)
 *       20..23 the cause's partition (uint32)
 *       24..31 the cause's offset or line (float64)
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

const RECORD_BYTES = 32;
/** Reasons as stored, by code: the position in this list, so codes never change meaning (append only). */
const REASONS: readonly ChangeReason[] = ['event', 'timer', 'rule_change'];
const CAUSE_NONE = 0;
const CAUSE_LINE = 1;
const CAUSE_KAFKA = 2;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function recordsAt(log: Uint8Array): number {
  return 2 + log[1]!;
}

/**
 * Add a transition in front of the state's log. The log is written in place
 * in a buffer of its own, made once per customer in memory (a decoded log is
 * a view of the stored bytes, never written to): a thousand audiences make
 * millions of transitions, and a new array for each was most of their cost.
 * A Kafka cause from another topic than the one the log's Kafka causes name
 * (the same state read from another input) starts the log afresh.
 */
export function recordTransition(
  state: TransitionHolder, audience: number, enter: boolean, at: number, version: number, reason: ChangeReason, cause: Cause | undefined,
): void {
  let log = state.h;
  let count = log ? log[0]! : 0;
  let topic: Uint8Array | undefined;
  if (cause !== undefined && !('line' in cause)) {
    const current = log ? log.subarray(2, recordsAt(log)) : undefined;
    if (current === undefined || !sameText(current, cause.topic)) {
      topic = encoder.encode(cause.topic);
      // Kafka topic names are at most 249 characters: longer is never seen, and is not kept.
      if (topic.length > 255) { topic = undefined; cause = undefined; }
      // The records already there name another topic: they go. (None named, none go.)
      else if (current !== undefined && current.length > 0) count = 0;
    }
  }
  if (!state.hOwned || topic !== undefined) {
    const head = topic ?? (log ? log.subarray(2, recordsAt(log)) : new Uint8Array(0));
    const own = Buffer.alloc(2 + head.length + RECENT_TRANSITIONS * RECORD_BYTES);
    own[1] = head.length;
    own.set(head, 2);
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
  b.writeUInt32BE(audience, p);
  const kind = cause === undefined ? CAUSE_NONE : 'line' in cause ? CAUSE_LINE : CAUSE_KAFKA;
  b[p + 4] = (enter ? 1 : 0) | (REASONS.indexOf(reason) << 1) | (kind << 4);
  b.writeDoubleBE(at, p + 8);
  b.writeUInt32BE(version, p + 16);
  b.writeUInt32BE(cause !== undefined && !('line' in cause) ? cause.partition : 0, p + 20);
  b.writeDoubleBE(cause === undefined ? 0 : 'line' in cause ? cause.line : Number(cause.offset), p + 24);
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
  const topic = decoder.decode(log.subarray(2, recordsAt(log)));
  const v = view(log);
  const out: Transition[] = [];
  for (let i = 0, p = recordsAt(log); i < log[0]!; i++, p += RECORD_BYTES) {
    const audience = audiences[v.getUint32(p)];
    if (audience === undefined) continue;
    const flags = log[p + 4]!;
    const t: Transition = {
      audience, type: (flags & 1) === 1 ? 'enter' : 'leave', at: v.getFloat64(p + 8), version: v.getUint32(p + 16),
      reason: REASONS[(flags >> 1) & 7] ?? 'event',
    };
    const kind = flags >> 4;
    if (kind === CAUSE_LINE) t.cause = { line: v.getFloat64(p + 24) };
    else if (kind === CAUSE_KAFKA) t.cause = { topic, partition: v.getUint32(p + 20), offset: String(v.getFloat64(p + 24)) };
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
  const head = recordsAt(log);
  const v = view(log);
  const keep: number[] = [];
  for (let i = 0, p = head; i < log[0]!; i++, p += RECORD_BYTES) if ((map[v.getUint32(p)] ?? -1) >= 0) keep.push(p);
  if (keep.length === 0) return undefined;
  const out = new Uint8Array(head + keep.length * RECORD_BYTES);
  out.set(log.subarray(0, head));
  out[0] = keep.length;
  const o = view(out);
  keep.forEach((from, k) => {
    const to = head + k * RECORD_BYTES;
    out.set(log.subarray(from, from + RECORD_BYTES), to);
    o.setUint32(to, map[v.getUint32(from)]!);
  });
  return out;
}

/** Whether bytes are a transition log as written here (a state of another format carries something else under `h`). */
export function isTransitionLog(b: Uint8Array): boolean {
  return b.length >= 2 && b.length === 2 + b[1]! + b[0]! * RECORD_BYTES;
}

/** Whether UTF-8 bytes spell `text`: the common case (ASCII, equal) without decoding. */
function sameText(bytes: Uint8Array, text: string): boolean {
  if (bytes.length !== text.length) return decoder.decode(bytes) === text;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== text.charCodeAt(i)) return decoder.decode(bytes) === text;
  return true;
}

