import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { msgpackMapHeaderBytes, msgpackReadString, msgpackString, writeMsgpackMapHeader } from '../../engine/msgpack-pieces.js';

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

test('strings written by hand are MessagePack strings, and read back', () => {
  for (const s of ['', 's', 'a'.repeat(31), 'b'.repeat(32), 'c'.repeat(300), 'd'.repeat(70_000), 'ünï 文']) {
    const bytes = msgpackString(s);
    assert.deepEqual(Buffer.from(bytes), Buffer.from(packr.pack(s)));
    assert.deepEqual(msgpackReadString(bytes, 0), { text: s, end: bytes.length });
  }
  assert.throws(() => msgpackReadString(Uint8Array.of(0x01), 0), /expected a string/);
  assert.throws(() => msgpackReadString(Uint8Array.of(0xa3, 0x61), 0), /cut short/);
});

test('map headers written by hand read back as maps of that many entries', () => {
  for (const n of [0, 15, 16, 65_535, 65_536]) {
    const out = new Uint8Array(msgpackMapHeaderBytes(n));
    assert.equal(writeMsgpackMapHeader(out, 0, n), out.length);
    const entries = Array.from({ length: n }, (_, i) => Buffer.concat([msgpackString(`k${i}`), Uint8Array.of(i & 0x7f)]));
    const map = packr.unpack(Buffer.concat([out, ...entries])) as Record<string, number>;
    assert.equal(Object.keys(map).length, n, `${n} entries`);
    if (n > 0) assert.equal(map[`k${n - 1}`], (n - 1) & 0x7f);
  }
});
