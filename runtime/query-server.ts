/**
 * The query API of a running engine (`aud run --http PORT`), plain HTTP/JSON:
 *
 *   GET /health              200 while the process runs
 *   GET /ready               200 once every owned partition is open and caught up, else 503 with why
 *   GET /customers/ID        traits, scores, memberships and last transitions of a customer; one
 *                            of another member's partitions is asked of the group's other members
 *                            (runtime/query-forwarding.ts); 404 when none knows the customer
 *   GET /customers/ID/why    why the customer is in or out of each audience (engine/customer-why.ts):
 *                            every part of each rule with its value, what decided it, when it next
 *                            changes, the last transitions; found, forwarded and 404 as /customers/ID
 *   GET /audiences           members per audience over the owned partitions
 *   GET /audiences/NAME      one audience's size (404 with a suggestion for an unknown name)
 *   GET /metrics             Prometheus text format
 *   GET /, /sizes, /events, /partitions   the dashboard (dashboard-routes.ts)
 *
 * Access: runtime/http-access.ts (loopback by default; a bearer token and
 * optionally TLS beyond it).
 *
 * A process answers for a customer whichever member owns the customer's
 * partition. `/audiences` covers the partitions this process owns and says
 * which, so a caller sums over the group.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { closest } from '../dsl/suggest.js';
import type { Logger } from '../engine/log.js';
import type { CustomerWhy } from '../engine/customer-why.js';
import type { CustomerView } from '../engine/partition-task.js';
import { DASHBOARD_ROUTES, routeDashboardData, serveDashboardFile, type DashboardBackend } from './dashboard-routes.js';
import { authorized, OPEN_ROUTES, type HttpAccess } from './http-access.js';
import { askOtherMembers, FORWARDED_HEADER, queryAddressOf } from './query-forwarding.js';

/** What the server asks the engine (KafkaRuntime implements it). */
export interface QueryBackend extends DashboardBackend {
  readiness(): { ready: boolean; reason?: string; partitions: { partition: number; caughtUp: boolean }[] };
  audienceSizes(): { sizes: Record<string, number>; partitions: number[]; partitionCount: number };
  customerView(customer: string): Promise<{ partition: number; view: CustomerView } | undefined>;
  customerWhy(customer: string): Promise<CustomerWhy | undefined>;
  groupMembers(): Promise<{ clientId: string; host: string; partitions: number[] }[]>;
  metricsText(): Promise<{ contentType: string; body: string }>;
}

export class QueryServer {
  private readonly server: Server;
  private backend: QueryBackend | undefined;
  /** This process's query address as the group's other members reach it (HOST:PORT). */
  private advertised: string | undefined;

  /** Listening may start before the engine exists (its port goes into the client id): until `serve`, every route answers 503. */
  constructor(log: Logger, private readonly access: HttpAccess = {}) {
    const handle = (req: IncomingMessage, res: ServerResponse): void => {
      this.route(req, res).catch((err: unknown) => {
        // The path names a customer: the log line gives the route only.
        log.error('query API request failed', { route: routeOf(req.url), error: (err as Error).message });
        if (!res.headersSent) json(res, 500, { error: `internal error: ${(err as Error).message}` });
        else res.end();
      });
    };
    this.server = access.tls ? createTlsServer({ cert: access.tls.cert, key: access.tls.key }, handle) : createServer(handle);
  }

  /** `advertised`: HOST:PORT at which the other members reach this process (what its client id carries). */
  serve(backend: QueryBackend, advertised?: string): void {
    this.backend = backend;
    this.advertised = advertised;
  }

  /** Listen on `port` (0: any free port) and resolve with the port bound. */
  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return new Promise((res, rej) => {
      this.server.once('error', rej);
      this.server.listen(port, host, () => {
        this.server.off('error', rej);
        res((this.server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((res) => {
      this.server.close(() => res());
      this.server.closeAllConnections();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(res, 405, { error: `${req.method} is not supported: the query API is read-only (GET)` });
      return;
    }
    if (await serveDashboardFile(url.pathname, req, res)) return;
    if (this.access.token !== undefined && !OPEN_ROUTES.has(url.pathname) && !authorized(req.headers.authorization, this.access.token)) {
      res.setHeader('www-authenticate', 'Bearer realm="aud"');
      json(res, 401, { error: 'this query API needs Authorization: Bearer <token> (the --http-token or AUD_HTTP_TOKEN it was started with)' });
      return;
    }
    const parts = url.pathname.split('/').filter((p) => p.length > 0).map(decodeURIComponent);
    if (!this.backend) {
      json(res, 503, { error: 'the engine is starting' });
      return;
    }
    if (await routeDashboardData(this.backend, url, req, res)) return;
    if (parts.length === 1 && parts[0] === 'health') {
      json(res, 200, { status: 'up' });
    } else if (parts.length === 1 && parts[0] === 'ready') {
      const r = this.backend.readiness();
      json(res, r.ready ? 200 : 503, r);
    } else if (parts.length === 1 && parts[0] === 'metrics') {
      const { contentType, body } = await this.backend.metricsText();
      res.writeHead(200, { 'content-type': contentType });
      res.end(body);
    } else if (parts.length === 1 && parts[0] === 'audiences') {
      json(res, 200, this.backend.audienceSizes());
    } else if (parts.length === 2 && parts[0] === 'audiences') {
      const { sizes, partitions, partitionCount } = this.backend.audienceSizes();
      const name = parts[1]!;
      if (!(name in sizes)) {
        const guess = closest(name, Object.keys(sizes));
        json(res, 404, { error: `no audience "${name}"${guess ? `; did you mean "${guess}"?` : ''}`, audiences: Object.keys(sizes) });
        return;
      }
      json(res, 200, { audience: name, size: sizes[name], partitions, partitionCount });
    } else if (parts.length === 2 && parts[0] === 'customers') {
      await this.customer(this.backend, parts[1]!, 'view', url.pathname + url.search, req, res);
    } else if (parts.length === 3 && parts[0] === 'customers' && parts[2] === 'why') {
      await this.customer(this.backend, parts[1]!, 'why', url.pathname + url.search, req, res);
    } else {
      json(res, 404, { error: `no route ${url.pathname}`, routes: ['/health', '/ready', '/customers/ID', '/customers/ID/why', '/audiences', '/audiences/NAME', '/metrics', ...DASHBOARD_ROUTES] });
    }
  }

  /**
   * `what`: the customer's view (/customers/ID) or why (/customers/ID/why).
   * `path`: the request's path and query, as another member is asked it when this process does not have the customer.
   */
  private async customer(backend: QueryBackend, customer: string, what: 'view' | 'why', path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const found = await ownedAnswer(backend, customer, what);
    if (found) {
      json(res, 200, found);
      return;
    }
    const { partitions: owned, partitionCount } = backend.audienceSizes();
    const ownsAll = partitionCount > 0 && owned.length === partitionCount;
    if (ownsAll) {
      json(res, 404, { error: `no customer "${customer}": this process owns every partition, and none has seen an event of theirs`, ownedPartitions: owned });
      return;
    }
    const others = (await backend.groupMembers().catch(() => undefined))?.filter((m) => m.partitions.some((p) => !owned.includes(p)));
    // A forwarded request is answered from this process's partitions only: asking on would loop.
    const forwarded = req.headers[FORWARDED_HEADER] !== undefined;
    let unreachable: string[] = [];
    if (others && !forwarded) {
      const asked = await askOtherMembers(others, this.advertised, path, this.access);
      if (asked.answer) {
        json(res, 200, { ...asked.answer.body, answeredBy: asked.answer.answeredBy });
        return;
      }
      unreachable = asked.unreachable;
    }
    json(res, 404, {
      error: forwarded
        ? `customer "${customer}" is not in the partitions this process owns (${owned.join(', ') || 'none'})`
        : others === undefined
        ? `customer "${customer}" is not in the partitions this process owns (${owned.join(', ') || 'none'}), and the group's members could not be listed to ask the others: try again`
        : `no member of the group knows customer "${customer}"` +
          (unreachable.length > 0 ? `; could not reach ${unreachable.join(', ')}: it may be there` : '') +
          (others?.some((m) => queryAddressOf(m.clientId) === undefined) ? '; some members serve no query API (start them with --http)' : ''),
      ownedPartitions: owned,
      members: others?.map((m) => ({ partitions: m.partitions, clientId: m.clientId, host: m.host, queryAddress: queryAddressOf(m.clientId) ?? null })) ?? null,
    });
  }
}

/** A customer's view or why from the partitions this process owns; undefined when none has the customer. */
async function ownedAnswer(backend: QueryBackend, customer: string, what: 'view' | 'why'): Promise<object | undefined> {
  if (what === 'why') return backend.customerWhy(customer);
  const found = await backend.customerView(customer);
  return found && { partition: found.partition, ...found.view };
}

/** `/customers/ID` → `/customers/…` (and `/customers/…/why`): routes in logs, never customer ids. */
function routeOf(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0]!;
  if (!path.startsWith('/customers/')) return path;
  return path.endsWith('/why') ? '/customers/…/why' : '/customers/…';
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
