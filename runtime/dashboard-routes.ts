/**
 * The dashboard of a running engine (`aud run --http PORT`, then open
 * http://HOST:PORT/): the page, its files, and the data routes only it uses.
 *
 *   GET /                      the page (runtime/dashboard/index.html)
 *   GET /dashboard/FILE        its script and style, and uPlot's (from node_modules)
 *   GET /sizes[?since=MS]      every audience's size per minute over the last 24 h,
 *                              with the minute's enters and leaves (size-history.ts)
 *   GET /events                the live tail of enter/leave events, server-sent events (event-tail.ts)
 *   GET /partitions            each owned partition: offsets, lag, clock, timers, state size
 *
 * The page's files hold no data and are served to whoever reaches the port.
 * The data routes are the query API's, behind its token like the rest
 * (http-access.ts): the page asks for the token on a 401 and sends it in
 * the Authorization header, the live tail included (read with fetch, not
 * EventSource, which cannot send headers), never in a URL.
 *
 * The files are read from the package's source folder, next to the compiled
 * module's (tsc does not copy them): dist/runtime/ → runtime/dashboard/.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { EventTail } from './event-tail.js';
import type { SizePoint } from './size-history.js';

/** What the dashboard's data routes ask the engine (KafkaRuntime implements it). */
export interface DashboardBackend {
  readonly sizeHistory: { points(since?: number): SizePoint[] };
  readonly eventTail: EventTail;
  partitionStates(): Promise<PartitionState[]>;
}

/** One owned partition, as `GET /partitions` answers it. Offsets are strings: they may pass 2^53. */
export interface PartitionState {
  topic: string;
  partition: number;
  /** Its last record read has reached the input's end: on the wall clock now. */
  caughtUp: boolean;
  /** The next input offset, applied in memory. */
  appliedOffset: string | null;
  /** The next input offset whose state is committed: a restart reads again from here. */
  committedOffset: string | null;
  /** The input partition's end as of the last batch. */
  highWatermark: string | null;
  /** Records not yet applied. */
  lag: number | null;
  /** The partition's clock (ISO); null before its first event. */
  clock: string | null;
  /** Customers with a timer scheduled. */
  pendingTimers: number;
  /** Customers changed since the last commit. */
  pendingCustomers: number;
  largestStateBytes: number;
  /** Bytes on disk of its RocksDB store. */
  stateBytes: number;
  /** Fingerprint of the rules it runs. */
  rules: string;
  /** A rule change is being rolled out and has not reached this partition yet. */
  deploying: boolean;
}

export const DASHBOARD_ROUTES = ['/', '/sizes', '/events', '/partitions'];

const dashboardDir = fileURLToPath(new URL('../../runtime/dashboard/', import.meta.url));
const requireHere = createRequire(import.meta.url);

/** The files the page loads, by path: a fixed list, so no request names a file of its choosing. */
const FILES: Record<string, { path: () => string; type: string }> = {
  '/': { path: () => `${dashboardDir}index.html`, type: 'text/html; charset=utf-8' },
  '/dashboard/dashboard.js': { path: () => `${dashboardDir}dashboard.js`, type: 'text/javascript; charset=utf-8' },
  '/dashboard/dashboard.css': { path: () => `${dashboardDir}dashboard.css`, type: 'text/css; charset=utf-8' },
  '/dashboard/uPlot.iife.min.js': { path: () => requireHere.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/uPlot.min.css': { path: () => requireHere.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/**
 * Only the page's own files and its own origin: nothing is loaded from
 * elsewhere. uPlot sizes its elements with inline styles.
 */
const CONTENT_SECURITY_POLICY = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

/** The page's files, without the token; false for any other path. */
export async function serveDashboardFile(pathname: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const file = FILES[pathname];
  if (!file) return false;
  const body = await readFile(file.path());
  res.writeHead(200, {
    'content-type': file.type, 'content-length': body.length, 'cache-control': 'no-cache',
    'content-security-policy': CONTENT_SECURITY_POLICY, 'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

/** The dashboard's data routes (the caller has checked the token); false for any other path. */
export async function routeDashboardData(backend: DashboardBackend, url: URL, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  if (url.pathname === '/sizes') {
    const since = Number(url.searchParams.get('since') ?? '-Infinity');
    json(res, 200, { minuteMs: 60_000, points: backend.sizeHistory.points(Number.isNaN(since) ? -Infinity : since) });
  } else if (url.pathname === '/partitions') {
    json(res, 200, { partitions: await backend.partitionStates() });
  } else if (url.pathname === '/events') {
    tail(backend.eventTail, req, res);
  } else {
    return false;
  }
  return true;
}

/** Server-sent events until the client goes away (or the server closes every connection at stop). */
function tail(eventTail: EventTail, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    // A reverse proxy (nginx) would otherwise hold the events back to fill its buffer.
    'x-accel-buffering': 'no',
  });
  res.write('retry: 3000\n: connected\n\n');
  const leave = eventTail.subscribe({
    // A connection closing may still be subscribed for a moment: nothing is written to it once it ended.
    write: (text) => !res.writableEnded && !res.destroyed && res.write(text),
    onDrain: (listener) => res.on('drain', listener),
  });
  req.on('close', leave);
  res.on('close', leave);
  res.on('error', leave);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
