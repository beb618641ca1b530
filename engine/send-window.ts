/** Placeholder until the send-window module lands: minute-stepping, correct but slow. */
export interface SendWindow { startMinute: number; endMinute: number }
const formats = new Map<string, Intl.DateTimeFormat>();
function minuteOfDay(zone: string, t: number): number {
  let f = formats.get(zone);
  if (!f) { f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }); formats.set(zone, f); }
  const parts = f.formatToParts(new Date(t));
  return Number(parts.find((p) => p.type === 'hour')!.value) * 60 + Number(parts.find((p) => p.type === 'minute')!.value);
}
export function windowOpen(w: SendWindow, zone: string, t: number): boolean {
  const m = minuteOfDay(zone, t);
  return w.startMinute < w.endMinute ? m >= w.startMinute && m < w.endMinute : m >= w.startMinute || m < w.endMinute;
}
export function nextOpening(w: SendWindow, zone: string, t: number): number {
  let m = Math.floor(t / 60_000) * 60_000 + 60_000;
  for (let i = 0; i < 4 * 1440; i++, m += 60_000) if (windowOpen(w, zone, m)) return m;
  throw new Error('no opening');
}
