import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outputEventJson, type OutputEvent } from '../../engine/output-event.js';

test('an enter/leave record is exactly the JSON of the event, field order included, whatever its strings hold', () => {
  const events: OutputEvent[] = [
    { type: 'enter', audience: 'vip', customer: 'c-1', at: '2026-11-22T10:00:00.000Z', version: 1, reason: 'event' },
    { type: 'leave', audience: 'lapsed_vip', customer: 'quote " backslash \\ newline \n tab \t ü 漢 \u0001 \u2028', at: '2026-11-22T10:00:00.000Z', version: 12, reason: 'timer' },
    { type: 'enter', audience: 'cart_abandoner', customer: '', at: '2026-01-01T00:00:00.000Z', version: 3, reason: 'event', cause: { topic: 'retail.events', partition: 3, offset: '812' } },
  ];
  for (const e of events) {
    assert.equal(outputEventJson(e), JSON.stringify(e));
    assert.deepEqual(JSON.parse(outputEventJson(e)), e);
  }
});
