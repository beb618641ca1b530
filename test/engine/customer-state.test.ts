import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { AudienceList, AudienceLists } from '../../engine/audience-list.js';
import { customerTimer, CustomerStateCodec, isMember, membershipsChanged, membershipVersion, slotChanged, type CustomerState } from '../../engine/customer-state.js';
import { MemoryStore } from '../../engine/state/memory-store.js';
import { recordTransition, RECENT_TRANSITIONS, transitionsOf } from '../../engine/transition-history.js';

const T = 1767830400000;
const audiences = ['vip', 'lapsed', 'cart'];
const slots = ['a1', 'b2', 'c3'];
const codec = new CustomerStateCodec(new AudienceLists(new AudienceList(audiences)), slots);

/** What a state holds, without the bytes it remembers for the next encode. */
function held(state: CustomerState): Omit<CustomerState, 'encoded'> {
  const { encoded: _, ...rest } = state;
  return rest;
}

function sample(): CustomerState {
  const state = codec.empty();
  state.s = [[1767225600000, 3, 1767229200000, 1], { p: [[1, 2]], m: null }, [['shoes', 5, 7]]];
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
  assert.deepEqual(held(codec.decode(bytes)), held(state));
  assert.equal(customerTimer(bytes), T);
  const none = codec.encode({ ...state, t: null });
  assert.equal(customerTimer(none), null);
  assert.equal(codec.decode(none).t, null);
  assert.ok(isMember(state, 0) && !isMember(state, 1) && !isMember(state, 2));
  assert.deepEqual([0, 1, 2].map((i) => membershipVersion(state, i)), [3, 2, 0]);
});

test('the state does not carry audience names: a thousand audiences cost one id, not a thousand names', () => {
  const names = Array.from({ length: 1000 }, (_, i) => `audience_with_a_long_name_${i}`);
  const big = new CustomerStateCodec(new AudienceLists(new AudienceList(names)), slots);
  const state = big.empty();
  for (let i = 0; i < 1000; i += 2) state.m[i] = 1;
  const bytes = big.encode(state);
  assert.ok(bytes.length < 500 * 6, `${bytes.length} bytes for 500 memberships`);
  assert.deepEqual(held(big.decode(bytes)), held(state));
});

test('a state written under other rules is read by audience name; audiences the rules dropped are dropped', async () => {
  const old = new AudienceList(['cart', 'gone', 'vip']);
  const oldCodec = new CustomerStateCodec(new AudienceLists(old), slots);
  const written = oldCodec.empty();
  written.m[0] = 1; written.m[1] = 5; written.m[2] = -4;
  written.w[0] = T; written.w[1] = T + 1;
  const bytes = oldCodec.encode(written);

  const store = new MemoryStore();
  await store.write([{ type: 'put', key: old.key, value: old.encode() }]);
  const lists = new AudienceLists(new AudienceList(audiences));
  await lists.load(store);
  const read = new CustomerStateCodec(lists, slots).decode(bytes);
  assert.deepEqual([...read.m], [-4, 0, 1]); // vip, lapsed, cart
  assert.deepEqual([...read.w], [Infinity, Infinity, T]);

  // Without the list in the store, the state cannot be read: say so rather than guess.
  assert.throws(() => codec.decode(bytes), /audience list .* the store does not hold/);
});

test('states written by earlier versions (MessagePack by name, JSON before it) are still read', () => {
  const named = { s: { a1: [1, 2] }, m: { vip: [1, 3], lapsed: [0, 2], dropped: [1, 1] }, w: { vip: T }, t: T, n: 42 };
  const expected = codec.empty();
  expected.s[0] = [1, 2]; expected.m[0] = 3; expected.m[1] = -2; expected.w[0] = T; expected.t = T; expected.n = 42;
  const json = new TextEncoder().encode(JSON.stringify(named));
  assert.deepEqual(held(codec.decode(json)), held(expected));
  assert.equal(customerTimer(json), T);
  const body = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true }).pack({ s: named.s, m: named.m, w: named.w, n: named.n });
  const v1 = Buffer.alloc(9 + body.length);
  v1[0] = 0xa1;
  v1.writeDoubleBE(T, 1);
  body.copy(v1, 9);
  assert.deepEqual(held(codec.decode(v1)), held(expected));
  assert.equal(customerTimer(v1), T);
});

test('an encode after a change copies the unchanged slots and equals an encode from scratch', () => {
  const bytes = codec.encode(sample());
  const read = codec.decode(bytes);
  (read.s[0] as number[]).push(1767232800000, 2);
  slotChanged(read, 0);
  read.s[2] = undefined;
  slotChanged(read, 2);
  read.n++;
  read.m[2] = 1;
  membershipsChanged(read);
  const again = codec.encode(read);
  const scratch = codec.encode({ ...read, encoded: undefined });
  assert.deepEqual(Buffer.from(again), Buffer.from(scratch));
  assert.deepEqual(held(codec.decode(again)), held(read));
  // A second encode with nothing changed copies every slot.
  assert.deepEqual(Buffer.from(codec.encode(read)), Buffer.from(scratch));
});

test('states of slots the rules no longer have are carried over unread', () => {
  const wider = new CustomerStateCodec(new AudienceLists(new AudienceList(audiences)), ['gone', ...slots]);
  const state = wider.empty();
  state.s[0] = [1, 2, 3];
  state.s[1] = [4, 5];
  const read = codec.decode(wider.encode(state));
  assert.deepEqual(read.s, [[4, 5], undefined, undefined]);
  assert.deepEqual([...read.other!.keys()], ['gone']);
  read.s[1] = [9];
  slotChanged(read, 1);
  const back = wider.decode(codec.encode(read));
  assert.deepEqual(back.s, [[1, 2, 3], [4, 5], [9], undefined]);
});

test('memberships and wakes of every magnitude survive encoding', () => {
  const names = Array.from({ length: 300 }, (_, i) => `a${i}`);
  const wide = new CustomerStateCodec(new AudienceLists(new AudienceList(names)), slots);
  const state = wide.empty();
  const versions = [1, -1, 31, -32, -33, 127, 128, -128, -129, 255, 256, 65_535, 65_536, -32_768, -32_769, 2 ** 31, -(2 ** 31), 2 ** 40, -(2 ** 40)];
  versions.forEach((v, k) => { state.m[k * 15] = v; });
  const wakes = [0, 1, T, T + 0.5, 2 ** 53 - 1, -5];
  wakes.forEach((t, k) => { state.w[k * 40 + 7] = t; });
  const read = wide.decode(wide.encode(state));
  assert.deepEqual([...read.m], [...state.m]);
  assert.deepEqual([...read.w], [...state.w]);
  // The same bytes as MessagePack's own encoding of the pairs would decode to.
  const body = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true }).unpack(wide.encode(state).subarray(9)) as { m: number[]; w: number[] };
  assert.deepEqual(body.m, versions.flatMap((v, k) => [k * 15, v]));
  assert.deepEqual(body.w, wakes.flatMap((t, k) => [k * 40 + 7, t]));
});

test('a released state lends its arrays to the next one, which starts empty', () => {
  const pool = new CustomerStateCodec(new AudienceLists(new AudienceList(audiences)), slots);
  const first = pool.decode(pool.encode(sample()));
  pool.release(first);
  const next = pool.empty();
  assert.equal(next.m, first.m); // the same array, reused
  assert.deepEqual(held(next), held(codec.empty()));
  // A state decoded after a release reads only its own bytes.
  pool.release(next);
  const bytes = codec.encode(codec.empty());
  assert.deepEqual(held(pool.decode(bytes)), held(codec.empty()));
});

test('a customer\'s last transitions survive encoding, newest first, with their cause, and at most RECENT_TRANSITIONS of them', () => {
  const state = sample();
  recordTransition(state, 0, true, T, 1, 'event', { topic: 'retail.events', partition: 3, offset: '812' });
  recordTransition(state, 0, false, T + 1000, 2, 'timer', undefined);
  recordTransition(state, 2, true, T + 2000, 1, 'event', { topic: 'retail.events', partition: 3, offset: '281474976710000' });
  const read = codec.decode(codec.encode(state));
  assert.deepEqual(transitionsOf(read.h, audiences), [
    { audience: 'cart', type: 'enter', at: T + 2000, version: 1, reason: 'event', cause: { topic: 'retail.events', partition: 3, offset: '281474976710000' } },
    { audience: 'vip', type: 'leave', at: T + 1000, version: 2, reason: 'timer' },
    { audience: 'vip', type: 'enter', at: T, version: 1, reason: 'event', cause: { topic: 'retail.events', partition: 3, offset: '812' } },
  ]);
  // A copied encode equals one from scratch.
  read.n++;
  assert.deepEqual(Buffer.from(codec.encode(read)), Buffer.from(codec.encode({ ...read, encoded: undefined })));
  recordTransition(read, 2, false, T + 3000, 2, 'rule_change', undefined);
  recordTransition(read, 1, true, T + 3500, 1, 'event', { line: 12 });
  const again = codec.decode(codec.encode(read));
  assert.deepEqual(transitionsOf(again.h, audiences).slice(0, 2).map((t) => [t.audience, t.reason, t.cause]), [['lapsed', 'event', { line: 12 }], ['cart', 'rule_change', undefined]]);
  for (let v = 3; v < 40; v++) recordTransition(again, 2, v % 2 === 1, T + v, v, 'event', undefined);
  const bounded = transitionsOf(codec.decode(codec.encode(again)).h, audiences);
  assert.equal(bounded.length, RECENT_TRANSITIONS);
  assert.deepEqual(bounded.map((t) => t.version), Array.from({ length: RECENT_TRANSITIONS }, (_, i) => 39 - i));
  // A state with no transition has no `h` entry at all.
  assert.equal(codec.decode(codec.encode(sample())).h, undefined);
});

test('transitions follow their audience to another audience list; those of dropped audiences go', async () => {
  const old = new AudienceList(['cart', 'gone', 'vip']);
  const oldCodec = new CustomerStateCodec(new AudienceLists(old), slots);
  const written = oldCodec.empty();
  recordTransition(written, 2, true, T, 1, 'event', { topic: 'in', partition: 0, offset: '5' });
  recordTransition(written, 1, true, T + 1, 1, 'event', { topic: 'in', partition: 0, offset: '6' });
  recordTransition(written, 0, true, T + 2, 1, 'timer', undefined);
  const store = new MemoryStore();
  await store.write([{ type: 'put', key: old.key, value: old.encode() }]);
  const lists = new AudienceLists(new AudienceList(audiences));
  await lists.load(store);
  const read = new CustomerStateCodec(lists, slots).decode(oldCodec.encode(written));
  assert.deepEqual(transitionsOf(read.h, audiences).map((t) => [t.audience, t.at]), [['cart', T + 2], ['vip', T]]);
});
