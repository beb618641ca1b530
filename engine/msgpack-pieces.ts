/**
 * The few pieces of MessagePack the customer state codec writes and reads by
 * hand (customer-state.ts): it copies each unchanged slot's bytes from the
 * last encoding instead of encoding the slot again, so it writes the maps
 * around them itself.
 */

const utf8 = new TextEncoder();

function u16(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

/** A string, MessagePack-encoded. */
export function msgpackString(s: string): Uint8Array {
  const text = utf8.encode(s);
  const n = text.length;
  const head = n < 32 ? [0xa0 | n] : n < 0x100 ? [0xd9, n] : n < 0x10000 ? [0xda, n >> 8, n & 0xff] : [0xdb, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(head.length + n);
  out.set(head, 0);
  out.set(text, head.length);
  return out;
}

/** The bytes of a map header for `entries` entries. */
export function msgpackMapHeaderBytes(entries: number): number {
  return entries < 16 ? 1 : entries < 0x10000 ? 3 : 5;
}

/** Write a map header for `entries` entries at `p`; returns the position after it. */
export function writeMsgpackMapHeader(out: Uint8Array, p: number, entries: number): number {
  if (entries < 16) { out[p] = 0x80 | entries; return p + 1; }
  if (entries < 0x10000) { out[p] = 0xde; out[p + 1] = entries >> 8; out[p + 2] = entries & 0xff; return p + 3; }
  out[p] = 0xdf;
  out[p + 1] = entries >>> 24; out[p + 2] = (entries >> 16) & 0xff; out[p + 3] = (entries >> 8) & 0xff; out[p + 4] = entries & 0xff;
  return p + 5;
}

/**
 * The string that starts at `p` (a map key), and where it ends. ASCII text,
 * what slot ids and the state's own keys are, is read without a decoder.
 */
export function msgpackReadString(b: Uint8Array, p: number): { text: string; end: number } {
  const t = b[p]!;
  let from: number;
  let n: number;
  if (t >= 0xa0 && t <= 0xbf) { n = t & 0x1f; from = p + 1; }
  else if (t === 0xd9) { n = b[p + 1]!; from = p + 2; }
  else if (t === 0xda) { n = u16(b, p + 1); from = p + 3; }
  else if (t === 0xdb) { n = u32(b, p + 1); from = p + 5; }
  else throw new Error(`MessagePack: expected a string at byte ${p}, found 0x${t.toString(16)}`);
  const end = from + n;
  if (end > b.length) throw new Error(`MessagePack string cut short: it ends at byte ${end} of ${b.length}`);
  let ascii = n <= 64;
  for (let i = from; ascii && i < end; i++) if (b[i]! >= 0x80) ascii = false;
  const text = ascii ? String.fromCharCode.apply(null, b.subarray(from, end) as unknown as number[]) : utf8Decoder.decode(b.subarray(from, end));
  return { text, end };
}

const utf8Decoder = new TextDecoder();
