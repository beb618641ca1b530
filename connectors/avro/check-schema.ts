/**
 * At start-up: do the rules' declared events fit the Avro schema?
 *
 * The schema is a record (one shape for every event type), or a union of
 * records (one per event type). For each declared event, the record that
 * carries it is the union branch whose type field has that event's name as
 * its default or as its only enum symbol, else whose name is the event's name
 * (`purchase` ↔ `retail.Purchase`, `add_to_cart` ↔ `AddToCart`). If none is,
 * each declared field must be in some branch, with a fitting type.
 *
 * Fitting types (a nullable union `null | T` fits when T does):
 *   number ↔ int, long, float, double, decimal
 *   string ↔ string, enum
 *   bool   ↔ boolean
 *   time   ↔ long timestamp-millis/-micros (or plain long, read as epoch ms), int date, string (ISO-8601)
 *
 * The source block's fields: the type field must be in every record, a
 * string or enum; a key field likewise (string, enum or a number); the time
 * field, if present, must be a time, and if absent the Kafka record timestamp
 * is used (a warning, since the time clause has a default).
 */
import type { FieldType, Plan } from '../../dsl/plan.js';
import type avro from 'avsc';
import { describeType, isRecordType, unionBranches, type Type } from './avro-types.js';

export interface SchemaCheck {
  /** Each a full sentence; any of them should stop the engine from starting. */
  errors: string[];
  /** Worth printing; no reason to stop. */
  warnings: string[];
}

type Fit = 'ok' | 'plain-long-time' | 'no';

/** The errors only: an empty list means the schema fits. */
export function checkEventFields(plan: Pick<Plan, 'source' | 'events'>, schema: Type): string[] {
  return checkEventSchema(plan, schema).errors;
}

export function checkEventSchema(plan: Pick<Plan, 'source' | 'events'>, schema: Type): SchemaCheck {
  const errors: string[] = [];
  const warnings: string[] = [];
  const src = plan.source;

  const branches = unionBranches(schema);
  const records = (branches ?? [schema]).filter((t) => t.typeName !== 'null');
  const schemaName = branches ? `union (${records.map((r) => r.name ?? r.typeName).join(', ')})` : (schema.name ?? schema.typeName);
  const nonRecords = records.filter((r) => !isRecordType(r));
  if (records.length === 0 || nonRecords.length > 0) {
    errors.push(`the Avro schema must be a record, or a union of records (one per event type), but it is ${describeType(schema)}`);
    return { errors, warnings };
  }
  const recs = records as avro.types.RecordType[];
  const where = (r: avro.types.RecordType) => branches ? `the Avro record "${r.name}"` : `the Avro schema "${r.name}"`;

  // The source block.
  for (const r of recs) {
    const tf = r.field(src.typeField);
    if (!tf) {
      errors.push(`source: the type field "${src.typeField}" is not in ${where(r)} (its fields: ${fieldList(r)}); name the right one with \`type <field>\` in the source block`);
    } else if (fit('string', tf.type) === 'no') {
      errors.push(`source: the type field "${src.typeField}" must be a string or an enum, but ${where(r)} has it as ${describeType(tf.type)}`);
    }
    if (src.keyField !== undefined) {
      const kf = r.field(src.keyField);
      if (!kf) {
        errors.push(`source: the key field "${src.keyField}" is not in ${where(r)} (its fields: ${fieldList(r)}); name the right one with \`key <field>\`, or drop \`key\` to use the Kafka message key`);
      } else if (fit('string', kf.type) === 'no' && fit('number', kf.type) === 'no') {
        errors.push(`source: the key field "${src.keyField}" must be a string, an enum or a number, but ${where(r)} has it as ${describeType(kf.type)}`);
      }
    }
    const time = r.field(src.timeField);
    if (!time) {
      warnings.push(`source: the time field "${src.timeField}" is not in ${where(r)}: event times will be the Kafka record timestamps`);
    } else {
      const f = fit('time', time.type);
      if (f === 'no') {
        errors.push(`source: the time field "${src.timeField}" must be a time (long timestamp-millis, or a string in ISO-8601), but ${where(r)} has it as ${describeType(time.type)}`);
      } else if (f === 'plain-long-time') {
        warnings.push(`source: the time field "${src.timeField}" of ${where(r)} is a long without a logical type: read as epoch milliseconds`);
      }
    }
  }

  // The declared events.
  for (const ev of plan.events) {
    const own = branches ? branchFor(ev.name, src.typeField, recs) : recs[0];
    if (own) {
      const tf = own.field(src.typeField);
      const symbols = tf ? enumSymbols(tf.type) : undefined;
      if (symbols && !symbols.includes(ev.name)) {
        errors.push(`event ${ev.name}: the type field "${src.typeField}" of ${where(own)} is an enum without the symbol "${ev.name}" (it has ${symbols.join(', ')}), so no record can be a ${ev.name}`);
        continue;
      }
      for (const f of ev.fields) {
        const af = own.field(f.name);
        if (!af) {
          errors.push(`event ${ev.name} declares ${f.name}: ${f.type}, but ${where(own)} has no field ${f.name} (its fields: ${fieldList(own)})`);
          continue;
        }
        const ft = fit(f.type, af.type);
        if (ft === 'no') {
          errors.push(`event ${ev.name} declares ${f.name}: ${f.type}, but ${where(own)} has ${f.name} as ${describeType(af.type)}${expected(f.type)}`);
        } else if (ft === 'plain-long-time') {
          warnings.push(`event ${ev.name}: field ${f.name} of ${where(own)} is a long without a logical type: read as epoch milliseconds`);
        }
      }
    } else {
      // A union with no branch for this event: each field must fit in some branch.
      const allEnums = recs.map((r) => { const tf = r.field(src.typeField); return tf ? enumSymbols(tf.type) : undefined; });
      if (allEnums.every((s) => s !== undefined && !s.includes(ev.name))) {
        errors.push(`event ${ev.name}: no record of the Avro ${schemaName} can be a ${ev.name}: their type field "${src.typeField}" is an enum without the symbol "${ev.name}"`);
        continue;
      }
      for (const f of ev.fields) {
        const having = recs.filter((r) => r.field(f.name) !== undefined);
        if (having.length === 0) {
          errors.push(`event ${ev.name} declares ${f.name}: ${f.type}, but no record of the Avro ${schemaName} has a field ${f.name} (name a record ${pascal(ev.name)}, or give its "${src.typeField}" field the default "${ev.name}", to say which record is a ${ev.name})`);
          continue;
        }
        if (having.every((r) => fit(f.type, r.field(f.name).type) === 'no')) {
          const seen = having.map((r) => `${describeType(r.field(f.name).type)} in ${r.name}`).join(', ');
          errors.push(`event ${ev.name} declares ${f.name}: ${f.type}, but the Avro ${schemaName} has ${f.name} as ${seen}${expected(f.type)}`);
        }
      }
    }
  }
  return { errors, warnings };
}

/** The union branch for event `name`, if one can be told. */
function branchFor(name: string, typeField: string, recs: avro.types.RecordType[]): avro.types.RecordType | undefined {
  const byDefault = recs.filter((r) => {
    const tf = r.field(typeField);
    if (!tf) return false;
    let d: unknown;
    try { d = tf.defaultValue(); } catch { d = undefined; }
    if (d === name) return true;
    const symbols = enumSymbols(tf.type);
    return symbols !== undefined && symbols.length === 1 && symbols[0] === name;
  });
  if (byDefault.length === 1) return byDefault[0];
  const key = norm(name);
  const byName = recs.filter((r) => norm(shortName(r.name ?? '')) === key);
  return byName.length === 1 ? byName[0] : undefined;
}

function fit(want: FieldType, t: Type): Fit {
  const branches = unionBranches(t);
  if (branches) {
    const nonNull = branches.filter((b) => b.typeName !== 'null');
    if (nonNull.length === 0) return 'no';
    const fits = nonNull.map((b) => fit(want, b));
    if (fits.includes('no')) return 'no';
    return fits.includes('plain-long-time') ? 'plain-long-time' : 'ok';
  }
  const n = t.typeName;
  switch (want) {
    case 'number':
      return ['int', 'long', 'float', 'double', 'logical:decimal', 'logical:timestamp-millis', 'logical:timestamp-micros',
        'logical:local-timestamp-millis', 'logical:local-timestamp-micros', 'logical:date'].includes(n) ? 'ok' : 'no';
    case 'string':
      return n === 'string' || n === 'enum' ? 'ok' : 'no';
    case 'bool':
      return n === 'boolean' ? 'ok' : 'no';
    case 'time':
      if (/^logical:(local-)?timestamp-(millis|micros)$/.test(n) || n === 'logical:date' || n === 'string') return 'ok';
      return n === 'long' ? 'plain-long-time' : 'no';
  }
}

function expected(want: FieldType): string {
  switch (want) {
    case 'number': return ' (a number needs int, long, float, double or decimal)';
    case 'string': return ' (a string needs string or enum)';
    case 'bool': return ' (a bool needs boolean)';
    case 'time': return ' (a time needs long with logicalType timestamp-millis, or an ISO-8601 string)';
  }
}

function enumSymbols(t: Type): string[] | undefined {
  const branches = unionBranches(t);
  const nonNull = branches ? branches.filter((b) => b.typeName !== 'null') : [t];
  if (nonNull.length !== 1 || nonNull[0]!.typeName !== 'enum') return undefined;
  return (nonNull[0] as avro.types.EnumType).symbols;
}

function fieldList(r: avro.types.RecordType): string {
  const names = r.fields.map((f) => f.name);
  return names.length > 12 ? names.slice(0, 12).join(', ') + ', …' : names.join(', ') || 'none';
}

function shortName(full: string): string {
  const i = full.lastIndexOf('.');
  return i < 0 ? full : full.slice(i + 1);
}

function norm(s: string): string {
  return s.toLowerCase().replace(/[_\-.]/g, '');
}

function pascal(s: string): string {
  return s.split(/[_\-]/).map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('');
}
