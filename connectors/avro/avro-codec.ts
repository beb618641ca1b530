/**
 * Avro in and out.
 *
 * In: AvroInputDecoder turns a Kafka value into the plain object that
 * engine/input-record.ts takes (InputRecord.value), in one of two modes:
 *
 * - plain: values are bare Avro binary written with one known schema, read
 *   from an .avsc file (a record, or a union of records, one per event type);
 * - registry: values are in the Confluent wire format; the writer schema of
 *   each record is fetched from the registry by its id (once: cached). With a
 *   reader schema as well (an .avsc file), writer schemas are resolved to it
 *   by the Avro rules (added fields get defaults, removed ones disappear), so
 *   the engine sees one shape whatever the producers' versions.
 *
 * A record that cannot be read throws AvroDecodeError, whose `reason` goes in
 * the dead-letter header. A registry that cannot be reached throws
 * RegistryError (retriable): that is no fault of the record, so it must not be
 * dead-lettered.
 *
 * Out: AvroOutputEncoder writes enter/leave events (engine/output-event.ts)
 * with the schema in segment-event.avsc, registered under `<topic>-value` and
 * framed in the wire format when a registry is used, bare Avro binary when not.
 */
import type { MembershipEvent, OutputEvent } from '../../engine/output-event.js';
import { AvroDecodeError, AvroEncodeError, RegistryError } from './errors.js';
import { parseAvroSchema, plainConverter, type Type } from './avro-types.js';
import type { SchemaRegistryClient } from './registry-client.js';
import { SEGMENT_EVENT_SCHEMA } from './segment-event-schema.js';
import { asBuffer, decodeConfluent, encodeAvro, frameConfluent } from './wire-format.js';

type Resolver = ReturnType<Type['createResolver']>;

/**
 * Where the registry mode gets writer schemas: a SchemaRegistryClient, or
 * anything with the same two methods (getSchemaById rejecting with
 * RegistryError 'not-found' for an unknown id).
 */
export interface WriterSchemas {
  /** Named in error reasons. */
  readonly url: string;
  getSchemaById(id: number): Promise<{ type: Type }>;
  /** The type of `id` if it is at hand without waiting. */
  cachedType(id: number): Type | undefined;
}

/** How to read one writer schema id: its decoded shape, or why records with it cannot be read. */
type ReadPlan =
  | { ok: true; type: Type; resolver?: Resolver; convert: (v: unknown) => unknown; label: string }
  | { ok: false; error: AvroDecodeError };

/** Unknown ids are asked for again after this long (the producer may register late). */
const UNKNOWN_ID_RETRY_MS = 60_000;

export class AvroInputDecoder {
  readonly mode: 'plain' | 'registry';
  /** The reader schema: the plain mode's schema, or the registry mode's optional one. */
  readonly readerType?: Type;
  private readonly registry?: WriterSchemas;
  private readonly plans = new Map<number, ReadPlan & { at: number }>();
  private readonly plainConvert?: (v: unknown) => unknown;

  private constructor(mode: 'plain' | 'registry', readerType?: Type, registry?: WriterSchemas) {
    this.mode = mode;
    if (readerType) {
      this.readerType = readerType;
      this.plainConvert = plainConverter(readerType);
    }
    if (registry) this.registry = registry;
  }

  /** Bare Avro binary written with `schema` (JSON text, schema object or parsed type). */
  static plain(schema: string | object | Type): AvroInputDecoder {
    return new AvroInputDecoder('plain', parseAvroSchema(schema));
  }

  /** Confluent wire format; writer schemas from `registry`, resolved to `readerSchema` if given. */
  static withRegistry(registry: WriterSchemas, readerSchema?: string | object | Type): AvroInputDecoder {
    return new AvroInputDecoder('registry', readerSchema !== undefined ? parseAvroSchema(readerSchema) : undefined, registry);
  }

  /**
   * Decode one value. Throws AvroDecodeError for a bad record, RegistryError
   * when the registry cannot answer (retry later; do not dead-letter).
   */
  async decode(bytes: Uint8Array): Promise<Record<string, unknown>> {
    if (this.mode === 'plain') return this.decodePlain(bytes);
    const { schemaId, payload } = decodeConfluent(bytes);
    const plan = this.cachedPlan(schemaId) ?? await this.loadPlan(schemaId);
    return this.read(plan, schemaId, payload);
  }

  /**
   * Decode without waiting, when possible: undefined if the record's writer
   * schema is not loaded yet (then call decode(), or prefetch() the batch).
   * Throws AvroDecodeError for a bad record.
   */
  decodeSync(bytes: Uint8Array): Record<string, unknown> | undefined {
    if (this.mode === 'plain') return this.decodePlain(bytes);
    const { schemaId, payload } = decodeConfluent(bytes);
    const plan = this.cachedPlan(schemaId);
    return plan ? this.read(plan, schemaId, payload) : undefined;
  }

  /**
   * Load the writer schemas of a batch of values (one request per unknown id),
   * so that decodeSync() then decodes all of them. Values that are not in the
   * wire format are left for decode to report. Throws RegistryError if the
   * registry cannot be reached.
   */
  async prefetch(values: Iterable<Uint8Array | null | undefined>): Promise<void> {
    if (this.mode === 'plain') return;
    const ids = new Set<number>();
    for (const v of values) {
      if (!v || v.length < 5 || v[0] !== 0) continue;
      const id = asBuffer(v).readUInt32BE(1);
      if (!this.cachedPlan(id)) ids.add(id);
    }
    await Promise.all([...ids].map((id) => this.loadPlan(id)));
  }

  private decodePlain(bytes: Uint8Array): Record<string, unknown> {
    const type = this.readerType!;
    let value: unknown;
    try {
      value = type.fromBuffer(asBuffer(bytes));
    } catch (err) {
      throw new AvroDecodeError('bad-payload', `Avro: does not decode with the schema ${label(type)}: ${oneLine((err as Error).message)}`, { cause: err });
    }
    return asRecord(this.plainConvert!(value), label(type));
  }

  private read(plan: ReadPlan, schemaId: number, payload: Buffer): Record<string, unknown> {
    if (!plan.ok) throw plan.error;
    let value: unknown;
    try {
      value = this.readerType
        ? this.readerType.fromBuffer(payload, plan.resolver)
        : plan.type.fromBuffer(payload);
    } catch (err) {
      throw new AvroDecodeError('bad-payload', `Avro: does not decode with writer schema id ${schemaId} (${plan.label}): ${oneLine((err as Error).message)}`, { schemaId, cause: err });
    }
    return asRecord(plan.convert(value), `schema id ${schemaId} (${plan.label})`, schemaId);
  }

  private cachedPlan(id: number): ReadPlan | undefined {
    const p = this.plans.get(id);
    if (p) {
      if (!p.ok && p.error.code === 'unknown-schema' && Date.now() - p.at > UNKNOWN_ID_RETRY_MS) {
        this.plans.delete(id);
        return undefined;
      }
      return p;
    }
    // The client may already hold the type (registered by us, or fetched for another decoder).
    const type = this.registry!.cachedType(id);
    return type ? this.makePlan(id, type) : undefined;
  }

  private async loadPlan(id: number): Promise<ReadPlan> {
    let type: Type;
    try {
      type = (await this.registry!.getSchemaById(id)).type;
    } catch (err) {
      if (err instanceof RegistryError && (err.code === 'not-found' || err.code === 'bad-schema')) {
        const error = new AvroDecodeError(err.code === 'not-found' ? 'unknown-schema' : 'bad-payload',
          err.code === 'not-found' && (err.errorCode === undefined || err.errorCode === 40403)
            ? `Avro: schema id ${id} is not in the registry at ${this.registry!.url}`
            : `Avro: writer schema id ${id} cannot be used: ${oneLine(err.message)}`,
          { schemaId: id, cause: err });
        const plan: ReadPlan = { ok: false, error };
        this.plans.set(id, { ...plan, at: Date.now() });
        return plan;
      }
      throw err;
    }
    return this.makePlan(id, type);
  }

  private makePlan(id: number, writer: Type): ReadPlan {
    let plan: ReadPlan;
    if (this.readerType) {
      try {
        const resolver = this.readerType.createResolver(writer);
        plan = { ok: true, type: writer, resolver, convert: this.plainConvert!, label: label(writer) };
      } catch (err) {
        plan = { ok: false, error: new AvroDecodeError('incompatible-schema',
          `Avro: writer schema id ${id} (${label(writer)}) cannot be read as the reader schema ${label(this.readerType)}: ${oneLine((err as Error).message)}`,
          { schemaId: id, cause: err }) };
      }
    } else {
      plan = { ok: true, type: writer, convert: plainConverter(writer), label: label(writer) };
    }
    this.plans.set(id, { ...plan, at: Date.now() });
    return plan;
  }
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ');
  return t.length > 300 ? t.slice(0, 297) + '...' : t;
}

function label(t: Type): string {
  return t.name ?? t.typeName;
}

function asRecord(v: unknown, what: string, schemaId?: number): Record<string, unknown> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)) return v as Record<string, unknown>;
  const got = v === null ? 'null' : Array.isArray(v) ? 'an array' : Buffer.isBuffer(v) ? 'bytes' : typeof v;
  throw new AvroDecodeError('not-a-record', `Avro: the value decoded with ${what} is ${got}, not a record`, schemaId !== undefined ? { schemaId } : {});
}

export interface AvroOutputOptions {
  /** The output topic; names the subject `<topic>-value` when a registry is used. */
  topic?: string;
  /** Register the schema here and frame values in the Confluent wire format. */
  registry?: SchemaRegistryClient;
  /** Overrides `<topic>-value`. */
  subject?: string;
}

/** Encodes enter/leave events with the schema of segment-event.avsc. */
export class AvroOutputEncoder {
  readonly type: Type;
  /** The registry's id of the output schema; undefined without a registry (bare Avro binary). */
  readonly schemaId?: number;
  readonly subject?: string;

  private constructor(type: Type, schemaId?: number, subject?: string) {
    this.type = type;
    if (schemaId !== undefined) this.schemaId = schemaId;
    if (subject !== undefined) this.subject = subject;
  }

  /** Registers the schema first when `registry` is given (throws RegistryError if it cannot). */
  static async create(opts: AvroOutputOptions = {}): Promise<AvroOutputEncoder> {
    const type = parseAvroSchema(SEGMENT_EVENT_SCHEMA);
    if (!opts.registry) return new AvroOutputEncoder(type);
    const subject = opts.subject ?? (opts.topic !== undefined ? `${opts.topic}-value` : undefined);
    if (subject === undefined) {
      throw new AvroEncodeError('the Avro output needs the output topic (or a subject) to register its schema under <topic>-value');
    }
    const id = await opts.registry.register(subject, SEGMENT_EVENT_SCHEMA);
    return new AvroOutputEncoder(type, id, subject);
  }

  encode(e: OutputEvent): Buffer {
    // `aud run` refuses --output-format avro for rules with decisions (their events have no Avro schema yet).
    if (e.type === 'decision') throw new AvroEncodeError('a decision event has no Avro schema: run rules with decisions with --output-format json');
    const payload = encodeAvro(this.type, toAvroEvent(e));
    return this.schemaId === undefined ? payload : frameConfluent(this.schemaId, payload);
  }
}

/** The Avro value of an output event (cause: one nullable record; ksqlDB and Kafka Connect read nullable unions only). */
export function toAvroEvent(e: MembershipEvent): Record<string, unknown> {
  let cause: Record<string, unknown> | null = null;
  if (e.cause) {
    cause = 'line' in e.cause
      ? { topic: null, partition: null, offset: null, line: e.cause.line }
      : { topic: e.cause.topic, partition: e.cause.partition, offset: e.cause.offset, line: null };
  }
  return { type: e.type, audience: e.audience, customer: e.customer, at: e.at, version: e.version, reason: e.reason, cause };
}

/** The other way: a decoded SegmentEvent (plain, as AvroInputDecoder gives it) as an OutputEvent. */
export function fromAvroEvent(v: Record<string, unknown>): MembershipEvent {
  const e: MembershipEvent = {
    type: v['type'] as MembershipEvent['type'],
    audience: v['audience'] as string,
    customer: v['customer'] as string,
    at: v['at'] as string,
    version: v['version'] as number,
    reason: v['reason'] as OutputEvent['reason'],
  };
  const c = v['cause'] as Record<string, unknown> | null | undefined;
  if (c) {
    e.cause = typeof c['line'] === 'number'
      ? { line: c['line'] }
      : { topic: c['topic'] as string, partition: c['partition'] as number, offset: c['offset'] as string };
  }
  return e;
}
