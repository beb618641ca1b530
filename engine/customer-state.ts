/**
 * Everything the engine keeps about one customer, as one value.
 *
 * One read and one write per customer per batch, whatever number of
 * aggregates and audiences the rules have. In memory, slot states and
 * memberships are arrays indexed by the rules' slots and audiences, so that
 * the hot path reads and writes array cells rather than properties named
 * after them. Stored, slot states are keyed by the slot's stable id (a hash
 * of its canonical text), so a customer's `count(purchase) over 90 days`
 * survives a rule change that keeps it, and memberships by the audience's
 * index in a list stored once per partition (audience-list.ts).
 *
 * Stored under the key `c/<customer id>`, encoded as:
 *
 *     byte 0       0xA2, the format
 *     bytes 1..8   t, the customer's timer, float64 big-endian; NaN for none
 *     bytes 9..    MessagePack of { s, l, m, w, n[, h] }
 *
 *     s   { slot id: state } for each slot holding a state
 *     l   the id of the audience list m and w are indexed by
 *     m   [index, version, ...] for each audience entered at least once;
 *         the version of its last enter/leave, negative when outside
 *     w   [index, instant, ...] for each audience that may change by time alone
 *     n   events applied
 *     h   the last enter/leave transitions, newest first (transition-history.ts);
 *         absent until the customer's first
 *
 * The timer comes first and fixed so that rebuilding the timer index after a
 * restore (runtime/changelog.ts) reads nine bytes per customer instead of
 * decoding every state. MessagePack rather than JSON: encoding a state is the
 * largest cost of a commit, and MessagePack is faster to encode and smaller
 * (docs/decisions/2026-12-04-messagepack-customer-state.md).
 *
 * Encoding is incremental: a decoded or encoded state remembers the bytes it
 * came from and where each slot's entry lies in them, and the next encode
 * copies the bytes of every slot not changed since (slotChanged) instead of
 * encoding it again. An event changes a few of a customer's slots; with
 * hundreds of audiences the customer holds hundreds.
 *
 * States written by earlier versions (0xA1: MessagePack with memberships
 * keyed by audience name; JSON before that) are still read.
 */
import { Packr } from 'msgpackr';
import type { AudienceLists } from './audience-list.js';
import { msgpackMapHeaderBytes, msgpackReadString, msgpackString, writeMsgpackMapHeader } from './msgpack-pieces.js';

export interface CustomerState {
  /** Operator state per slot, by the rules' slot index; undefined: none yet. */
  s: unknown[];
  /**
   * States of slots the rules do not have (rules changed since they were
   * written), as stored (MessagePack), by slot id: carried over unread.
   */
  other: Map<string, Uint8Array> | undefined;
  /**
   * Per audience, in the rules' order: the version of its last enter/leave,
   * positive while inside, negative once left; 0: never entered.
   */
  m: Float64Array;
  /** Per audience: the next instant its value may change by time alone; Infinity: never. */
  w: Float64Array;
  /** The earliest of `w`: when this customer's timer fires; null when none is due. */
  t: number | null;
  /** Events applied to this customer: orders events of equal time by arrival. */
  n: number;
  /** The bytes this state was last decoded from or encoded to, with each slot's place in them. */
  encoded: EncodedSlots | undefined;
  /**
   * The last transitions, newest first, as stored (transition-history.ts),
   * once read or changed; undefined: none, or only in `hBytes` (see
   * storedTransitions).
   */
  h: StoredTransition[] | undefined;
  /** `h`'s MessagePack while unchanged since it was decoded or encoded: copied rather than encoded again. */
  hBytes: Uint8Array | undefined;
}

/**
 * A transition as stored: [audience, 1 enter | 0 leave, at, version,
 * reason code, ...cause], the cause as topic, partition, offset or as a
 * line number. Tuples rather than objects: no key names in every state.
 */
export type StoredTransition = (string | number)[];

/**
 * Where each slot's entry (its key, then its value) lies in a customer's
 * encoded bytes; start -1: not there, or changed since.
 */
export interface EncodedSlots {
  bytes: Uint8Array;
  start: Int32Array;
  end: Int32Array;
  /** Where `m` and `w` lie, one after the other; -1: a membership or wake changed since. */
  membershipsStart: number;
  membershipsEnd: number;
}

export function emptyCustomerState(audiences: number, slots: number): CustomerState {
  return {
    s: new Array<unknown>(slots).fill(undefined), other: undefined,
    m: new Float64Array(audiences), w: new Float64Array(audiences).fill(Infinity), t: null, n: 0, encoded: undefined,
    h: undefined, hBytes: undefined,
  };
}

/** The customer's last transitions as stored, decoding them from the state's bytes on first use. */
export function storedTransitions(state: CustomerState): StoredTransition[] | undefined {
  if (state.h === undefined && state.hBytes !== undefined) state.h = packr.unpack(state.hBytes) as StoredTransition[];
  return state.h;
}

/** Whether the customer is inside audience `i`. */
export function isMember(state: CustomerState, i: number): boolean {
  return state.m[i]! > 0;
}

/** The version of audience `i`'s last enter or leave; 0: never entered. */
export function membershipVersion(state: CustomerState, i: number): number {
  return Math.abs(state.m[i]!);
}

/** Slot `i`'s state has changed (or may have): the next encode encodes it rather than copy its old bytes. */
export function slotChanged(state: CustomerState, i: number): void {
  if (state.encoded) state.encoded.start[i] = -1;
}

/** A membership or a wake (`m`, `w`) has changed: the next encode encodes them rather than copy their old bytes. */
export function membershipsChanged(state: CustomerState): void {
  if (state.encoded) state.encoded.membershipsStart = -1;
}

const FORMAT_V1 = 0xa1;
const FORMAT_V2 = 0xa2;
const HEADER_BYTES = 9;
/** Released states kept for reuse: enough for the customers one batch brings in. */
const SPARE_STATES = 1_000;
/** Plain MessagePack: no shared record structures, so every value decodes on its own. */
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });
const jsonDecoder = new TextDecoder();
const KEY_S = msgpackString('s');
const KEY_L = msgpackString('l');
const KEY_M = msgpackString('m');
const KEY_W = msgpackString('w');
const KEY_N = msgpackString('n');
const KEY_H = msgpackString('h');
/** The body's map header: five entries, six with `h`. */
const BODY_MAP = 0x85;

/** Customer states of one partition's rules: arrays indexed by the rules' slots and by `lists.current`. */
export class CustomerStateCodec {
  private readonly slotIndex = new Map<string, number>();
  private readonly slotKeys: Uint8Array[];
  private readonly listId: Uint8Array;
  /** Scratch: each slot's fresh encoding during one encode. */
  private readonly fresh: (Uint8Array | undefined)[];
  private readonly memberships: MembershipsWriter;
  private readonly spare: CustomerState[] = [];
  private readonly spareOffsets: { start: Int32Array; end: Int32Array }[] = [];

  /** `slotIds`: the rules' slot ids, by slot index. */
  constructor(private readonly lists: AudienceLists, private readonly slotIds: readonly string[]) {
    slotIds.forEach((id, i) => this.slotIndex.set(id, i));
    this.slotKeys = slotIds.map(msgpackString);
    this.listId = Buffer.from(packr.pack(lists.current.id));
    this.fresh = new Array<Uint8Array | undefined>(slotIds.length).fill(undefined);
    this.memberships = new MembershipsWriter(lists.current.names.length);
  }

  get audiences(): number { return this.lists.current.names.length; }

  /** A state with nothing in it, on the arrays of a released one when there is one. */
  empty(): CustomerState {
    const spare = this.spare.pop();
    if (!spare) return emptyCustomerState(this.audiences, this.slotIds.length);
    spare.s.fill(undefined);
    spare.m.fill(0);
    spare.w.fill(Infinity);
    if (spare.encoded && this.spareOffsets.length < SPARE_STATES) this.spareOffsets.push(spare.encoded);
    return { s: spare.s, other: undefined, m: spare.m, w: spare.w, t: null, n: 0, encoded: undefined, h: undefined, hBytes: undefined };
  }

  /**
   * A state no longer used (its customer left the record cache): its arrays
   * serve the next customer decoded. With a thousand audiences they are
   * kilobytes a customer, allocated outside the JS heap, and a partition
   * decodes and drops customers all the time.
   */
  release(state: CustomerState): void {
    if (this.spare.length < SPARE_STATES) this.spare.push(state);
  }

  /** Slot offset arrays for a decoded state, -1 everywhere. */
  private offsets(): { start: Int32Array; end: Int32Array } {
    const spare = this.spareOffsets.pop();
    if (!spare) return { start: new Int32Array(this.slotIds.length).fill(-1), end: new Int32Array(this.slotIds.length) };
    spare.start.fill(-1);
    return spare;
  }

  encode(state: CustomerState): Uint8Array {
    const { s } = state;
    const old = state.encoded;
    const fresh = this.fresh;
    let entries = 0;
    let size = 0;
    for (let i = 0; i < s.length; i++) {
      const value = s[i];
      if (value === undefined) continue;
      entries++;
      if (old && old.start[i]! >= 0) size += old.end[i]! - old.start[i]!;
      else {
        const bytes = packr.pack(value);
        fresh[i] = bytes;
        size += this.slotKeys[i]!.length + bytes.length;
      }
    }
    const otherKeys: Uint8Array[] = [];
    if (state.other) {
      for (const [id, bytes] of state.other) {
        const key = msgpackString(id);
        otherKeys.push(key);
        entries++;
        size += key.length + bytes.length;
      }
    }
    // `m` and `w`, with their keys, as one run of bytes: copied when unchanged.
    const membershipsKept = old !== undefined && old.membershipsStart >= 0;
    const membershipsLength = membershipsKept ? old.membershipsEnd - old.membershipsStart : this.memberships.write(state.m, state.w);
    const n = packr.pack(state.n);
    const h = state.hBytes ?? (state.h === undefined ? undefined : packr.pack(state.h));
    size += HEADER_BYTES + 1 + KEY_S.length + msgpackMapHeaderBytes(entries)
      + KEY_L.length + this.listId.length + membershipsLength + KEY_N.length + n.length
      + (h === undefined ? 0 : KEY_H.length + h.length);

    const out = Buffer.allocUnsafe(size);
    out[0] = FORMAT_V2;
    out.writeDoubleBE(state.t ?? Number.NaN, 1);
    let p = HEADER_BYTES;
    out[p++] = h === undefined ? BODY_MAP : BODY_MAP + 1;
    out.set(KEY_S, p); p += KEY_S.length;
    p = writeMsgpackMapHeader(out, p, entries);
    const start = old?.start ?? new Int32Array(s.length).fill(-1);
    const end = old?.end ?? new Int32Array(s.length);
    const source = old ? asBuffer(old.bytes) : undefined;
    // Unchanged slots next to each other in the old bytes are copied as one run.
    let runFrom = 0;
    let runTo = 0;
    let runOut = 0;
    for (let i = 0; i < s.length; i++) {
      if (s[i] === undefined) { start[i] = -1; continue; }
      const bytes = fresh[i];
      if (bytes) {
        if (runTo > runFrom) { source!.copy(out, runOut, runFrom, runTo); runFrom = runTo; }
        start[i] = p;
        const key = this.slotKeys[i]!;
        out.set(key, p); p += key.length;
        out.set(bytes, p); p += bytes.length;
        end[i] = p;
        fresh[i] = undefined;
        continue;
      }
      const from = start[i]!;
      const to = end[i]!;
      if (from !== runTo || runTo === runFrom) {
        if (runTo > runFrom) source!.copy(out, runOut, runFrom, runTo);
        runFrom = from;
        runOut = p;
      }
      runTo = to;
      start[i] = p;
      p += to - from;
      end[i] = p;
    }
    if (runTo > runFrom) source!.copy(out, runOut, runFrom, runTo);
    if (state.other) {
      let k = 0;
      for (const bytes of state.other.values()) {
        const key = otherKeys[k++]!;
        out.set(key, p); p += key.length;
        out.set(bytes, p); p += bytes.length;
      }
    }
    out.set(KEY_L, p); p += KEY_L.length;
    out.set(this.listId, p); p += this.listId.length;
    const membershipsStart = p;
    if (membershipsKept) source!.copy(out, p, old.membershipsStart, old.membershipsEnd);
    else this.memberships.copyTo(out, p);
    p += membershipsLength;
    const membershipsEnd = p;
    out.set(KEY_N, p); p += KEY_N.length;
    out.set(n, p); p += n.length;
    if (h !== undefined) {
      out.set(KEY_H, p); p += KEY_H.length;
      out.set(h, p);
      // The state's own bytes, not the encoder's buffer, are what it keeps.
      state.hBytes = out.subarray(p, p + h.length);
    }
    state.encoded = { bytes: out, start, end, membershipsStart, membershipsEnd };
    return out;
  }

  decode(bytes: Uint8Array): CustomerState {
    if (bytes[0] === FORMAT_V2) return this.decodeV2(bytes);
    const old = bytes[0] === FORMAT_V1 ? packr.unpack(bytes.subarray(HEADER_BYTES)) as NamedState : JSON.parse(jsonDecoder.decode(bytes)) as NamedState;
    return this.fromNamed(old, customerTimer(bytes));
  }

  /**
   * The body is read value by value rather than unpacked whole, so that the
   * place of each slot's value (and of `m` and `w`) in `bytes` is kept for
   * the next encode; states of other rules' slots are kept as bytes.
   * Every V2 body starts with `s`, as encode writes it.
   */
  private decodeV2(bytes: Uint8Array): CustomerState {
    const state = this.empty();
    state.t = customerTimer(bytes);
    const { start, end } = this.offsets();
    const top = new MapReader(bytes, HEADER_BYTES);
    if (top.entries === 0 || top.key() !== 's') throw new Error('customer state: the body does not start with its slot states (s); it was not written by aud');
    const slots = new MapReader(bytes, top.p);
    // Keys and values, in order: the slot states', then the body's other entries'.
    const slotValues = 2 * slots.entries;
    const values = slotValues + 2 * (top.entries - 1);
    const base = slots.p;
    let k = 0;
    let key: unknown;
    let keyAt = -1;
    let list: string | undefined;
    let m: number[] = [];
    let w: number[] = [];
    // The `m` entry's place, and the `w` entry's: one run of bytes when `w` directly follows `m`, as encode writes them.
    let mKeyAt = -1;
    let mEnd = -1;
    let wKeyAt = -1;
    let wEnd = -1;
    if (values > 0) {
      packr.unpackMultiple(bytes.subarray(base), (value: unknown, from?: number, to?: number) => {
        const at = base + from!;
        const after = base + to!;
        if (k % 2 === 0) {
          key = value;
          keyAt = at;
          // `h`, last as encode writes it, is left as bytes: only a transition or a why reads it.
          if (key === 'h' && k >= slotValues) { state.hBytes = bytes.subarray(after); k += 2; return false; }
        } else if (k < slotValues) {
          const i = this.slotIndex.get(key as string);
          if (i === undefined) (state.other ??= new Map()).set(key as string, bytes.subarray(at, after));
          else { state.s[i] = value; start[i] = keyAt; end[i] = after; }
        } else if (key === 'l') list = value as string;
        else if (key === 'm') { m = value as number[]; mKeyAt = keyAt; mEnd = after; }
        else if (key === 'w') { w = value as number[]; wKeyAt = keyAt; wEnd = after; }
        else if (key === 'n') state.n = value as number;
        return ++k < values;
      });
    }
    if (k < values) throw new Error(`customer state: the body ends after ${k} of its ${values} keys and values`);
    const map = list === undefined || list === this.lists.current.id ? undefined : this.lists.mapping(list);
    const membershipsRun = map === undefined && list !== undefined && mKeyAt >= 0 && wKeyAt === mEnd;
    state.encoded = { bytes, start, end, membershipsStart: membershipsRun ? mKeyAt : -1, membershipsEnd: membershipsRun ? wEnd : -1 };
    for (let j = 0; j < m.length; j += 2) {
      const i = map ? map[m[j]!]! : m[j]!;
      if (i >= 0) state.m[i] = m[j + 1]!;
    }
    for (let j = 0; j < w.length; j += 2) {
      const i = map ? map[w[j]!]! : w[j]!;
      if (i >= 0) state.w[i] = w[j + 1]!;
    }
    return state;
  }

  /** A state of the earlier formats, keyed by audience name. */
  private fromNamed(old: NamedState, t: number | null): CustomerState {
    const state = this.empty();
    for (const [id, value] of Object.entries(old.s ?? {})) {
      const i = this.slotIndex.get(id);
      if (i !== undefined) state.s[i] = value;
      else (state.other ??= new Map()).set(id, Buffer.from(packr.pack(value)));
    }
    state.n = old.n ?? 0;
    state.t = t;
    const index = this.lists.current.index;
    for (const [name, [inside, version]] of Object.entries(old.m ?? {})) {
      const i = index.get(name);
      if (i !== undefined && version > 0) state.m[i] = inside === 1 ? version : -version;
    }
    for (const [name, wake] of Object.entries(old.w ?? {})) {
      const i = index.get(name);
      if (i !== undefined) state.w[i] = wake;
    }
    return state;
  }
}

/** Bytes as a Buffer, without copying, for Buffer.copy. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Writes `m` and `w` (keys and values) as MessagePack without building the
 * [index, value, ...] arrays first: most commits change a membership or a
 * wake, and with a thousand audiences these are the longest entries.
 */
class MembershipsWriter {
  /** Large enough for every audience in both arrays at their widest (index: 5 bytes, value: 9). */
  private readonly scratch: Buffer;
  private readonly view: DataView;
  private length = 0;

  constructor(audiences: number) {
    this.scratch = Buffer.alloc(2 * (KEY_M.length + 5 + 14 * audiences));
    this.view = new DataView(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength);
  }

  /** Write `m` and `w` into the scratch; returns their length in bytes. */
  write(m: Float64Array, w: Float64Array): number {
    let p = this.writePairs(KEY_M, m, 0, 0);
    p = this.writePairs(KEY_W, w, Infinity, p);
    this.length = p;
    return p;
  }

  copyTo(out: Buffer, at: number): void {
    this.scratch.copy(out, at, 0, this.length);
  }

  /**
   * A key, then [index, value, ...] for the values other than `none`, in
   * one pass: the array header is the 32-bit form, whatever the count, so
   * that the count can be written after the elements.
   */
  private writePairs(key: Uint8Array, values: Float64Array, none: number, p: number): number {
    const b = this.scratch;
    b.set(key, p); p += key.length;
    const header = p;
    p += 5;
    let elements = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v === none) continue;
      p = this.writeNumber(p, i);
      p = this.writeNumber(p, v);
      elements += 2;
    }
    b[header] = 0xdd;
    this.view.setUint32(header + 1, elements);
    return p;
  }

  /** A number as MessagePack: an integer of 32 bits or fewer in its shortest form, anything else as float 64. */
  private writeNumber(p: number, v: number): number {
    const b = this.scratch;
    if (Number.isInteger(v) && v >= -0x80000000 && v <= 0xffffffff) {
      if (v >= 0) {
        if (v < 0x80) { b[p] = v; return p + 1; }
        if (v < 0x10000) { b[p] = 0xcd; this.view.setUint16(p + 1, v); return p + 3; }
        b[p] = 0xce; this.view.setUint32(p + 1, v); return p + 5;
      }
      if (v >= -32) { b[p] = v & 0xff; return p + 1; }
      b[p] = 0xd2; this.view.setInt32(p + 1, v); return p + 5;
    }
    b[p] = 0xcb;
    this.view.setFloat64(p + 1, v);
    return p + 9;
  }
}

/** Reads a MessagePack map's header, then its string keys one by one; the caller moves `p` past each value. */
class MapReader {
  p: number;
  readonly entries: number;

  constructor(private readonly bytes: Uint8Array, at: number) {
    const b = bytes[at]!;
    if (b >= 0x80 && b <= 0x8f) { this.entries = b & 0x0f; this.p = at + 1; }
    else if (b === 0xde) { this.entries = (bytes[at + 1]! << 8) | bytes[at + 2]!; this.p = at + 3; }
    else if (b === 0xdf) { this.entries = ((bytes[at + 1]! << 24) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 8) | bytes[at + 4]!) >>> 0; this.p = at + 5; }
    else throw new Error(`customer state: expected a MessagePack map at byte ${at}, found 0x${b.toString(16)}`);
  }

  key(): string {
    const { text, end } = msgpackReadString(this.bytes, this.p);
    this.p = end;
    return text;
  }
}

/** The 0xA1 and JSON forms: memberships as [1 inside | 0 outside, version] and wakes, by audience name. */
interface NamedState {
  s?: Record<string, unknown>;
  m?: Record<string, [0 | 1, number]>;
  w?: Record<string, number>;
  t?: number | null;
  n?: number;
}

/** The customer's timer without decoding the rest of the state. */
export function customerTimer(bytes: Uint8Array): number | null {
  if (bytes[0] !== FORMAT_V1 && bytes[0] !== FORMAT_V2) return (JSON.parse(jsonDecoder.decode(bytes)) as NamedState).t ?? null;
  const t = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(1);
  return Number.isNaN(t) ? null : t;
}
