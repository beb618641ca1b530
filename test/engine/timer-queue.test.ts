import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TimerQueue } from '../../engine/timer-queue.js';

test('timers come out in (due, customer) order', () => {
  const q = new TimerQueue();
  const input: [number, string][] = [[5, 'b'], [1, 'z'], [5, 'a'], [3, 'c'], [1, 'a'], [9, 'x'], [2, 'q']];
  for (const [d, c] of input) q.push(d, c);
  const out: string[] = [];
  for (let e = q.pop(); e; e = q.pop()) out.push(`${e.due}${e.customer}`);
  assert.deepEqual(out, ['1a', '1z', '2q', '3c', '5a', '5b', '9x']);
});

test('customersDueBy finds exactly the entries due by a time, leaving the queue intact', () => {
  const q = new TimerQueue();
  for (let i = 0; i < 1000; i++) q.push((i * 7919) % 1000, `c${i}`);
  const due = q.customersDueBy(99);
  assert.equal(due.size, 100);
  assert.equal(q.size, 1000);
  for (let i = 0; i < 100; i++) assert.ok(q.pop()!.due <= 99);
});
