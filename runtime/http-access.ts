/**
 * Who may ask the query API. It answers customers' traits, scores and
 * memberships: personal data. So it listens on the loopback interface unless
 * told otherwise, and once it listens beyond it, every request but the
 * health and readiness probes (and the dashboard's page files, which hold no
 * data: dashboard-routes.ts) carries `Authorization: Bearer <token>`. TLS,
 * when given a certificate and key, keeps the token and the answers off the
 * wire in clear.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { isIP } from 'node:net';

export interface HttpAccess {
  /** The bearer token every request (but /health and /ready) must carry; none: open. */
  token?: string;
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: Buffer; key: Buffer };
}

/** Routes a load balancer or an orchestrator probes without credentials: they say nothing about customers. */
export const OPEN_ROUTES = new Set(['/health', '/ready']);

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const h = host.replace(/^\[|\]$/g, '');
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./i.test(h);
  return false;
}

/** Why the query API must not start as configured, or undefined. */
export function accessProblem(host: string, access: HttpAccess): string | undefined {
  if (access.token !== undefined && access.token.length < 16) {
    return 'the query API token is shorter than 16 characters: give a long random one (for example `openssl rand -hex 32`)';
  }
  if (!isLoopback(host) && access.token === undefined) {
    return `the query API would listen on ${host}, beyond this machine, with no token, and it answers customers' personal data: ` +
      'set AUD_HTTP_TOKEN (or --http-token) to a long random token, or leave --http-host at 127.0.0.1';
  }
  return undefined;
}

/** Does the request's Authorization header carry the token? Compared in constant time. */
export function authorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  // Hashing first makes the two sides the same length, so their lengths leak nothing either.
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(m[1]!.trim()), digest(token));
}
