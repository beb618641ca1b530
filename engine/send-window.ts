/**
 * Send windows (`deliver between 09:00 and 20:00 in "Europe/Oslo"`):
 * whether a window is open at an instant, and when it next opens.
 *
 * The definition (docs/decisions/2026-12-04-next-best-action.md): the
 * window is open at t when the local time of day of t in the zone, to the
 * minute, is in [start, end) — or, when start > end, at or after start or
 * before end. It next opens at the first whole minute after t at which it
 * is open. Daylight saving time follows from the definition: a window
 * opening at 02:30 on the night the clocks jump from 02:00 to 03:00 opens at
 * 03:00, the instant of the jump; on the night they fall back, at the first
 * 02:30.
 *
 * The zone's offset from UTC comes from Intl (the tz data Node ships),
 * looked up once per 15-minute block of UTC time and kept: every offset
 * change in the tz data of this century happens on a quarter hour of UTC
 * (zones' offsets are whole quarter hours and their clocks change on whole
 * local hours or half hours), so an offset holds for its whole block. A
 * decision evaluated for a customer then costs a map lookup and arithmetic,
 * not a formatting of dates.
 */

/** `deliver between HH:MM and HH:MM`: minutes after local midnight (0..1439); start ≠ end; start > end wraps midnight. */
export interface SendWindow {
  startMinute: number;
  endMinute: number;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
const BLOCK = 15 * MINUTE;
/** Offsets kept per zone: a month of quarter hours, far more than a stream's clock spans at once. */
const BLOCKS_KEPT = 4 * 24 * 31;

class ZoneOffsets {
  private readonly format: Intl.DateTimeFormat;
  private readonly byBlock = new Map<number, number>();

  constructor(zone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
  }

  /** The zone's offset from UTC at t, in ms (local = t + offset). */
  at(t: number): number {
    const block = Math.floor(t / BLOCK);
    let offset = this.byBlock.get(block);
    if (offset === undefined) {
      const start = block * BLOCK;
      const p: Record<string, number> = {};
      for (const part of this.format.formatToParts(new Date(start))) if (part.type !== 'literal') p[part.type] = Number(part.value);
      offset = Date.UTC(p['year']!, p['month']! - 1, p['day']!, p['hour']!, p['minute']!, p['second']!) - start;
      if (this.byBlock.size >= BLOCKS_KEPT) this.byBlock.clear();
      this.byBlock.set(block, offset);
    }
    return offset;
  }
}

const zones = new Map<string, ZoneOffsets>();

function offsetsOf(zone: string): ZoneOffsets {
  let z = zones.get(zone);
  if (!z) {
    // Zone names come from rules and from customers' traits (checked by the caller): a few hundred at most.
    if (zones.size >= 1024) zones.clear();
    z = new ZoneOffsets(zone);
    zones.set(zone, z);
  }
  return z;
}

/** The local time of day of t in the zone, in whole minutes after midnight. */
export function localMinuteOfDay(zone: string, t: number): number {
  const local = t + offsetsOf(zone).at(t);
  return Math.floor((((local % DAY) + DAY) % DAY) / MINUTE);
}

function inWindow(w: SendWindow, minute: number): boolean {
  return w.startMinute < w.endMinute
    ? minute >= w.startMinute && minute < w.endMinute
    : minute >= w.startMinute || minute < w.endMinute;
}

/** Whether the window is open at instant t in the zone. */
export function windowOpen(w: SendWindow, zone: string, t: number): boolean {
  return inWindow(w, localMinuteOfDay(zone, t));
}

/**
 * The first whole minute after t at which the window is open. From a closed
 * minute, jump to where the local time reaches the start at the offset of
 * now; if the offset changes on the way, go to the change instead (a spring
 * gap may open the window there) and look again.
 */
export function nextOpening(w: SendWindow, zone: string, t: number): number {
  const offsets = offsetsOf(zone);
  let x = Math.floor(t / MINUTE) * MINUTE + MINUTE;
  for (let step = 0; step < 8; step++) {
    const minute = localMinuteOfDay(zone, x);
    if (inWindow(w, minute)) return x;
    const offset = offsets.at(x);
    const y = x + (((w.startMinute - minute) % 1440) + 1440) % 1440 * MINUTE;
    x = offsets.at(y) === offset ? y : firstChange(offsets, x, y, offset);
  }
  // Not reached with the tz data of this century; for an offset of other times (seconds in it, several changes
  // in a day), look minute by minute rather than fail a partition over a customer's send window.
  for (let m = x, end = x + 3 * DAY; m < end; m += MINUTE) if (inWindow(w, localMinuteOfDay(zone, m))) return m;
  return x + DAY;
}

/** The first quarter hour in (x, y] at which the zone's offset is not `offset` (one exists). */
function firstChange(offsets: ZoneOffsets, x: number, y: number, offset: number): number {
  for (let b = Math.floor(x / BLOCK) * BLOCK + BLOCK; b <= y; b += BLOCK) if (offsets.at(b) !== offset) return b;
  return y;
}
