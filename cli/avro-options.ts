/**
 * The Avro settings of `aud run`, turned into what the engine takes:
 *
 * - input (`format avro` in the source block): a value decoder, built from
 *   `--avro-schema` / `--schema-registry` after the start-up check of the
 *   declared events against the schema (connectors/avro/check-schema.ts);
 * - output (`--output-format avro`): an encoder of enter/leave events with
 *   connectors/avro/segment-event.avsc, registered under `<output>-value`
 *   when `--schema-registry` is given.
 *
 * A check that fails is a configuration error: start-up stops with every
 * problem listed. A registry that does not answer at start-up is waited for,
 * like Kafka; one that refuses (bad credentials, a bad URL, an incompatible
 * schema) is an error.
 */
import type { Plan } from '../dsl/plan.js';
import type { Logger } from '../engine/log.js';
import type { OutputEvent } from '../engine/output-event.js';
import type { ValueDecoder } from '../engine/value-decoder.js';
import type { SchemaRegistryClient } from '../connectors/avro/index.js';

// connectors/avro is imported when used, so that a JSON deployment never loads avsc.

export interface AvroFlags {
  avroSchema?: string;
  schemaRegistry?: string;
  outputFormat: 'json' | 'avro';
}

/** Start-up cannot go on: the message says what is wrong and what to do. */
export class AvroStartupError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'AvroStartupError';
  }
}

/** The client of `--schema-registry`; AvroStartupError for a URL that is not one. */
async function registryOf(flags: AvroFlags): Promise<SchemaRegistryClient | undefined> {
  if (flags.schemaRegistry === undefined) return undefined;
  const { SchemaRegistryClient } = await import('../connectors/avro/index.js');
  try {
    return new SchemaRegistryClient({ url: flags.schemaRegistry });
  } catch (err) {
    throw new AvroStartupError((err as Error).message, { cause: err });
  }
}

/** Run `attempt` until the registry answers: a registry that is down is waited for, with backoff up to 30 s. */
async function untilRegistryAnswers<T>(registry: SchemaRegistryClient | undefined, log: Logger, attempt: () => Promise<T>): Promise<T> {
  const { RegistryError } = await import('../connectors/avro/index.js');
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof RegistryError) || !err.retriable) throw err;
      const delayMs = Math.min(30_000, 500 * 2 ** Math.min(n, 6));
      log.warn(`waiting for the schema registry at ${registry?.url}; retrying in ${delayMs / 1000} s`, { attempt: n, error: err.message });
      await new Promise((res) => setTimeout(res, delayMs));
    }
  }
}

/** Undefined for a JSON source; throws AvroStartupError when the flags do not fit the source or the check fails. */
export async function avroValueDecoder(plan: Plan, inputTopic: string, flags: AvroFlags, log: Logger): Promise<ValueDecoder | undefined> {
  if (plan.source.format !== 'avro') {
    if (flags.avroSchema !== undefined) {
      throw new AvroStartupError('--avro-schema is given, but the source block reads format json: add `format avro` to the source block, or drop the flag');
    }
    if (flags.schemaRegistry !== undefined && flags.outputFormat !== 'avro') {
      throw new AvroStartupError('--schema-registry is given, but nothing is Avro: the source block reads format json and --output-format is json; ' +
        'add `format avro` to the source block, pass --output-format avro, or drop the flag');
    }
    return undefined;
  }
  if (flags.avroSchema === undefined && flags.schemaRegistry === undefined) {
    throw new AvroStartupError('the source is format avro, but no schema was given: pass --avro-schema FILE.avsc (values are plain Avro binary written with it), ' +
      '--schema-registry URL (values are in the Confluent wire format), or both (the file is then the reader schema)');
  }
  const { AvroSchemaError, AvroValueDecoder, openAvroInput, RegistryError } = await import('../connectors/avro/index.js');
  const registry = await registryOf(flags);
  try {
    return await untilRegistryAnswers(registry, log, async () => {
      const input = await openAvroInput(plan, {
        ...(flags.avroSchema !== undefined ? { schemaFile: flags.avroSchema } : {}),
        ...(registry ? { registry } : {}),
        subject: `${inputTopic}-value`,
      });
      for (const w of input.warnings) log.warn(`Avro: ${w}`);
      const description = registry
        ? `Avro (Confluent wire format, registry ${registry.url}${flags.avroSchema !== undefined ? `, reader schema ${flags.avroSchema}` : ''})`
        : `Avro (plain binary, schema ${flags.avroSchema})`;
      if (input.checkedAgainst !== undefined) log.info('Avro input: the declared events fit the schema', { checkedAgainst: input.checkedAgainst, values: description });
      else log.info('Avro input: nothing to check the declared events against yet; each record is checked as it comes', { values: description });
      return new AvroValueDecoder(input.decoder, description);
    });
  } catch (err) {
    if (err instanceof AvroSchemaError && err.code === 'mismatch') {
      throw new AvroStartupError(`${err.message}\nNothing was read. Change the event declarations (or the source block) to fit the schema, ` +
        'or give the schema the producers write with; `aud explain` shows what the rules declare', { cause: err });
    }
    if (err instanceof AvroSchemaError || err instanceof RegistryError) throw new AvroStartupError(err.message, { cause: err });
    throw new AvroStartupError(`Avro: ${(err as Error).message}`, { cause: err });
  }
}

/** Undefined for JSON output; the enter/leave encoder for `--output-format avro`, its schema registered first when there is a registry. */
export async function avroOutputEncoder(outputTopic: string, flags: AvroFlags, log: Logger): Promise<((event: OutputEvent) => Buffer) | undefined> {
  if (flags.outputFormat !== 'avro') return undefined;
  const { openAvroOutput } = await import('../connectors/avro/index.js');
  const registry = await registryOf(flags);
  try {
    const encoder = await untilRegistryAnswers(registry, log, () => openAvroOutput({ topic: outputTopic, ...(registry ? { registry } : {}) }));
    log.info('Avro output: enter/leave events as aud.SegmentEvent (connectors/avro/segment-event.avsc)', registry
      ? { subject: encoder.subject, schemaId: encoder.schemaId, format: 'Confluent wire format' }
      : { format: 'plain Avro binary (no registry)' });
    return (event) => encoder.encode(event);
  } catch (err) {
    throw new AvroStartupError(`cannot register the output schema: ${(err as Error).message}`, { cause: err });
  }
}
