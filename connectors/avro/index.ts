/**
 * The Avro connector: what the engine calls.
 *
 *   const { decoder, warnings } = await openAvroInput(plan, { schemaFile, registry });
 *   // per record: value = await decoder.decode(bytes)  → InputRecord.value
 *   const encoder = await openAvroOutput({ topic: plan.outputTopic, registry });
 *   // per change: encoder.encode(outputEvent)          → the Kafka value
 *
 * openAvroInput checks the rules' declared events against the schema (the
 * .avsc file, else the latest version registered under `<topic>-value`) and
 * throws AvroSchemaError listing every mismatch.
 */
import { readFile } from 'node:fs/promises';
import type { Plan } from '../../dsl/plan.js';
import { AvroInputDecoder, AvroOutputEncoder } from './avro-codec.js';
import { parseAvroSchema, type Type } from './avro-types.js';
import { checkEventSchema } from './check-schema.js';
import { AvroSchemaError, RegistryError } from './errors.js';
import { SchemaRegistryClient, type RegistryClientOptions } from './registry-client.js';

export { AvroInputDecoder, AvroOutputEncoder, fromAvroEvent, toAvroEvent, type AvroOutputOptions, type WriterSchemas } from './avro-codec.js';
export { checkEventFields, checkEventSchema, type SchemaCheck } from './check-schema.js';
export { AvroDecodeError, AvroEncodeError, AvroSchemaError, RegistryError, type AvroDecodeErrorCode, type RegistryErrorCode } from './errors.js';
export { SchemaRegistryClient, type RegisteredSchema, type RegistryClientOptions, type SubjectVersion } from './registry-client.js';
export { decodeConfluent, encodeConfluent, frameConfluent, MAGIC_BYTE } from './wire-format.js';
export { parseAvroSchema, plainConverter, type Type as AvroType } from './avro-types.js';
export { SEGMENT_EVENT_SCHEMA } from './segment-event-schema.js';
export { AvroValueDecoder } from './value-decoder.js';

export interface AvroSourceOptions {
  /** A .avsc file: the schema of bare Avro values, or with a registry the reader schema. */
  schemaFile?: string;
  /** A registry (client or options): values are in the Confluent wire format. */
  registry?: SchemaRegistryClient | RegistryClientOptions;
  /** The subject checked at start-up when there is no schema file; default `<source topic>-value`. */
  subject?: string;
}

export interface AvroInput {
  decoder: AvroInputDecoder;
  /** Worth printing at start-up (a missing time field, a long read as epoch ms, no schema registered yet). */
  warnings: string[];
  /** What the declared events were checked against, for the start-up log: a file, or `subject X version N (id I)`. */
  checkedAgainst?: string;
}

export function registryClient(r: SchemaRegistryClient | RegistryClientOptions): SchemaRegistryClient {
  return r instanceof SchemaRegistryClient ? r : new SchemaRegistryClient(r);
}

/** Read and parse an .avsc file; AvroSchemaError naming the file if it cannot. */
export async function loadSchemaFile(path: string): Promise<Type> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AvroSchemaError('bad-schema', `cannot read the Avro schema file ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseAvroSchema(text);
  } catch (err) {
    throw new AvroSchemaError('bad-schema', `${path} is not a valid Avro schema: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The input side for a plan with `format avro`: a decoder, after checking the
 * declared events against the schema. Throws AvroSchemaError (no schema, a bad
 * file, mismatches) or RegistryError (registry unreachable, bad credentials).
 */
export async function openAvroInput(plan: Pick<Plan, 'source' | 'events'>, opts: AvroSourceOptions): Promise<AvroInput> {
  if (opts.schemaFile === undefined && opts.registry === undefined) {
    throw new AvroSchemaError('no-schema', 'the source is format avro, but no schema was given: give an .avsc schema file, or a schema registry URL (or both)');
  }
  const warnings: string[] = [];
  let checkType: Type | undefined;
  let checkedAgainst: string | undefined;
  let reader: Type | undefined;
  if (opts.schemaFile !== undefined) {
    reader = await loadSchemaFile(opts.schemaFile);
    checkType = reader;
    checkedAgainst = opts.schemaFile;
  }
  const client = opts.registry !== undefined ? registryClient(opts.registry) : undefined;
  if (client && !checkType) {
    const subject = opts.subject ?? (plan.source.topic !== undefined ? `${plan.source.topic}-value` : undefined);
    if (subject === undefined) {
      warnings.push('no source topic, so no subject to check the declared events against: fields are checked per record only');
    } else {
      try {
        const latest = await client.latest(subject);
        checkType = latest.type;
        checkedAgainst = `subject "${subject}" version ${latest.version} (schema id ${latest.id}) at ${client.url}`;
      } catch (err) {
        if (!(err instanceof RegistryError && err.code === 'not-found')) throw err;
        warnings.push(`no schema is registered under subject "${subject}" at ${client.url} yet: the declared events are checked per record only`);
      }
    }
  }
  if (checkType) {
    const check = checkEventSchema(plan, checkType);
    warnings.push(...check.warnings);
    if (check.errors.length > 0) {
      const n = check.errors.length;
      throw new AvroSchemaError('mismatch',
        `the declared events do not fit the Avro schema (${checkedAgainst}): ${n} problem${n === 1 ? '' : 's'}:\n  - ${check.errors.join('\n  - ')}`,
        { problems: check.errors });
    }
  }
  const decoder = client ? AvroInputDecoder.withRegistry(client, reader) : AvroInputDecoder.plain(reader!);
  return { decoder, warnings, ...(checkedAgainst !== undefined ? { checkedAgainst } : {}) };
}

/** The output side: an encoder for enter/leave events, its schema registered under `<topic>-value` when a registry is given. */
export async function openAvroOutput(opts: { topic?: string; registry?: SchemaRegistryClient | RegistryClientOptions; subject?: string }): Promise<AvroOutputEncoder> {
  return AvroOutputEncoder.create({
    ...(opts.topic !== undefined ? { topic: opts.topic } : {}),
    ...(opts.subject !== undefined ? { subject: opts.subject } : {}),
    ...(opts.registry !== undefined ? { registry: registryClient(opts.registry) } : {}),
  });
}
