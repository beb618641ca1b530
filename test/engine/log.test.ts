import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../engine/log.js';

function captured(format: 'text' | 'json', level: 'debug' | 'info' | 'warn' | 'error' = 'info'): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger({ format, level, write: (l) => lines.push(l) }) };
}

test('--log-format json: one object per line, time, level and msg first, then the fields', () => {
  const { lines, log } = captured('json');
  log.debug('not shown at info');
  log.info('partition assigned', { topic: 'retail.events', partition: 3, nextOffset: 812n });
  log.error('commit failed', { error: new Error('broker down'), msg: 'a field called msg', level: 7 });
  assert.equal(lines.length, 2);
  const [a, b] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(Object.keys(a!), ['time', 'level', 'msg', 'topic', 'partition', 'nextOffset']);
  assert.ok(!Number.isNaN(Date.parse(String(a!.time))));
  assert.deepEqual({ ...a, time: undefined }, { time: undefined, level: 'info', msg: 'partition assigned', topic: 'retail.events', partition: 3, nextOffset: '812' });
  // A field cannot replace the line's own level or message; an error prints as its message.
  assert.deepEqual({ ...b, time: undefined }, { time: undefined, level: 'error', msg: 'commit failed', error: 'broker down', field_msg: 'a field called msg', field_level: 7 });
});

test('text format: fields as key=value, offsets and errors printable', () => {
  const { lines, log } = captured('text', 'debug');
  log.debug('restoring', { partition: 0, until: 99n, error: new Error('x') });
  assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT[\d:.]+Z debug restoring partition=0 until=99 error=x$/);
});
