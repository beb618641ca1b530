/**
 * The live tail of enter/leave events, as server-sent events (`GET /events`):
 * every event the runtime has delivered (acknowledged by the broker;
 * exactly-once: its transaction committed), to every client listening.
 *
 * Memory is bounded per client, whatever the client does: while its socket
 * takes no more (a slow phone, a stalled tab), up to MAX_QUEUED events wait;
 * beyond them events are dropped, counted, and the client is told how many
 * (an `event: dropped` message) once its socket drains. A tail is a view of
 * the output, never its record: the output topic is that.
 *
 * Messages: `data: <the event's JSON, as on the output topic>`, one per
 * event; `event: dropped` with `{"dropped":N}`; a comment line every
 * HEARTBEAT_MS so that proxies and the browser see a live connection.
 */

/** Events that wait for one slow client at most; more are dropped. */
export const MAX_QUEUED = 1_000;
export const HEARTBEAT_MS = 15_000;

/** Where a client's messages go: an HTTP response, in the query API. */
export interface TailSink {
  /** False when the socket's buffer is full: write no more until `onDrain`. */
  write(text: string): boolean;
  onDrain(listener: () => void): void;
}

export class EventTail {
  private readonly clients = new Set<TailClient>();
  private heartbeat: NodeJS.Timeout | undefined;

  /** Is anyone listening? When not, the runtime does not even decode the events. */
  get listening(): boolean {
    return this.clients.size > 0;
  }

  /** A client joins; the function returned removes it (the connection closed). */
  subscribe(sink: TailSink): () => void {
    const client = new TailClient(sink);
    this.clients.add(client);
    if (!this.heartbeat) {
      this.heartbeat = setInterval(() => { for (const c of this.clients) c.heartbeat(); }, HEARTBEAT_MS);
      this.heartbeat.unref();
    }
    return () => {
      this.clients.delete(client);
      if (this.clients.size === 0 && this.heartbeat) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
      }
    };
  }

  /**
   * Events delivered, each its JSON text; `omitted`: more that were
   * delivered but not decoded for the tail (a rule change's thousands at once).
   */
  publish(events: readonly string[], omitted = 0): void {
    for (const c of this.clients) {
      for (const e of events) c.send(`data: ${e}\n\n`);
      c.drop(omitted);
    }
  }

  /** Every client's connection is being closed: stop the heartbeat. */
  close(): void {
    this.clients.clear();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}

/** One client's queue: what its socket could not take yet, at most MAX_QUEUED messages. */
export class TailClient {
  private readonly queue: string[] = [];
  /** The socket's buffer is full: messages queue until it drains. */
  private blocked = false;
  private dropped = 0;

  constructor(private readonly sink: TailSink) {
    sink.onDrain(() => this.flush());
  }

  send(message: string): void {
    if (this.blocked) {
      if (this.queue.length < MAX_QUEUED) this.queue.push(message);
      else this.dropped++;
      return;
    }
    this.blocked = !this.sink.write(message);
  }

  /** Events the client will not get: said in a message of its own, once its socket takes it. */
  drop(count: number): void {
    if (count <= 0) return;
    this.dropped += count;
    if (!this.blocked) this.sayDropped();
  }

  heartbeat(): void {
    if (!this.blocked) this.blocked = !this.sink.write(': heartbeat\n\n');
  }

  /** Messages waiting and dropped (tests). */
  get backlog(): { queued: number; dropped: number } {
    return { queued: this.queue.length, dropped: this.dropped };
  }

  private flush(): void {
    this.blocked = false;
    while (!this.blocked && this.queue.length > 0) this.blocked = !this.sink.write(this.queue.shift()!);
    // The events dropped came after those queued: said after them.
    if (!this.blocked && this.dropped > 0) this.sayDropped();
  }

  private sayDropped(): void {
    this.blocked = !this.sink.write(`event: dropped\ndata: {"dropped":${this.dropped}}\n\n`);
    this.dropped = 0;
  }
}
