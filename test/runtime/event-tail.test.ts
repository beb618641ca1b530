/**
 * The live tail's memory is bounded per client: a client whose socket takes
 * nothing more gets at most MAX_QUEUED events queued, the rest dropped and
 * counted, and is told how many once its socket drains; a fast client gets
 * every event, in order; every client gets a heartbeat every 15 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventTail, HEARTBEAT_MS, MAX_QUEUED, TailClient, type TailSink } from '../../runtime/event-tail.js';

/** A socket that takes `room` messages, then reports itself full until drained. */
class FakeSocket implements TailSink {
  readonly written: string[] = [];
  private drain: (() => void) | undefined;
  constructor(public room = Infinity) {}
  write(text: string): boolean {
    this.written.push(text);
    return this.written.length < this.room;
  }
  onDrain(listener: () => void): void {
    this.drain = listener;
  }
  drained(room = Infinity): void {
    this.room = room;
    this.drain?.();
  }
}

const event = (i: number): string => `{"type":"enter","audience":"vip","customer":"c-${i}"}`;

test('a fast client gets every event, in order; nobody listening: the runtime need not decode', () => {
  const tail = new EventTail();
  assert.equal(tail.listening, false);
  const socket = new FakeSocket();
  const leave = tail.subscribe(socket);
  assert.equal(tail.listening, true);
  tail.publish([event(1), event(2)]);
  tail.publish([event(3)]);
  assert.deepEqual(socket.written, [1, 2, 3].map((i) => `data: ${event(i)}\n\n`));
  leave();
  assert.equal(tail.listening, false);
  tail.publish([event(4)]);
  assert.equal(socket.written.length, 3);
  tail.close();
});

test('a stalled client: at most MAX_QUEUED events wait, the rest are dropped and counted, and it is told once its socket drains', () => {
  const tail = new EventTail();
  const slow = new FakeSocket(1); // the first write fills it
  const fast = new FakeSocket();
  tail.subscribe(slow);
  tail.subscribe(fast);
  const total = MAX_QUEUED + 500;
  for (let i = 0; i < total; i++) tail.publish([event(i)]);
  assert.equal(slow.written.length, 1, 'nothing more written to a full socket');
  assert.equal(fast.written.length, total, 'the fast client is not held back by the slow one');
  slow.drained();
  assert.equal(slow.written.length, 1 + MAX_QUEUED + 1);
  assert.equal(slow.written[1], `data: ${event(1)}\n\n`, 'the queued events first, in order');
  assert.equal(slow.written[MAX_QUEUED], `data: ${event(MAX_QUEUED)}\n\n`);
  assert.equal(slow.written.at(-1), `event: dropped\ndata: {"dropped":${total - 1 - MAX_QUEUED}}\n\n`);
  tail.publish([event(total)]);
  assert.equal(slow.written.at(-1), `data: ${event(total)}\n\n`, 'back to live once drained');
  tail.close();
});

test('a client that drains partway sends what its socket takes and queues the rest again', () => {
  const socket = new FakeSocket(1);
  const client = new TailClient(socket);
  for (let i = 0; i < 10; i++) client.send(`m${i}`);
  assert.deepEqual(client.backlog, { queued: 9, dropped: 0 });
  socket.drained(4); // three more fit, the third fills it
  assert.deepEqual(socket.written, ['m0', 'm1', 'm2', 'm3']);
  assert.deepEqual(client.backlog, { queued: 6, dropped: 0 });
  socket.drained();
  assert.equal(socket.written.length, 10);
});

test('events not decoded for the tail (a rule change\'s thousands) are said as dropped', () => {
  const tail = new EventTail();
  const socket = new FakeSocket();
  tail.subscribe(socket);
  tail.publish([event(1)], 4999);
  assert.deepEqual(socket.written, [`data: ${event(1)}\n\n`, 'event: dropped\ndata: {"dropped":4999}\n\n']);
  tail.close();
});

test('every client gets a heartbeat comment every 15 s, so that proxies and browsers see a live connection', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const tail = new EventTail();
  const socket = new FakeSocket();
  const leave = tail.subscribe(socket);
  t.mock.timers.tick(HEARTBEAT_MS - 1);
  assert.deepEqual(socket.written, []);
  t.mock.timers.tick(1);
  assert.deepEqual(socket.written, [': heartbeat\n\n']);
  leave();
  t.mock.timers.tick(HEARTBEAT_MS);
  assert.equal(socket.written.length, 1, 'none once the client left');
  tail.close();
});
