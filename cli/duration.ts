/** A duration flag: `300ms`, `30s`, `5m`, `2h`, `7d`, or a number of milliseconds; `off` for none. */
export function parseDurationFlag(flag: string, text: string): number | undefined | Error {
  if (text === 'off') return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return new Error(`--${flag} "${text}" is not a duration: give 300ms, 30s, 5m, 2h or 7d (or off)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
