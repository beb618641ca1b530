import { test } from 'node:test';
import assert from 'node:assert/strict';
import { customerTimer, decodeCustomerState, encodeCustomerState, type CustomerState } from '../../engine/customer-state.js';

const state: CustomerState = {
  s: { a1: [[1767225600000, 3], [1767229200000, 1]], b2: { p: [[1, 2]], m: null }, c3: { '"shoes"': [2, 5, 7] } },
  m: { vip: [1, 3], lapsed: [0, 2] },
  w: { vip: 1767830400000 },
  t: 1767830400000,
  n: 42,
};

test('a customer state survives encoding, with its timer readable from the header alone', () => {
  const bytes = encodeCustomerState(state);
  assert.deepEqual(decodeCustomerState(bytes), state);
  assert.equal(customerTimer(bytes), 1767830400000);
  const none = encodeCustomerState({ ...state, t: null });
  assert.equal(customerTimer(none), null);
  assert.equal(decodeCustomerState(none).t, null);
  assert.ok(bytes.length < JSON.stringify(state).length, `smaller than JSON (${bytes.length} bytes)`);
});

test('states written as JSON by earlier versions are still read', () => {
  const json = new TextEncoder().encode(JSON.stringify(state));
  assert.deepEqual(decodeCustomerState(json), state);
  assert.equal(customerTimer(json), 1767830400000);
});
