/**
 * `aud run` with `format avro`: the value decoder for the engine, built from
 * `--avro-schema` / `--schema-registry`, after the start-up check of the
 * declared events against the schema (connectors/avro/check-schema.ts).
 *
 * A check that fails is a configuration error: start-up stops with every
 * problem listed. A registry that does not answer at start-up is waited for,
 * like Kafka; one that refuses (bad credentials, a bad URL) is an error.
 */
import type { Plan } from '../dsl/plan.js';
import type { Logger } from '../engine/log.js';
import type { ValueDecoder } from '../engine/value-decoder.js';

export interface AvroFlags {
  avroSchema?: string;
  schemaRegistry?: string;
}

/** Start-up cannot go on: the message says what is wrong and what to do. */
export class AvroStartupError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'AvroStartupError';
  }
}

/** Undefined for a JSON source; throws AvroStartupError when the flags do not fit the source or the check fails. */
export async function avroValueDecoder(plan: Plan, inputTopic: string, flags: AvroFlags, log: Logger): Promise<ValueDecoder | undefined> {
  if (plan.source.format !== 'avro') {
    if (flags.avroSchema !== undefined || flags.schemaRegistry !== undefined) {
      throw new AvroStartupError(`--avro-schema / --schema-registry are given, but the source block reads format json: add \`format avro\` to the source block, or drop those flags`);
    }
    return undefined;
  }
  if (flags.avroSchema === undefined && flags.schemaRegistry === undefined) {
    throw new AvroStartupError('the source is format avro, but no schema was given: pass --avro-schema FILE.avsc (values are plain Avro binary written with it), ' +
      '--schema-registry URL (values are in the Confluent wire format), or both (the file is then the reader schema)');
  }
  const { AvroSchemaError, AvroValueDecoder, openAvroInput, RegistryError, SchemaRegistryClient } = await import('../connectors/avro/index.js');
  let registry: InstanceType<typeof SchemaRegistryClient> | undefined;
  if (flags.schemaRegistry !== undefined) {
    try {
      registry = new SchemaRegistryClient({ url: flags.schemaRegistry });
    } catch (err) {
      throw new AvroStartupError((err as Error).message, { cause: err });
    }
  }
  for (let n = 1; ; n++) {
    try {
      const input = await openAvroInput(plan, {
        ...(flags.avroSchema !== undefined ? { schemaFile: flags.avroSchema } : {}),
        ...(registry ? { registry } : {}),
        subject: `${inputTopic}-value`,
      });
      for (const w of input.warnings) log.warn(`Avro: ${w}`);
      const description = registry
        ? `Avro (Confluent wire format, registry ${registry.url}${flags.avroSchema !== undefined ? `, reader schema ${flags.avroSchema}` : ''})`
        : `Avro (plain binary, schema ${flags.avroSchema})`;
      log.info('Avro input: the declared events fit the schema', { checkedAgainst: input.checkedAgainst ?? 'nothing yet (per record)', values: description });
      return new AvroValueDecoder(input.decoder, description);
    } catch (err) {
      if (err instanceof AvroSchemaError) throw new AvroStartupError(err.message, { cause: err });
      if (!(err instanceof RegistryError) || !err.retriable) {
        throw new AvroStartupError(err instanceof RegistryError ? err.message : `Avro: ${(err as Error).message}`, { cause: err });
      }
      const delayMs = Math.min(30_000, 500 * 2 ** Math.min(n, 6));
      log.warn(`waiting for the schema registry at ${registry?.url}; retrying in ${delayMs / 1000} s`, { attempt: n, error: err.message });
      await new Promise((res) => setTimeout(res, delayMs));
    }
  }
}
