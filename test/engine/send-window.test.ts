/**
 * Send windows (engine/send-window.ts): open or not at an instant, and the
 * next opening, in zones with and without daylight saving time, windows
 * that wrap midnight, the spring gap and the autumn overlap — checked
 * against a naive version that asks Intl for every minute.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localMinuteOfDay, nextOpening, windowOpen, type SendWindow } from '../../engine/send-window.js';
import { prng } from '../../examples/retail/generate.js';

const win = (from: string, to: string): SendWindow => {
  const m = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3));
  return { startMinute: m(from), endMinute: m(to) };
};
const iso = (t: number): string => new Date(t).toISOString();
const at = (s: string): number => Date.parse(s);

const naiveFormats = new Map<string, Intl.DateTimeFormat>();
/** The naive reference: Intl's wall clock of each whole minute. */
function naiveMinute(zone: string, t: number): number {
  let f = naiveFormats.get(zone);
  if (!f) naiveFormats.set(zone, f = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }));
  const parts = f.formatToParts(new Date(t));
  return Number(parts.find((p) => p.type === 'hour')!.value) * 60 + Number(parts.find((p) => p.type === 'minute')!.value);
}
function naiveOpen(w: SendWindow, zone: string, t: number): boolean {
  const m = naiveMinute(zone, t);
  return w.startMinute < w.endMinute ? m >= w.startMinute && m < w.endMinute : m >= w.startMinute || m < w.endMinute;
}
function naiveNextOpening(w: SendWindow, zone: string, t: number): number {
  for (let x = Math.floor(t / 60_000) * 60_000 + 60_000; x < t + 3 * 86_400_000; x += 60_000) if (naiveOpen(w, zone, x)) return x;
  throw new Error('never opens');
}

test('Europe/Oslo 09:00–20:00: open and closed in winter and summer; an evening holds until the next morning', () => {
  const w = win('09:00', '20:00');
  assert.equal(windowOpen(w, 'Europe/Oslo', at('2026-01-05T07:59:00Z')), false); // 08:59 CET
  assert.equal(windowOpen(w, 'Europe/Oslo', at('2026-01-05T08:00:00Z')), true);
  assert.equal(windowOpen(w, 'Europe/Oslo', at('2026-01-05T18:59:59Z')), true); // 19:59:59 CET
  assert.equal(windowOpen(w, 'Europe/Oslo', at('2026-01-05T19:00:00Z')), false);
  assert.equal(windowOpen(w, 'Europe/Oslo', at('2026-07-05T07:00:00Z')), true); // 09:00 CEST
  assert.equal(windowOpen(w, 'Europe/Oslo', at('2026-07-05T06:59:00Z')), false);
  assert.equal(iso(nextOpening(w, 'Europe/Oslo', at('2026-01-10T19:30:00Z'))), '2026-01-11T08:00:00.000Z'); // Saturday 20:30 → Sunday 09:00
  assert.equal(iso(nextOpening(w, 'Europe/Oslo', at('2026-07-10T19:30:00Z'))), '2026-07-11T07:00:00.000Z');
});

test('daylight saving time in Oslo: 02:30 opens at the 03:00 jump in spring and at the first 02:30 in autumn', () => {
  const late = win('02:30', '04:00');
  assert.equal(iso(nextOpening(late, 'Europe/Oslo', at('2026-03-29T00:00:00Z'))), '2026-03-29T01:00:00.000Z');
  assert.equal(iso(nextOpening(late, 'Europe/Oslo', at('2026-10-24T23:00:00Z'))), '2026-10-25T00:30:00.000Z');
  // Inside the repeated hour the window is open twice: 02:30 CEST and 02:30 CET.
  assert.equal(windowOpen(late, 'Europe/Oslo', at('2026-10-25T00:45:00Z')), true);
  assert.equal(windowOpen(late, 'Europe/Oslo', at('2026-10-25T01:45:00Z')), true);
  const night = win('01:00', '03:00');
  assert.equal(iso(nextOpening(night, 'Europe/Oslo', at('2026-03-28T23:30:00Z'))), '2026-03-29T00:00:00.000Z');
  assert.equal(windowOpen(night, 'Europe/Oslo', at('2026-03-29T01:00:00Z')), false); // 03:00 CEST: the hour 02:00–03:00 never happened
});

test('other zones: New York, a half-hour zone, Lord Howe\'s half-hour shift, a window over midnight, UTC', () => {
  assert.equal(iso(nextOpening(win('09:00', '17:00'), 'America/New_York', at('2026-01-05T12:00:00Z'))), '2026-01-05T14:00:00.000Z');
  assert.equal(iso(nextOpening(win('09:00', '17:00'), 'America/New_York', at('2026-07-05T12:00:00Z'))), '2026-07-05T13:00:00.000Z');
  assert.equal(localMinuteOfDay('Asia/Kolkata', at('2026-01-05T00:00:00Z')), 5 * 60 + 30);
  assert.equal(iso(nextOpening(win('09:00', '10:00'), 'Asia/Kolkata', at('2026-01-05T05:00:00Z'))), '2026-01-06T03:30:00.000Z'); // 10:30 IST
  // Lord Howe: +10:30 in winter, +11:00 in summer (from 2026-10-04 02:00 local).
  assert.equal(localMinuteOfDay('Australia/Lord_Howe', at('2026-07-01T00:00:00Z')), 10 * 60 + 30);
  assert.equal(localMinuteOfDay('Australia/Lord_Howe', at('2026-12-01T00:00:00Z')), 11 * 60);
  const overnight = win('22:00', '06:00');
  assert.equal(windowOpen(overnight, 'UTC', at('2026-01-05T23:00:00Z')), true);
  assert.equal(windowOpen(overnight, 'UTC', at('2026-01-05T05:59:00Z')), true);
  assert.equal(windowOpen(overnight, 'UTC', at('2026-01-05T06:00:00Z')), false);
  assert.equal(iso(nextOpening(overnight, 'UTC', at('2026-01-05T06:00:00Z'))), '2026-01-05T22:00:00.000Z');
});

test('random instants, windows and zones, 2020–2032: the same answers as asking Intl minute by minute', () => {
  const zones = ['UTC', 'Europe/Oslo', 'Europe/London', 'America/New_York', 'America/Sao_Paulo', 'America/St_Johns', 'Asia/Kolkata',
    'Asia/Kathmandu', 'Australia/Lord_Howe', 'Australia/Adelaide', 'Pacific/Chatham', 'Africa/Casablanca', 'Asia/Tehran', 'Pacific/Auckland'];
  const rand = prng(11);
  const from = at('2020-01-01T00:00:00Z');
  const span = at('2032-01-01T00:00:00Z') - from;
  // Offset changes of the zones above, where mistakes would hide: half of the instants fall near one.
  const transitions: number[] = [];
  const step = 6 * 3_600_000;
  for (const zone of zones) {
    let prev = naiveMinute(zone, from);
    for (let t = from + step; t < from + span; t += step) {
      const m = naiveMinute(zone, t);
      if ((m - prev + 1440) % 1440 !== 360) transitions.push(t);
      prev = m;
    }
  }
  let checked = 0;
  for (let i = 0; i < 1500; i++) {
    const zone = zones[Math.floor(rand() * zones.length)]!;
    const base = rand() < 0.5 && transitions.length > 0 ? transitions[Math.floor(rand() * transitions.length)]! : from + Math.floor(rand() * span);
    const t = base + Math.floor((rand() - 0.5) * 2 * 86_400_000);
    const start = Math.floor(rand() * 96) * 15 + (rand() < 0.3 ? Math.floor(rand() * 15) : 0);
    let end = rand() < 0.1 ? (start + 1) % 1440 : Math.floor(rand() * 1440);
    if (end === start) end = (start + 1) % 1440;
    const w = { startMinute: start, endMinute: end };
    assert.equal(windowOpen(w, zone, t), naiveOpen(w, zone, t), `${zone} ${start}–${end} at ${iso(t)}`);
    if (!windowOpen(w, zone, t)) {
      assert.equal(iso(nextOpening(w, zone, t)), iso(naiveNextOpening(w, zone, t)), `next opening of ${zone} ${start}–${end} after ${iso(t)}`);
      checked++;
    }
  }
  assert.ok(checked > 300, `${checked} next openings checked`);
});
