/**
 * Any member of a consumer group answers for any customer: a request for a
 * customer of a partition this process does not own goes on to the members
 * that own the others, as Kafka Streams users wire by hand with
 * `queryMetadataForKey` and an RPC layer of their own.
 *
 * The members are asked all at once rather than the one whose partition
 * the customer's key hashes to: the input's producer chose the partition,
 * with a partitioner aud cannot know for sure, and groups are a handful of
 * processes. The first member that knows the customer answers; the request
 * it receives is marked forwarded, so it never forwards again.
 */
import type { HttpAccess } from './http-access.js';

/** Set on a forwarded request: the receiver answers from its own partitions only. */
export const FORWARDED_HEADER = 'x-aud-forwarded-by';

export interface QueryMember {
  clientId: string;
  partitions: number[];
}

export interface ForwardedAnswer {
  status: number;
  body: Record<string, unknown>;
  /** The member that answered, as HOST:PORT. */
  answeredBy: string;
}

/** A member's query address: its client id is `aud@HOST:PORT` when it serves the query API. */
export function queryAddressOf(clientId: string): string | undefined {
  return clientId.startsWith('aud@') ? clientId.slice(4) : undefined;
}

/**
 * Ask every other member with a query address for `path`; the first 200
 * wins. Undefined when none knows the customer (or none could be reached:
 * `unreachable` names them).
 */
export async function askOtherMembers(
  members: readonly QueryMember[], self: string | undefined, path: string, access: HttpAccess, timeoutMs = 3000,
): Promise<{ answer?: ForwardedAnswer; unreachable: string[] }> {
  const addresses = [...new Set(members.map((m) => queryAddressOf(m.clientId)).filter((a): a is string => a !== undefined && a !== self))];
  const unreachable: string[] = [];
  const scheme = access.tls ? 'https' : 'http';
  const headers: Record<string, string> = { [FORWARDED_HEADER]: self ?? 'unknown' };
  if (access.token !== undefined) headers.authorization = `Bearer ${access.token}`;
  const asks = addresses.map(async (address): Promise<ForwardedAnswer> => {
    try {
      const res = await fetch(`${scheme}://${address}${path}`, { headers, signal: AbortSignal.timeout(timeoutMs) });
      const body = (await res.json()) as Record<string, unknown>;
      if (res.status !== 200) throw new NotHere();
      return { status: res.status, body, answeredBy: address };
    } catch (err) {
      if (!(err instanceof NotHere)) unreachable.push(address);
      throw err;
    }
  });
  try {
    return { answer: await Promise.any(asks), unreachable };
  } catch {
    return { unreachable };
  }
}

class NotHere extends Error {}
