/**
 * A client for the Confluent Schema Registry REST API (v1), as also served by
 * Karapace, Redpanda and Apicurio (under /apis/ccompat/v7). Only what aud
 * needs: a schema by id, registering a schema under a subject, a subject's
 * latest version. Uses the global fetch.
 *
 * Schema ids are immutable, so parsed avsc Types are cached by id for the life
 * of the client, and concurrent look-ups of one id share one request. Schema
 * references (a schema naming types registered under other subjects) are
 * followed and parsed first.
 *
 * Every failure is a RegistryError that says what happened and what to do;
 * `retriable` tells a network problem or a 5xx (try again) from a 404 or a 401
 * (don't).
 */
import { RegistryError } from './errors.js';
import { parseAvroSchema, schemaText, type Type } from './avro-types.js';

export interface RegistryClientOptions {
  /**
   * Base URL: `http://host:8081`, or with a path prefix (`http://host:8080/apis/ccompat/v7`).
   * Credentials in the URL (`http://user:pass@host:8081`) are taken as basic auth.
   */
  url: string;
  /** Basic auth, as `user:password` or an object. */
  auth?: string | { username: string; password: string };
  /** Per request; default 10 s. */
  fetchTimeoutMs?: number;
  /** Extra headers for every request. */
  headers?: Record<string, string>;
}

export interface RegisteredSchema {
  id: number;
  /** The schema's JSON text as the registry holds it. */
  schema: string;
  type: Type;
}

export interface SubjectVersion extends RegisteredSchema {
  subject: string;
  version: number;
}

interface SchemaReference { name: string; subject: string; version: number }

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const ACCEPT = 'application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json';

export class SchemaRegistryClient {
  /** The base URL without credentials and without a trailing slash. */
  readonly url: string;
  private readonly authHeader?: string;
  private readonly timeoutMs: number;
  private readonly extraHeaders: Record<string, string>;
  private readonly byId = new Map<number, Promise<RegisteredSchema>>();
  private readonly typeById = new Map<number, Type>();
  private readonly registered = new Map<string, Promise<number>>();

  constructor(opts: RegistryClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(opts.url);
    } catch {
      throw new RegistryError('bad-options', `schema registry URL "${opts.url}" is not a URL: use http://host:8081`, { retriable: false });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new RegistryError('bad-options', `schema registry URL "${opts.url}" must be http:// or https://`, { retriable: false });
    }
    let auth = opts.auth;
    if (parsed.username || parsed.password) {
      auth ??= `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
      parsed.username = '';
      parsed.password = '';
    }
    if (auth !== undefined) {
      const pair = typeof auth === 'string' ? auth : `${auth.username}:${auth.password}`;
      if (!pair.includes(':')) {
        throw new RegistryError('bad-options', 'schema registry auth must be "user:password"', { retriable: false });
      }
      this.authHeader = `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
    }
    this.url = parsed.toString().replace(/\/+$/, '');
    this.timeoutMs = opts.fetchTimeoutMs ?? 10_000;
    if (!(this.timeoutMs > 0)) {
      throw new RegistryError('bad-options', `fetchTimeoutMs must be positive, got ${opts.fetchTimeoutMs}`, { retriable: false });
    }
    this.extraHeaders = opts.headers ?? {};
  }

  /** GET /schemas/ids/{id}; parsed and cached. A failed look-up is not cached. */
  getSchemaById(id: number): Promise<RegisteredSchema> {
    if (!Number.isInteger(id) || id < 0) {
      return Promise.reject(new RegistryError('bad-options', `schema id ${id} is not a non-negative integer`, { retriable: false }));
    }
    let p = this.byId.get(id);
    if (!p) {
      p = this.fetchById(id);
      this.byId.set(id, p);
      p.then((s) => this.typeById.set(id, s.type), () => this.byId.delete(id));
    }
    return p;
  }

  /** The parsed type of schema `id` if it is already cached, without a request. */
  cachedType(id: number): Type | undefined {
    return this.typeById.get(id);
  }

  /**
   * POST /subjects/{subject}/versions: register `schema` (or find it, if the
   * subject already has it) and return its id. Cached per subject and schema.
   * Give the schema as JSON text or an object: a parsed Type is exported by
   * avsc, which keeps logicalType but drops attributes such as decimal's
   * precision and scale.
   */
  register(subject: string, schema: string | object | Type): Promise<number> {
    let text: string;
    let type: Type;
    try {
      type = parseAvroSchema(schema);
      // The schema as written (compact): avsc's own export drops attributes it does not model
      // (decimal precision and scale, unknown logical types), so a Type is the last resort.
      text = typeof schema === 'string' ? JSON.stringify(JSON.parse(schema))
        : schema === type ? schemaText(type) : JSON.stringify(schema);
    } catch (err) {
      return Promise.reject(new RegistryError('bad-options', `the schema to register under "${subject}" is not a valid Avro schema: ${(err as Error).message}`, { retriable: false, cause: err }));
    }
    const key = `${subject}\u0000${text}`;
    let p = this.registered.get(key);
    if (!p) {
      p = (async () => {
        const body = await this.request('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schema: text }, `registering a schema under subject "${subject}"`);
        const id = (body as { id?: unknown } | null)?.id;
        if (typeof id !== 'number' || !Number.isInteger(id)) {
          throw this.badResponse(`registering under "${subject}"`, body);
        }
        this.byId.set(id, Promise.resolve({ id, schema: text, type }));
        this.typeById.set(id, type);
        return id;
      })();
      this.registered.set(key, p);
      p.catch(() => this.registered.delete(key));
    }
    return p;
  }

  /** GET /subjects/{subject}/versions/latest. Not cached: the latest version changes. */
  async latest(subject: string): Promise<SubjectVersion> {
    const s = await this.subjectVersion(subject, 'latest');
    const cached = this.typeById.get(s.id);
    if (cached) return { ...s, type: cached };
    return s;
  }

  private async fetchById(id: number): Promise<RegisteredSchema> {
    const body = await this.request('GET', `/schemas/ids/${id}`, undefined, `fetching schema id ${id}`);
    const b = body as { schema?: unknown; schemaType?: unknown; references?: unknown } | null;
    if (typeof b?.schema !== 'string') throw this.badResponse(`fetching schema id ${id}`, body);
    if (b.schemaType !== undefined && b.schemaType !== 'AVRO') {
      throw new RegistryError('bad-schema', `schema id ${id} in the registry at ${this.url} is ${String(b.schemaType)}, not AVRO: the topic's producers write another format`, { retriable: false });
    }
    const type = await this.parse(b.schema, refsOf(b.references), `schema id ${id}`);
    return { id, schema: b.schema, type };
  }

  private async subjectVersion(subject: string, version: number | 'latest', registry?: Record<string, Type>): Promise<SubjectVersion> {
    const what = `fetching version ${version} of subject "${subject}"`;
    const body = await this.request('GET', `/subjects/${encodeURIComponent(subject)}/versions/${version}`, undefined, what);
    const b = body as { id?: unknown; version?: unknown; schema?: unknown; schemaType?: unknown; references?: unknown } | null;
    if (typeof b?.schema !== 'string' || typeof b.id !== 'number' || typeof b.version !== 'number') throw this.badResponse(what, body);
    if (b.schemaType !== undefined && b.schemaType !== 'AVRO') {
      throw new RegistryError('bad-schema', `subject "${subject}" version ${b.version} in the registry at ${this.url} is ${String(b.schemaType)}, not AVRO`, { retriable: false });
    }
    const type = await this.parse(b.schema, refsOf(b.references), `subject "${subject}" version ${b.version}`, registry);
    return { subject, version: b.version, id: b.id, schema: b.schema, type };
  }

  /** Parse a schema after the schemas it references, all into one avsc registry of named types. */
  private async parse(schema: string, refs: SchemaReference[], what: string, registry: Record<string, Type> = {}): Promise<Type> {
    for (const ref of refs) {
      await this.subjectVersion(ref.subject, ref.version, registry);
    }
    try {
      return parseAvroSchema(schema, registry);
    } catch (err) {
      throw new RegistryError('bad-schema', `${what} from the registry at ${this.url} is not a valid Avro schema: ${(err as Error).message}`, { retriable: false, cause: err });
    }
  }

  private async request(method: 'GET' | 'POST', path: string, body: unknown, what: string): Promise<unknown> {
    const url = this.url + path;
    const headers: Record<string, string> = { accept: ACCEPT, ...this.extraHeaders };
    if (this.authHeader) headers['authorization'] = this.authHeader;
    if (body !== undefined) headers['content-type'] = CONTENT_TYPE;
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === 'TimeoutError' || e.name === 'AbortError') {
        throw new RegistryError('timeout', `the schema registry at ${this.url} did not answer within ${this.timeoutMs} ms (${what}): check that it is up, or raise fetchTimeoutMs`, { retriable: true, cause: err });
      }
      const detail = e.cause?.code ?? e.cause?.message ?? e.message;
      throw new RegistryError('unreachable', `the schema registry at ${this.url} is unreachable (${what}): ${detail}; check the registry URL and that the registry is running`, { retriable: true, cause: err });
    }
    let json: unknown = undefined;
    if (text !== '') {
      try { json = JSON.parse(text); } catch { /* handled below */ }
    }
    if (res.ok) {
      if (json === undefined) throw this.badResponse(what, text);
      return json;
    }
    throw this.httpError(res.status, json, text, what);
  }

  private httpError(status: number, json: unknown, text: string, what: string): RegistryError {
    const j = json as { error_code?: unknown; message?: unknown } | undefined;
    const errorCode = typeof j?.error_code === 'number' ? j.error_code : undefined;
    const said = typeof j?.message === 'string' ? j.message : text.slice(0, 200).trim() || `HTTP ${status}`;
    const base = `the schema registry at ${this.url} answered ${status} to ${what}: ${said}`;
    const opts = { status, ...(errorCode !== undefined ? { errorCode } : {}) };
    if (status === 401 || status === 403) {
      return new RegistryError('auth', `${base}; ${this.authHeader ? 'check the registry user and password' : 'the registry needs credentials: give basic auth as user:password'}`, { ...opts, retriable: false });
    }
    if (status === 404) {
      const hint = errorCode === 40401 ? 'no schema was ever registered under that subject (the default subject is <topic>-value)'
        : errorCode === 40403 ? 'the record names a schema id this registry does not have: is it the registry the producers use?'
        : 'is the URL the registry\'s base URL (for Apicurio: http://host:8080/apis/ccompat/v7)?';
      return new RegistryError('not-found', `${base}; ${hint}`, { ...opts, retriable: false });
    }
    if (status === 409) {
      return new RegistryError('incompatible', `${base}; the schema is not compatible with the subject's earlier versions under its compatibility level: change the schema, or the subject's compatibility setting`, { ...opts, retriable: false });
    }
    if (status === 422) {
      return new RegistryError('invalid', `${base}; the registry rejects the schema as invalid`, { ...opts, retriable: false });
    }
    if (status === 429 || status >= 500) {
      return new RegistryError('server', `${base}; a registry-side failure, worth retrying`, { ...opts, retriable: true });
    }
    return new RegistryError('http', base, { ...opts, retriable: false });
  }

  private badResponse(what: string, body: unknown): RegistryError {
    let shown = typeof body === 'string' ? body : JSON.stringify(body);
    if (shown && shown.length > 200) shown = shown.slice(0, 197) + '...';
    return new RegistryError('bad-response', `the schema registry at ${this.url} sent an unexpected answer to ${what}: ${shown || '(empty)'}; is the URL a Confluent-compatible registry?`, { retriable: false });
  }
}

function refsOf(v: unknown): SchemaReference[] {
  if (!Array.isArray(v)) return [];
  return v.filter((r): r is SchemaReference =>
    r !== null && typeof r === 'object' && typeof r.subject === 'string' && typeof r.version === 'number');
}
