/**
 * The Confluent wire format: one magic byte 0, the schema id as a 4-byte
 * big-endian unsigned integer, then the Avro binary encoding of the value
 * (no container, no schema). Every Confluent-compatible serializer writes it
 * (Confluent's, Karapace, Apicurio in its ccompat mode, Redpanda).
 */
import { AvroDecodeError, AvroEncodeError } from './errors.js';
import type { Type } from './avro-types.js';

export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

/** `[0][id: u32 BE][payload]`. */
export function frameConfluent(schemaId: number, payload: Uint8Array): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0xffff_ffff) {
    throw new AvroEncodeError(`schema id ${schemaId} is not an unsigned 32-bit integer`);
  }
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  out[0] = MAGIC_BYTE;
  out.writeUInt32BE(schemaId, 1);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** Encode `value` with `type` and frame it with `schemaId`. Throws AvroEncodeError if the value does not fit the type. */
export function encodeConfluent(schemaId: number, type: Type, value: unknown): Buffer {
  return frameConfluent(schemaId, encodeAvro(type, value));
}

/** Plain Avro binary of `value`; AvroEncodeError naming the first field that does not fit. */
export function encodeAvro(type: Type, value: unknown): Buffer {
  try {
    return type.toBuffer(value);
  } catch (err) {
    const bad: string[] = [];
    type.isValid(value, { errorHook: (path, v) => { if (bad.length === 0) bad.push(`${path.join('.') || '(value)'} = ${short(v)}`); } });
    const where = bad.length > 0 ? `: ${bad[0]} does not fit` : '';
    throw new AvroEncodeError(`value does not fit the Avro schema ${type.name ?? type.typeName}${where} (${(err as Error).message})`, { cause: err });
  }
}

/** Split a Confluent-framed value into its schema id and Avro payload (a view, not a copy). */
export function decodeConfluent(buf: Uint8Array): { schemaId: number; payload: Buffer } {
  const b = asBuffer(buf);
  if (b.length < HEADER_BYTES) {
    throw new AvroDecodeError('short', `Avro: ${b.length} byte${b.length === 1 ? '' : 's'} is too short for the Confluent wire format (magic byte 0 + 4-byte schema id + Avro payload)`);
  }
  if (b[0] !== MAGIC_BYTE) {
    const c = b[0]!;
    const shown = c >= 0x20 && c < 0x7f ? ` ('${String.fromCharCode(c)}')` : '';
    const hint = c === 0x7b || c === 0x5b ? ': it looks like JSON, but the source says format avro' : '';
    throw new AvroDecodeError('bad-magic', `Avro: not Confluent wire format: first byte is 0x${c.toString(16).padStart(2, '0')}${shown}, expected 0x00${hint}`);
  }
  return { schemaId: b.readUInt32BE(1), payload: b.subarray(HEADER_BYTES) };
}

/** avsc wants Buffers; Kafka clients and tests may hand Uint8Arrays. No copy. */
export function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function short(v: unknown): string {
  let text: string;
  try { text = JSON.stringify(v) ?? String(v); } catch { text = String(v); }
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
}
