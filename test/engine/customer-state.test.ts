import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { AudienceList, AudienceLists } from '../../engine/audience-list.js';
import { customerTimer, CustomerStateCodec, isMember, membershipVersion, type CustomerState } from '../../engine/customer-state.js';
import { MemoryStore } from '../../engine/state/memory-store.js';

const T = 1767830400000;
const audiences = ['vip', 'lapsed', 'cart'];
const codec = new CustomerStateCodec(new AudienceLists(new AudienceList(audiences)));

function sample(): CustomerState {
  const state = codec.empty();
  state.s = { a1: [1767225600000, 3, 1767229200000, 1], b2: { p: [[1, 2]], m: null }, c3: [['shoes', 5, 7]] };
  state.m[0] = 3; // vip: inside, third change
  state.m[1] = -2; // lapsed: left
  state.w[0] = T;
  state.t = T;
  state.n = 42;
  return state;
}

test('a customer state survives encoding, with its timer readable from the header alone', () => {
  const state = sample();
  const bytes = codec.encode(state);
  assert.deepEqual(codec.decode(bytes), state);
  assert.equal(customerTimer(bytes), T);
  const none = codec.encode({ ...state, t: null });
  assert.equal(customerTimer(none), null);
  assert.equal(codec.decode(none).t, null);
  assert.ok(isMember(state, 0) && !isMember(state, 1) && !isMember(state, 2));
  assert.deepEqual([0, 1, 2].map((i) => membershipVersion(state, i)), [3, 2, 0]);
});

test('the state does not carry audience names: a thousand audiences cost one id, not a thousand names', () => {
  const names = Array.from({ length: 1000 }, (_, i) => `audience_with_a_long_name_${i}`);
  const big = new CustomerStateCodec(new AudienceLists(new AudienceList(names)));
  const state = big.empty();
  for (let i = 0; i < 1000; i += 2) state.m[i] = 1;
  const bytes = big.encode(state);
  assert.ok(bytes.length < 500 * 6, `${bytes.length} bytes for 500 memberships`);
  assert.deepEqual(big.decode(bytes), state);
});

test('a state written under other rules is read by audience name; audiences the rules dropped are dropped', async () => {
  const old = new AudienceList(['cart', 'gone', 'vip']);
  const oldCodec = new CustomerStateCodec(new AudienceLists(old));
  const written = oldCodec.empty();
  written.m[0] = 1; written.m[1] = 5; written.m[2] = -4;
  written.w[0] = T; written.w[1] = T + 1;
  const bytes = oldCodec.encode(written);

  const store = new MemoryStore();
  await store.write([{ type: 'put', key: old.key, value: old.encode() }]);
  const lists = new AudienceLists(new AudienceList(audiences));
  await lists.load(store);
  const read = new CustomerStateCodec(lists).decode(bytes);
  assert.deepEqual([...read.m], [-4, 0, 1]); // vip, lapsed, cart
  assert.deepEqual([...read.w], [Infinity, Infinity, T]);

  // Without the list in the store, the state cannot be read: say so rather than guess.
  assert.throws(() => codec.decode(bytes), /audience list .* the store does not hold/);
});

test('states written by earlier versions (MessagePack by name, JSON before it) are still read', () => {
  const named = { s: { a1: [1, 2] }, m: { vip: [1, 3], lapsed: [0, 2], dropped: [1, 1] }, w: { vip: T }, t: T, n: 42 };
  const expected = codec.empty();
  expected.s = { a1: [1, 2] }; expected.m[0] = 3; expected.m[1] = -2; expected.w[0] = T; expected.t = T; expected.n = 42;
  const json = new TextEncoder().encode(JSON.stringify(named));
  assert.deepEqual(codec.decode(json), expected);
  assert.equal(customerTimer(json), T);
  const body = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true }).pack({ s: named.s, m: named.m, w: named.w, n: named.n });
  const v1 = Buffer.alloc(9 + body.length);
  v1[0] = 0xa1;
  v1.writeDoubleBE(T, 1);
  body.copy(v1, 9);
  assert.deepEqual(codec.decode(v1), expected);
  assert.equal(customerTimer(v1), T);
});
