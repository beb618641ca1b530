/**
 * Records of one partition as columns: every key and value in one byte
 * array, offsets and lengths in typed arrays. What a restore reads (it
 * handles hundreds of thousands of records a second and keeps none of them
 * as objects): a chunk of any size is a handful of allocations, crosses to a
 * worker thread as a few copies of flat memory, and gives the garbage
 * collector nothing to trace per record.
 *
 * Made from the patched client's packed consume (`consumePacked`,
 * patches/README.md), or, on an unpatched client, from its message objects.
 */
export interface RecordColumns {
  count: number;
  /** The records' key and value bytes. */
  data: Uint8Array;
  /** Record i's key is data[keyStarts[i], keyStarts[i] + keyLengths[i]); length -1: null. Values likewise. */
  keyStarts: Int32Array;
  keyLengths: Int32Array;
  valueStarts: Int32Array;
  valueLengths: Int32Array;
  /** Exact: Kafka offsets stay far below 2^53. */
  offsets: Float64Array;
}

/** What the patched client's consumePacked hands back (lib/kafka-consumer.js, as patched). */
export interface PackedConsume {
  data: Buffer;
  /** Per message: topic index, partition, key length, value length (-1: null). */
  meta: Int32Array;
  /** Per message: offset, timestamp. */
  positions: Float64Array;
  topics: string[];
}

export function emptyColumns(): RecordColumns {
  const none = new Int32Array(0);
  return { count: 0, data: new Uint8Array(0), keyStarts: none, keyLengths: none, valueStarts: none, valueLengths: none, offsets: new Float64Array(0) };
}

/** Columns of a packed consume of one partition. */
export function columnsFromPacked(p: PackedConsume): RecordColumns {
  const count = p.meta.length / 4;
  const c: RecordColumns = {
    count, data: p.data,
    keyStarts: keyStartsOf(p.meta), keyLengths: new Int32Array(count),
    valueStarts: new Int32Array(count), valueLengths: new Int32Array(count),
    offsets: new Float64Array(count),
  };
  for (let i = 0; i < count; i++) {
    const keyLength = p.meta[i * 4 + 2]!;
    c.keyLengths[i] = keyLength;
    c.valueStarts[i] = c.keyStarts[i]! + Math.max(0, keyLength);
    c.valueLengths[i] = p.meta[i * 4 + 3]!;
    c.offsets[i] = p.positions[i * 2]!;
  }
  return c;
}

/** Each message's key start in `data` (each key is followed by its value). */
export function keyStartsOf(meta: Int32Array): Int32Array {
  const count = meta.length / 4;
  const starts = new Int32Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    starts[i] = at;
    at += Math.max(0, meta[i * 4 + 2]!) + Math.max(0, meta[i * 4 + 3]!);
  }
  return starts;
}

/** A record as message objects (and tests) have it. */
export interface RecordObject {
  key?: Buffer | string | null;
  value?: Uint8Array | null;
  offset: number | bigint;
}

/** Columns of message objects (an unpatched client's), their bytes copied. */
export function columnsFromMessages(messages: readonly RecordObject[]): RecordColumns {
  const keys = messages.map((m) => (m.key === undefined || m.key === null ? null : Buffer.isBuffer(m.key) ? m.key : Buffer.from(m.key)));
  let bytes = 0;
  messages.forEach((m, i) => { bytes += (keys[i]?.length ?? 0) + (m.value?.length ?? 0); });
  const data = Buffer.allocUnsafe(bytes);
  const count = messages.length;
  const c: RecordColumns = {
    count, data,
    keyStarts: new Int32Array(count), keyLengths: new Int32Array(count),
    valueStarts: new Int32Array(count), valueLengths: new Int32Array(count),
    offsets: new Float64Array(count),
  };
  let at = 0;
  messages.forEach((m, i) => {
    const key = keys[i];
    c.keyStarts[i] = at;
    c.keyLengths[i] = key ? key.length : -1;
    if (key) at += key.copy(data, at);
    c.valueStarts[i] = at;
    c.valueLengths[i] = m.value ? m.value.length : -1;
    if (m.value) { data.set(m.value, at); at += m.value.length; }
    c.offsets[i] = Number(m.offset);
  });
  return c;
}

/** Records [from, to) of `c`: views, not copies. */
export function sliceColumns(c: RecordColumns, from: number, to: number): RecordColumns {
  return {
    count: to - from, data: c.data,
    keyStarts: c.keyStarts.subarray(from, to), keyLengths: c.keyLengths.subarray(from, to),
    valueStarts: c.valueStarts.subarray(from, to), valueLengths: c.valueLengths.subarray(from, to),
    offsets: c.offsets.subarray(from, to),
  };
}

/** The records of `a` then those of `b`, copied into columns of their own. */
export function concatColumns(a: RecordColumns, b: RecordColumns): RecordColumns {
  if (a.count === 0) return b;
  if (b.count === 0) return a;
  const count = a.count + b.count;
  const c: RecordColumns = {
    count, data: new Uint8Array(spanOf(a) + spanOf(b)),
    keyStarts: new Int32Array(count), keyLengths: new Int32Array(count),
    valueStarts: new Int32Array(count), valueLengths: new Int32Array(count),
    offsets: new Float64Array(count),
  };
  let at = 0;
  let i = 0;
  for (const part of [a, b]) {
    for (let k = 0; k < part.count; k++, i++) {
      const keyLength = part.keyLengths[k]!;
      const valueLength = part.valueLengths[k]!;
      c.keyStarts[i] = at;
      c.keyLengths[i] = keyLength;
      if (keyLength > 0) { c.data.set(part.data.subarray(part.keyStarts[k]!, part.keyStarts[k]! + keyLength), at); at += keyLength; }
      c.valueStarts[i] = at;
      c.valueLengths[i] = valueLength;
      if (valueLength > 0) { c.data.set(part.data.subarray(part.valueStarts[k]!, part.valueStarts[k]! + valueLength), at); at += valueLength; }
      c.offsets[i] = part.offsets[k]!;
    }
  }
  return c;
}

/** Bytes of keys and values of the records of `c` (which may share a larger `data`). */
function spanOf(c: RecordColumns): number {
  let n = 0;
  for (let i = 0; i < c.count; i++) n += Math.max(0, c.keyLengths[i]!) + Math.max(0, c.valueLengths[i]!);
  return n;
}

/** Record i's key, a view of `data`; null for none. */
export function keyAt(c: RecordColumns, i: number): Uint8Array | null {
  const n = c.keyLengths[i]!;
  return n < 0 ? null : c.data.subarray(c.keyStarts[i]!, c.keyStarts[i]! + n);
}

/** Record i's value, a view of `data`; null for none (a tombstone). */
export function valueAt(c: RecordColumns, i: number): Uint8Array | null {
  const n = c.valueLengths[i]!;
  return n < 0 ? null : c.data.subarray(c.valueStarts[i]!, c.valueStarts[i]! + n);
}

/** Every record's key as text (UTF-8), '' for none. */
export function keyTexts(c: RecordColumns): string[] {
  const bytes = Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength);
  const keys = new Array<string>(c.count);
  for (let i = 0; i < c.count; i++) {
    const n = c.keyLengths[i]!;
    keys[i] = n <= 0 ? '' : bytes.toString('utf8', c.keyStarts[i]!, c.keyStarts[i]! + n);
  }
  return keys;
}

/** Whether record i's key is exactly `key`'s bytes. */
export function keyEquals(c: RecordColumns, i: number, key: Uint8Array): boolean {
  if (c.keyLengths[i] !== key.length) return false;
  const start = c.keyStarts[i]!;
  for (let k = 0; k < key.length; k++) if (c.data[start + k] !== key[k]) return false;
  return true;
}
