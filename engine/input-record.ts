/**
 * From a raw input record to an engine event, or the reason it is bad.
 *
 * A bad record never stops the engine: the caller counts it and reports it
 * (stderr for replay, the dead-letter topic on Kafka) with this reason.
 * Records of event types the rules do not declare are not bad, only of no
 * interest: they are skipped.
 */
import type { FieldType, Plan, Value } from '../dsl/plan.js';

/** Where a record came from, carried into output events and dead letters. */
export type Cause =
  | { topic: string; partition: number; offset: string }
  | { line: number };

/** JSON text (bytes or string), or an object decoded before (Avro). */
export type RecordValue = Uint8Array | string | Record<string, unknown> | null;

/**
 * A record in object form: what files, tests and backfill have. The rules
 * take records as a batch (record-batch.ts, batchOfRecords).
 */
export interface InputRecord {
  /** JSON text (bytes or string). Avro records are decoded to objects before they get here. */
  value: RecordValue;
  /** The Kafka message key, used as the customer id when the source has no `key` field. */
  key?: string | null;
  /** The Kafka record timestamp (ms), used when a record has no time field. */
  timestamp?: number;
  cause?: Cause;
}

export interface EngineEvent {
  /** The customer id; for an `identity` source, set once the identifiers are resolved (identity-graph.ts). */
  customer: string;
  /** An `identity` source's identifiers, by field index (plan.source.identity); null where the record has none. */
  ids?: (string | null)[];
  type: string;
  time: number;
  fields: Record<string, Value>;
  cause?: Cause;
}

/** An `aud.forget` record (customer-lifecycle.md, section 3): erase the customer it names at `time`. */
export interface ForgetRecord {
  /** A keyed source's customer. */
  customer?: string;
  /** An identity source's identifiers, by field index; null where the record has none. */
  ids?: (string | null)[];
  time: number;
  cause?: Cause;
}

/** The type of an erasure record. */
export const FORGET_TYPE = 'aud.forget';

export type Decoded =
  | { kind: 'event'; event: EngineEvent }
  | { kind: 'forget'; forget: ForgetRecord }
  | { kind: 'skipped'; type: string }
  | { kind: 'bad'; reason: string };

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** Epoch ms from a number or an ISO-8601 string; undefined if neither. */
export function parseTime(v: unknown): number | undefined {
  // Beyond ±8.64e15 ms (the year 275760) no Date holds it: such a time could not be written out.
  if (typeof v === 'number') return Number.isFinite(v) && Math.abs(v) <= MAX_TIME_MS ? Math.floor(v) : undefined;
  if (typeof v !== 'string') return undefined;
  const canonical = canonicalUtcTime(v);
  if (canonical !== undefined) return canonical;
  if (ISO_8601.test(v)) {
    const ms = Date.parse(v);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Two (or three, four) ASCII digits of `s` at `i` as a number; NaN if any is not a digit. */
function digits(s: string, i: number, n: number): number {
  let x = 0;
  for (let k = i; k < i + n; k++) {
    const d = s.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return Number.NaN;
    x = x * 10 + d;
  }
  return x;
}

/**
 * `YYYY-MM-DDTHH:MM:SS.sssZ` (what JavaScript's toISOString writes, and most
 * event producers) read digit by digit: the regular expression and
 * Date.parse cost more than the rest of a record's decoding. Anything else,
 * or a field out of its range (a 30th of February, hour 24), is undefined
 * here and left to Date.parse, so that the result is always Date.parse's.
 */
function canonicalUtcTime(s: string): number | undefined {
  if (s.length !== 24 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 ||
    s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58 || s.charCodeAt(19) !== 46 || s.charCodeAt(23) !== 90) return undefined;
  const year = digits(s, 0, 4); const month = digits(s, 5, 2); const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2); const minute = digits(s, 14, 2); const second = digits(s, 17, 2); const ms = digits(s, 20, 3);
  // NaN fails every comparison below. Years below 100 too: Date.UTC reads them as 19xx.
  if (!(year >= 100 && month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59 && ms >= 0)) return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1]!)) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

function describe(v: unknown): string {
  const text = preview(v, 0);
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
}

/**
 * JSON of a value, cut short: no deeper than 20 levels and not much beyond
 * 60 characters, whatever the value holds. Writing out a whole deeply nested
 * value overflows the stack, at a depth that differs between threads.
 */
function preview(v: unknown, depth: number): string {
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (typeof v !== 'object' || v === null) return JSON.stringify(v) ?? String(v);
  if (depth >= 20) return '...';
  const parts: string[] = [];
  let length = 0;
  const entries = Array.isArray(v) ? v.map((x) => [undefined, x] as const) : Object.entries(v);
  for (const [k, x] of entries) {
    const part = (k === undefined ? '' : JSON.stringify(k) + ':') + preview(x, depth + 1);
    parts.push(part);
    length += part.length + 1;
    if (length > 60) break;
  }
  return Array.isArray(v) ? `[${parts.join(',')}]` : `{${parts.join(',')}}`;
}

// Fatal: bytes that are not UTF-8 make a bad record, not a value with U+FFFD in it.
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The largest time a Date can hold, in ms either side of the epoch. */
const MAX_TIME_MS = 8.64e15;

/**
 * Limits on one record, so that a hostile or broken producer costs bounded
 * memory: a value larger than MAX_RECORD_BYTES (Kafka's own default message
 * size) is not parsed, and a declared string field longer than
 * MAX_STRING_CHARS is not kept (it would be a key of a `distinct` or `top`
 * tally, or a trait, in the customer's state for as long as it counts).
 */
export const MAX_RECORD_BYTES = 1024 * 1024;
export const MAX_STRING_CHARS = 64 * 1024;

/**
 * A field of the record itself. A parsed object inherits Object.prototype,
 * whose members (`constructor`, `toString`, ...) are no fields of the
 * record: read through a plain lookup, a field of that name that the record
 * lacks would be a function, and the record dead-lettered (or, for the time
 * field, not given its Kafka timestamp). JSON makes no functions and these
 * fields are rarely objects, so the own-property check costs the common
 * case nothing.
 */
function ownField(o: Record<string, unknown>, name: string): unknown {
  const v = o[name];
  return (typeof v === 'function' || (typeof v === 'object' && v !== null)) && !Object.hasOwn(o, name) ? undefined : v;
}

/** Precomputed per plan: the declared fields of each event type. */
export class RecordDecoder {
  private readonly fields: Map<string, { name: string; type: FieldType }[]>;

  constructor(private readonly plan: Plan) {
    this.fields = new Map(plan.events.map((e) => [e.name, e.fields]));
  }

  /** Whether decode reads the key: only when the source names no key field and no identity fields. */
  get readsKey(): boolean { return this.plan.source.keyField === undefined && this.plan.source.identity === undefined; }

  /**
   * One record: its value, its Kafka key (the customer id when the source
   * names no key field) and timestamp (the time when the record has no time
   * field). The caller adds the event's cause.
   */
  decode(value: RecordValue, key?: string | null, timestamp?: number): Decoded {
    let obj: unknown = value;
    if (obj === null || obj === undefined) return { kind: 'bad', reason: 'empty record (no value)' };
    if (typeof obj === 'string' || obj instanceof Uint8Array) {
      const size = typeof obj === 'string' ? obj.length : obj.byteLength;
      if (size > MAX_RECORD_BYTES) return { kind: 'bad', reason: `record of ${size} bytes is larger than the ${MAX_RECORD_BYTES} a record may have` };
      let text: string;
      try {
        text = typeof obj === 'string' ? obj : decoder.decode(obj);
      } catch {
        return { kind: 'bad', reason: 'not UTF-8 text' };
      }
      try {
        obj = JSON.parse(text);
      } catch (err) {
        return { kind: 'bad', reason: `not JSON: ${(err as Error).message}` };
      }
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      return { kind: 'bad', reason: `not a JSON object: ${describe(obj)}` };
    }
    const o = obj as Record<string, unknown>;
    const src = this.plan.source;

    let customer = '';
    let ids: (string | null)[] | undefined;
    if (src.identity !== undefined) {
      const read = readIdentifiers(o, src.identity);
      if (typeof read === 'string') return { kind: 'bad', reason: read };
      ids = read;
    } else if (src.keyField !== undefined) {
      const k = ownField(o, src.keyField);
      if (typeof k === 'string' && k !== '') customer = k;
      else if (typeof k === 'number' && Number.isFinite(k)) customer = String(k);
      else return { kind: 'bad', reason: k === undefined || k === null || k === ''
        ? `no customer id: field "${src.keyField}" is missing`
        : `customer id field "${src.keyField}" must be a string or number, got ${describe(k)}` };
    } else if (key) {
      customer = key;
    } else {
      return { kind: 'bad', reason: 'no customer id: the record has no key and the source names no key field' };
    }

    const type = ownField(o, src.typeField);
    if (typeof type !== 'string' || type === '') {
      return { kind: 'bad', reason: type === undefined || type === null
        ? `no event type: field "${src.typeField}" is missing`
        : `event type field "${src.typeField}" must be a string, got ${describe(type)}` };
    }
    const declared = this.fields.get(type);
    if (!declared && type !== FORGET_TYPE) return { kind: 'skipped', type };

    let time: number;
    const rawTime = ownField(o, src.timeField);
    if (rawTime === undefined || rawTime === null) {
      if (timestamp === undefined) return { kind: 'bad', reason: `no event time: field "${src.timeField}" is missing` };
      time = timestamp;
    } else {
      const t = parseTime(rawTime);
      if (t === undefined) return { kind: 'bad', reason: `time ${describe(rawTime)} in field "${src.timeField}" does not parse: use epoch milliseconds or ISO-8601` };
      time = t;
    }
    if (!declared) return { kind: 'forget', forget: ids ? { ids, time } : { customer, time } };

    const fields: Record<string, Value> = {};
    for (const f of declared) {
      const v = ownField(o, f.name);
      if (v === undefined || v === null) { fields[f.name] = null; continue; }
      switch (f.type) {
        case 'number':
          if (typeof v !== 'number' || !Number.isFinite(v)) return wrongType(type, f.name, 'a number', v);
          fields[f.name] = v;
          break;
        case 'string':
          if (typeof v !== 'string') return wrongType(type, f.name, 'a string', v);
          if (v.length > MAX_STRING_CHARS) return { kind: 'bad', reason: `field "${f.name}" of ${type} is a string of ${v.length} characters, more than the ${MAX_STRING_CHARS} a field may have` };
          fields[f.name] = v;
          break;
        case 'bool':
          if (typeof v !== 'boolean') return wrongType(type, f.name, 'true or false', v);
          fields[f.name] = v;
          break;
        case 'time': {
          const t = parseTime(v);
          if (t === undefined) return wrongType(type, f.name, 'a time (epoch ms or ISO-8601)', v);
          fields[f.name] = t;
          break;
        }
      }
    }
    const event: EngineEvent = { customer, type, time, fields };
    if (ids) event.ids = ids;
    return { kind: 'event', event };
  }
}

/**
 * An identity source's identifiers of one record, by field index: a string
 * as it is, a number as its decimal text; absent, null and blocked values
 * are none. Returns why the record is bad instead when a value is of
 * another kind, too long, or when the record has no identifier at all.
 */
function readIdentifiers(o: Record<string, unknown>, identity: NonNullable<Plan['source']['identity']>): (string | null)[] | string {
  const ids: (string | null)[] = [];
  let any = false;
  for (const f of identity.fields) {
    const v = ownField(o, f.name);
    let id: string | null;
    if (v === undefined || v === null) id = null;
    else if (typeof v === 'string') id = v;
    else if (typeof v === 'number' && Number.isFinite(v)) id = String(v);
    else return `identifier field "${f.name}" must be a string or number, got ${describe(v)}`;
    if (id !== null && id.length > MAX_STRING_CHARS) return `identifier field "${f.name}" is a string of ${id.length} characters, more than the ${MAX_STRING_CHARS} a field may have`;
    if (id !== null && identity.block.includes(id)) id = null;
    if (id !== null) any = true;
    ids.push(id);
  }
  if (!any) return `no customer identifier: none of the identity fields ${identity.fields.map((f) => `"${f.name}"`).join(', ')} holds a value that is not blocked`;
  return ids;
}

function wrongType(event: string, field: string, expected: string, got: unknown): Decoded {
  return { kind: 'bad', reason: `field "${field}" of ${event} must be ${expected}, got ${describe(got)}` };
}
