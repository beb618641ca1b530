/**
 * Parsing Avro schemas the one way aud reads them, and turning decoded values
 * into the plain objects the engine takes (engine/input-record.ts).
 *
 * - longs are JS numbers (avsc refuses a long beyond ±2^52 rather than risk rounding it:
 *   the record is then bad, "potential precision loss");
 * - timestamp-millis, timestamp-micros, local-timestamp-millis/-micros → epoch ms;
 *   date (int days) → epoch ms of that day; decimal (bytes or fixed) → number;
 * - unions: `null | T` comes out as the value or null; a union of several
 *   records (one per event type) comes out as the record itself, unwrapped;
 * - records come out as plain objects, enums as their symbol strings.
 */
import avro from 'avsc';

export type Type = avro.Type;

const DAY_MS = 86_400_000;

/** Whether a writer type is one of ours that already yields epoch ms. */
function isTimeFamily(t: Type): boolean {
  return /^logical:(local-)?timestamp-(millis|micros)$|^logical:date$/.test(t.typeName);
}

class TimestampMillisType extends avro.types.LogicalType {
  protected override _fromValue(v: number): number { return v; }
  protected override _toValue(v: unknown): number | undefined {
    if (v instanceof Date) return v.getTime();
    return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
  }
  protected override _resolve(t: Type): ((v: unknown) => unknown) | undefined {
    if (isTimeFamily(t)) return (v) => v;
    if (avro.Type.isType(t, 'long', 'int')) return (v) => this._fromValue(v as number);
    return undefined;
  }
}

class TimestampMicrosType extends avro.types.LogicalType {
  protected override _fromValue(v: number): number { return Math.floor(v / 1000); }
  protected override _toValue(v: unknown): number | undefined {
    if (v instanceof Date) return v.getTime() * 1000;
    return typeof v === 'number' && Number.isInteger(v) ? v * 1000 : undefined;
  }
  protected override _resolve(t: Type): ((v: unknown) => unknown) | undefined {
    if (isTimeFamily(t)) return (v) => v;
    if (avro.Type.isType(t, 'long', 'int')) return (v) => this._fromValue(v as number);
    return undefined;
  }
}

class DateType extends avro.types.LogicalType {
  protected override _fromValue(v: number): number { return v * DAY_MS; }
  protected override _toValue(v: unknown): number | undefined {
    if (v instanceof Date) return Math.floor(v.getTime() / DAY_MS);
    return typeof v === 'number' && Number.isFinite(v) ? Math.floor(v / DAY_MS) : undefined;
  }
  protected override _resolve(t: Type): ((v: unknown) => unknown) | undefined {
    if (isTimeFamily(t)) return (v) => v;
    if (avro.Type.isType(t, 'int')) return (v) => this._fromValue(v as number);
    return undefined;
  }
}

/** decimal → number (two's-complement big-endian unscaled value / 10^scale). Precision beyond a double is lost. */
class DecimalType extends avro.types.LogicalType {
  private readonly scale: number;
  private readonly size?: number;

  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts);
    const s = schema as { scale?: unknown; precision?: unknown };
    const scale = s.scale ?? 0;
    if (!Number.isInteger(s.precision) || (s.precision as number) < 1) throw new Error('decimal needs a positive precision');
    if (!Number.isInteger(scale) || (scale as number) < 0 || (scale as number) > (s.precision as number)) throw new Error('decimal scale must be 0..precision');
    this.scale = scale as number;
    const under = this.underlyingType;
    if (avro.Type.isType(under, 'fixed')) this.size = (under as avro.types.FixedType).size;
    else if (!avro.Type.isType(under, 'bytes')) throw new Error('decimal must be bytes or fixed');
  }

  protected override _fromValue(buf: Buffer): number {
    if (buf.length === 0) return 0;
    let n = 0n;
    for (const b of buf) n = (n << 8n) | BigInt(b);
    if (buf[0]! & 0x80) n -= 1n << BigInt(buf.length * 8);
    return Number(n) / 10 ** this.scale;
  }

  protected override _toValue(v: unknown): Buffer | undefined {
    if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
    let n = BigInt(Math.round(v * 10 ** this.scale));
    const bytes: number[] = [];
    // Minimal two's complement, or sign-extended to the fixed size.
    for (;;) {
      bytes.unshift(Number(n & 0xffn));
      const rest = n >> 8n;
      const done = (rest === 0n && (bytes[0]! & 0x80) === 0) || (rest === -1n && (bytes[0]! & 0x80) !== 0);
      n = rest;
      if (done) break;
    }
    if (this.size !== undefined) {
      if (bytes.length > this.size) return undefined;
      const pad = (bytes[0]! & 0x80) ? 0xff : 0x00;
      while (bytes.length < this.size) bytes.unshift(pad);
    }
    return Buffer.from(bytes);
  }

  protected override _resolve(t: Type): ((v: unknown) => unknown) | undefined {
    if (avro.Type.isType(t, 'logical:decimal')) return (v) => v;
    if (avro.Type.isType(t, 'bytes', 'fixed')) return (v) => this._fromValue(v as Buffer);
    return undefined;
  }
}

export const LOGICAL_TYPES = {
  'timestamp-millis': TimestampMillisType,
  'local-timestamp-millis': TimestampMillisType,
  'timestamp-micros': TimestampMicrosType,
  'local-timestamp-micros': TimestampMicrosType,
  'date': DateType,
  'decimal': DecimalType,
} as unknown as Record<string, new (schema: avro.Schema, opts?: unknown) => avro.types.LogicalType>;

/**
 * Parse a schema (JSON text, a schema object, or an already parsed Type).
 * `registry` carries named types across calls (Confluent schema references).
 */
export function parseAvroSchema(schema: string | object | Type, registry?: Record<string, Type>): Type {
  if (avro.Type.isType(schema)) return schema as Type;
  const obj: unknown = typeof schema === 'string' ? JSON.parse(schema) : schema;
  return avro.Type.forSchema(obj as avro.Schema, {
    logicalTypes: LOGICAL_TYPES,
    // null|T unwrapped; unions of several records wrapped by avsc, unwrapped by toPlain below.
    wrapUnions: 'auto',
    omitRecordMethods: true,
    ...(registry ? { registry } : {}),
  });
}

/** The canonical JSON text of a type's schema (what we send to a registry). */
export function schemaText(type: Type): string {
  return JSON.stringify(type.schema({ exportAttrs: true }));
}

type Conv = (v: unknown) => unknown;

const convCache = new WeakMap<Type, Conv>();

/** A function turning avsc's decoded value of `type` into plain JS (see the header). Cached per type. */
export function plainConverter(type: Type): Conv {
  let c = convCache.get(type);
  if (!c) {
    c = compile(type, new Map()) ?? ((v) => v);
    convCache.set(type, c);
  }
  return c;
}

/** null: the value needs no change. */
function compile(type: Type, pending: Map<Type, { fn: Conv | null }>): Conv | null {
  const seen = pending.get(type);
  if (seen) {
    // A recursive record: call through to the converter once it exists.
    return (v) => (seen.fn ? seen.fn(v) : v);
  }
  const slot: { fn: Conv | null } = { fn: null };
  pending.set(type, slot);
  slot.fn = compileNew(type, pending);
  return slot.fn;
}

function compileNew(type: Type, pending: Map<Type, { fn: Conv | null }>): Conv | null {
  const name = type.typeName;
  if (name === 'record' || name === 'error') {
    const fields = (type as avro.types.RecordType).fields.map((f) => ({ name: f.name, conv: compile(f.type, pending) }));
    const converted = fields.filter((f) => f.conv !== null) as { name: string; conv: Conv }[];
    return (v) => {
      if (v === null || typeof v !== 'object') return v;
      const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
      for (const f of converted) out[f.name] = f.conv(out[f.name]);
      return out;
    };
  }
  if (name === 'union:wrapped') {
    const branches = new Map<string, Conv | null>();
    for (const t of (type as avro.types.WrappedUnionType).types) branches.set(t.branchName!, compile(t, pending));
    return (v) => {
      if (v === null || typeof v !== 'object') return v;
      for (const key in v as Record<string, unknown>) {
        const inner = (v as Record<string, unknown>)[key];
        const conv = branches.get(key);
        return conv ? conv(inner) : inner;
      }
      return v;
    };
  }
  if (name === 'union:unwrapped') {
    // Not ambiguous (avsc wraps those), so at most one branch takes objects and one takes arrays.
    let objConv: Conv | null = null;
    let arrConv: Conv | null = null;
    for (const t of (type as avro.types.UnwrappedUnionType).types) {
      const tn = t.typeName;
      if (tn === 'record' || tn === 'error' || tn === 'map') objConv = compile(t, pending) ?? objConv;
      else if (tn === 'array') arrConv = compile(t, pending) ?? arrConv;
    }
    if (!objConv && !arrConv) return null;
    return (v) => {
      if (Array.isArray(v)) return arrConv ? arrConv(v) : v;
      if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) return objConv ? objConv(v) : v;
      return v;
    };
  }
  if (name === 'array') {
    const item = compile((type as avro.types.ArrayType).itemsType, pending);
    return item ? (v) => (Array.isArray(v) ? v.map(item) : v) : null;
  }
  if (name === 'map') {
    const val = compile((type as avro.types.MapType).valuesType as Type, pending);
    if (!val) return null;
    return (v) => {
      if (v === null || typeof v !== 'object') return v;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = val(x);
      return out;
    };
  }
  // Primitives, enums, fixed, logical types (already converted by avsc through the classes above).
  return null;
}

/** A short human description of an Avro type: `string`, `long (timestamp-millis)`, `enum retail.Kind`, `union [null, string]`. */
export function describeType(type: Type): string {
  const name = type.typeName;
  if (name.startsWith('logical:')) {
    return `${describeType((type as avro.types.LogicalType).underlyingType)} (${name.slice('logical:'.length)})`;
  }
  if (name === 'union:wrapped' || name === 'union:unwrapped') {
    return `union [${(type as avro.types.UnwrappedUnionType).types.map(describeType).join(', ')}]`;
  }
  if (name === 'record' || name === 'error' || name === 'enum' || name === 'fixed') {
    return type.name ? `${name} ${type.name}` : name;
  }
  return name;
}

/** The branches of a union type, or undefined if `type` is not a union. */
export function unionBranches(type: Type): Type[] | undefined {
  const name = type.typeName;
  if (name === 'union:wrapped' || name === 'union:unwrapped') return (type as avro.types.UnwrappedUnionType).types;
  return undefined;
}

export function isRecordType(type: Type): type is avro.types.RecordType {
  return type.typeName === 'record' || type.typeName === 'error';
}
