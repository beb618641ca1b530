/**
 * Delivering enter/leave and decision events to an HTTP endpoint (a webhook).
 *
 * `send(events)` POSTs the events in order, in batches of up to `batchSize`,
 * one request at a time, each with the body
 *
 *     {"events":[{...},{...}]}
 *
 * and these headers:
 *
 * - `Content-Type: application/json`
 * - `X-Aud-Timestamp`: milliseconds since the epoch when the request was
 *   made (a retry carries a new timestamp and a new signature).
 * - `X-Aud-Signature: sha256=<hex>` (only with a secret): the HMAC-SHA256,
 *   keyed with the secret, of the string `${timestamp}.${body}`: the
 *   X-Aud-Timestamp value, a dot, then the exact body bytes. Signing the
 *   timestamp lets a receiver reject replayed requests (compare it with its
 *   own clock); `verifySignature` below does the check for a receiver.
 * - `Idempotency-Key`: the hex SHA-256 of the body. Retries of one batch carry
 *   the same key, so a receiver that saw it already can acknowledge and drop
 *   the repeat. Delivery is at-least-once, and a batch redelivered after a
 *   restart may be cut differently: receivers that must not apply an event
 *   twice also keep, per audience (or decision) and customer, the highest `version` applied.
 *
 * Failures: network errors, timeouts (`timeoutMs` per attempt, the response
 * body included), 408, 429 and 5xx are retried, up to `maxAttempts` attempts
 * in all, after an exponential backoff (`initialBackoffMs` doubling up to
 * `maxBackoffMs`, with jitter: a random point in the upper half of the step).
 * A `Retry-After` header (seconds or an HTTP date) replaces the backoff, capped
 * at `maxBackoffMs`. Any other status (4xx, 3xx: redirects are not followed)
 * is not retried. A batch that could not be delivered is appended to
 * `deadLetterFile` as JSON Lines, one line per event:
 *
 *     {"at":"2026-...Z","reason":"HTTP 400: ...","status":400,"attempts":1,"event":{...}}
 *
 * and delivery moves on to the next batch. `send` never throws for delivery
 * failures; it throws only when the dead-letter file cannot be written (the
 * events would otherwise be lost) or when the sink was closed mid-retry
 * (`WebhookSinkError` with code `closed`: the batch was neither delivered nor
 * dead-lettered).
 *
 * The secret is never logged, and the URL is logged without credentials or
 * query string.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../../engine/log.js';

export type WebhookErrorCode = 'bad-options' | 'closed' | 'dead-letter';

export class WebhookSinkError extends Error {
  readonly code: WebhookErrorCode;

  constructor(code: WebhookErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'WebhookSinkError';
    this.code = code;
  }
}

export interface WebhookSinkOptions {
  url: string;
  /** HMAC key for X-Aud-Signature; without it requests are not signed. */
  secret?: string;
  /** Events per request (default 500). */
  batchSize?: number;
  /** Attempts per batch, the first included (default 8). */
  maxAttempts?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Per attempt, until the response body is read (default 10 000). */
  timeoutMs?: number;
  /** JSON Lines file that undeliverable events are appended to. */
  deadLetterFile: string;
  /** Extra request headers (authorization, ...); they cannot replace aud's own. */
  headers?: Record<string, string>;
  log: Logger;
}

export interface SendResult {
  /** Events the endpoint acknowledged (2xx). */
  delivered: number;
  /** Events appended to the dead-letter file. */
  deadLettered: number;
  /** Requests made beyond the first of each batch. */
  retries: number;
  /** Requests made in all. */
  requests: number;
}

export interface WebhookStats extends SendResult {
  batches: number;
}

export const SIGNATURE_HEADER = 'X-Aud-Signature';
export const TIMESTAMP_HEADER = 'X-Aud-Timestamp';
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** `sha256=<hex>`: the HMAC-SHA256 of `${timestamp}.${body}` keyed with `secret`. */
export function signatureFor(secret: string, timestamp: string | number, body: string | Uint8Array): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`${timestamp}.`);
  hmac.update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  return `sha256=${hmac.digest('hex')}`;
}

/**
 * For receivers: whether `header` (the X-Aud-Signature value) is the
 * signature of the raw request `body` (the bytes as received, before any JSON
 * parsing) with the X-Aud-Timestamp value `timestamp`. Compares in constant
 * time. With `toleranceMs`, a timestamp further than that from `now` (default
 * Date.now()) fails too, which rejects replayed requests; 5 minutes is usual.
 */
export function verifySignature(
  secret: string,
  timestamp: string | number | undefined,
  body: string | Uint8Array,
  header: string | undefined,
  opts: { toleranceMs?: number; now?: number } = {},
): boolean {
  if (timestamp === undefined || header === undefined) return false;
  const ts = String(timestamp);
  if (!/^\d+$/.test(ts)) return false;
  if (opts.toleranceMs !== undefined && Math.abs((opts.now ?? Date.now()) - Number(ts)) > opts.toleranceMs) return false;
  const expected = Buffer.from(signatureFor(secret, ts, body), 'utf8');
  const given = Buffer.from(header.trim(), 'utf8');
  if (given.length !== expected.length) return false;
  return timingSafeEqual(given, expected);
}

/** The URL as it may appear in logs: no user info, no query string, no fragment. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Retry-After as milliseconds from `now`, or undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

type Attempt =
  | { ok: true }
  | { ok: false; retriable: boolean; reason: string; status?: number; retryAfterMs?: number };

const MAX_REASON_BODY = 200;

export class WebhookSink {
  private readonly url: string;
  private readonly safeUrl: string;
  private readonly batchSize: number;
  private readonly maxAttempts: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;
  private readonly closing = new AbortController();
  /** Dead-letter appends, one after another, so that lines of concurrent batches never interleave. */
  private deadLetterQueue: Promise<void> = Promise.resolve();
  private readonly totals: WebhookStats = { batches: 0, delivered: 0, deadLettered: 0, retries: 0, requests: 0 };

  constructor(private readonly opts: WebhookSinkOptions) {
    let parsed: URL;
    try {
      parsed = new URL(opts.url);
    } catch {
      throw new WebhookSinkError('bad-options', `webhook URL "${redactUrl(opts.url)}" is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new WebhookSinkError('bad-options', `webhook URL must be http:// or https://, not ${parsed.protocol}`);
    }
    this.url = opts.url;
    this.safeUrl = redactUrl(opts.url);
    this.batchSize = positiveInt('batchSize', opts.batchSize ?? 500);
    this.maxAttempts = positiveInt('maxAttempts', opts.maxAttempts ?? 8);
    this.initialBackoffMs = nonNegative('initialBackoffMs', opts.initialBackoffMs ?? 200);
    this.maxBackoffMs = nonNegative('maxBackoffMs', opts.maxBackoffMs ?? 30_000);
    this.timeoutMs = positiveInt('timeoutMs', opts.timeoutMs ?? 10_000);
    if (!opts.deadLetterFile) throw new WebhookSinkError('bad-options', 'a dead-letter file is required');
  }

  /** Totals since the sink was created. */
  get stats(): WebhookStats {
    return { ...this.totals };
  }

  /**
   * Stop retrying: backoff waits end at once and no further attempt starts;
   * a request already in flight completes (or times out). A `send` cut short
   * this way throws `WebhookSinkError('closed')`.
   */
  close(): void {
    this.closing.abort();
  }

  async send(events: readonly unknown[]): Promise<SendResult> {
    const result: SendResult = { delivered: 0, deadLettered: 0, retries: 0, requests: 0 };
    for (let i = 0; i < events.length; i += this.batchSize) {
      const batch = events.slice(i, i + this.batchSize);
      await this.sendBatch(batch, result);
    }
    return result;
  }

  /**
   * Append `events` to the dead-letter file with `reason` (counted in `stats`);
   * also for records that never reach `send` (unreadable input).
   */
  async deadLetter(events: readonly unknown[], reason: string, attempts = 0, status?: number): Promise<void> {
    if (events.length === 0) return;
    const at = new Date().toISOString();
    const text = events
      .map((event) => JSON.stringify({ at, reason, ...(status !== undefined ? { status } : {}), attempts, event }) + '\n')
      .join('');
    const write = this.deadLetterQueue.then(async () => {
      const file = this.opts.deadLetterFile;
      try {
        await mkdir(dirname(file), { recursive: true });
        const fh = await open(file, 'a');
        try {
          await fh.writeFile(text, 'utf8');
          await fh.datasync();
        } finally {
          await fh.close();
        }
      } catch (err) {
        throw new WebhookSinkError('dead-letter', `cannot append ${events.length} undeliverable events to the dead-letter file ${file}: ${(err as Error).message}`, { cause: err });
      }
    });
    this.deadLetterQueue = write.catch(() => undefined);
    await write;
    this.totals.deadLettered += events.length;
  }

  private async sendBatch(events: unknown[], result: SendResult): Promise<void> {
    const body = Buffer.from(JSON.stringify({ events }), 'utf8');
    const idempotencyKey = createHash('sha256').update(body).digest('hex');
    this.totals.batches++;
    let last: Attempt = { ok: false, retriable: false, reason: 'not attempted' };
    let attempt = 0;
    while (attempt < this.maxAttempts) {
      if (this.closing.signal.aborted) throw this.closedError(events.length);
      attempt++;
      if (attempt > 1) { result.retries++; this.totals.retries++; }
      result.requests++; this.totals.requests++;
      last = await this.attempt(body, idempotencyKey);
      if (last.ok) {
        result.delivered += events.length;
        this.totals.delivered += events.length;
        this.opts.log.debug('webhook batch delivered', { url: this.safeUrl, events: events.length, attempts: attempt });
        return;
      }
      if (!last.retriable || attempt >= this.maxAttempts) break;
      const delay = last.retryAfterMs !== undefined ? Math.min(last.retryAfterMs, this.maxBackoffMs) : this.backoff(attempt);
      this.opts.log.warn('webhook delivery failed; retrying', {
        url: this.safeUrl, reason: last.reason, attempt, maxAttempts: this.maxAttempts, retryInMs: delay, events: events.length,
      });
      await this.sleep(delay);
    }
    const reason = last.ok ? '' : last.reason;
    const status = last.ok ? undefined : last.status;
    await this.deadLetter(events, reason, attempt, status);
    result.deadLettered += events.length;
    this.opts.log.error('webhook batch dead-lettered', {
      url: this.safeUrl, reason, attempts: attempt, events: events.length, deadLetterFile: this.opts.deadLetterFile,
    });
  }

  private async attempt(body: Buffer, idempotencyKey: string): Promise<Attempt> {
    const timestamp = String(Date.now());
    const own = new Set(['content-type', TIMESTAMP_HEADER.toLowerCase(), IDEMPOTENCY_HEADER.toLowerCase(), SIGNATURE_HEADER.toLowerCase()]);
    const headers: Record<string, string> = {
      ...Object.fromEntries(Object.entries(this.opts.headers ?? {}).filter(([k]) => !own.has(k.toLowerCase()))),
      'Content-Type': 'application/json',
      [TIMESTAMP_HEADER]: timestamp,
      [IDEMPOTENCY_HEADER]: idempotencyKey,
    };
    if (this.opts.secret !== undefined) headers[SIGNATURE_HEADER] = signatureFor(this.opts.secret, timestamp, body);
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await fetch(this.url, { method: 'POST', headers, body, signal, redirect: 'manual' });
      // Read the body whatever the status: it frees the connection, and explains a failure.
      const text = await res.text();
      if (res.status >= 200 && res.status < 300) return { ok: true };
      const snippet = text.length > MAX_REASON_BODY ? `${text.slice(0, MAX_REASON_BODY)}…` : text;
      const reason = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${snippet.trim() ? `: ${snippet.trim()}` : ''}`;
      const retriable = res.status === 408 || res.status === 429 || res.status >= 500;
      const attempt: Attempt = { ok: false, retriable, reason, status: res.status };
      const after = retryAfterMs(res.headers.get('retry-after'));
      if (retriable && after !== undefined) attempt.retryAfterMs = after;
      return attempt;
    } catch (err) {
      return { ok: false, retriable: true, reason: describeFetchError(err, this.timeoutMs) };
    }
  }

  /** Exponential backoff after the `attempt`-th attempt, with jitter in the upper half of the step. */
  private backoff(attempt: number): number {
    const step = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (attempt - 1));
    return Math.round(step / 2 + Math.random() * (step / 2));
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.closing.signal;
    if (signal.aborted || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve(); };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done);
    });
  }

  private closedError(events: number): WebhookSinkError {
    return new WebhookSinkError('closed', `the webhook sink was closed with a batch of ${events} events neither delivered nor dead-lettered`);
  }
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } } | null;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `timeout: no complete response within ${timeoutMs} ms`;
  const cause = e?.cause;
  if (cause?.message) return `network error: ${cause.message}${cause.code && !cause.message.includes(cause.code) ? ` (${cause.code})` : ''}`;
  return `network error: ${e?.message ?? String(err)}`;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new WebhookSinkError('bad-options', `${name} must be a positive integer, not ${v}`);
  return v;
}

function nonNegative(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 0) throw new WebhookSinkError('bad-options', `${name} must be a number >= 0, not ${v}`);
  return v;
}
