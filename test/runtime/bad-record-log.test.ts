/**
 * A flood of bad records is logged as the first ten of the minute, one by
 * one, and one line for the rest when the minute is over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '../../engine/log.js';
import { BAD_LINES_PER_MINUTE, BadRecordLog } from '../../runtime/bad-record-log.js';

test('bad records past ten a minute are told in one line, not one each', () => {
  const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
  const warn = (msg: string, fields?: Record<string, unknown>): void => { lines.push({ msg, ...(fields ? { fields } : {}) }); };
  const log: Logger = { debug: () => undefined, info: () => undefined, warn, error: () => undefined };
  const bad = new BadRecordLog(log);
  for (let i = 0; i < 2500; i++) bad.report({ topic: 't', partition: 0, offset: String(i), reason: 'not JSON' });
  assert.equal(lines.length, BAD_LINES_PER_MINUTE);
  assert.deepEqual(lines[9], { msg: 'bad record sent to dead-letter topic', fields: { topic: 't', partition: 0, offset: '9', reason: 'not JSON' } });
  bad.close();
  assert.equal(lines.length, BAD_LINES_PER_MINUTE + 1);
  assert.match(lines.at(-1)!.msg, /^2490 more bad records in the last minute, not logged one by one/);
  // The next minute starts afresh.
  const again = new BadRecordLog(log);
  again.report({ topic: 't', partition: 1, offset: '7', reason: 'not UTF-8 text' });
  again.close();
  assert.equal(lines.length, BAD_LINES_PER_MINUTE + 2);
  assert.equal(lines.at(-1)!.msg, 'bad record sent to dead-letter topic');
});
