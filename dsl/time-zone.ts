/**
 * IANA time zone names as the checker sees them: a zone is a name the
 * platform's Intl knows (the tz database Node ships with), so a rule that
 * checks here runs here.
 */
import { editDistance } from './suggest.js';

const known = new Map<string, boolean>();

/** Whether Intl knows `name` as a time zone ("Europe/Oslo", "UTC"); Intl accepts any letter case. */
export function isTimeZone(name: string): boolean {
  let ok = known.get(name);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: name });
      ok = name.length > 0;
    } catch {
      ok = false;
    }
    // Trait values reach here too: a customer with a new string on every event must not grow the cache without end.
    if (known.size >= 4096) known.clear();
    known.set(name, ok);
  }
  return ok;
}

/** A known zone close to a name that is none: `did you mean "Europe/Oslo"?`, or undefined. */
export function suggestTimeZone(name: string): string | undefined {
  const zones = Intl.supportedValuesOf('timeZone');
  const lower = name.toLowerCase();
  const city = lower.split('/').pop() ?? lower;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const z of zones) {
    const zl = z.toLowerCase();
    const d = Math.min(editDistance(zl, lower), editDistance(zl.split('/').pop() ?? zl, city) + 1);
    if (d < bestDistance) { best = z; bestDistance = d; }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 4)) ? `did you mean "${best}"?` : undefined;
}
