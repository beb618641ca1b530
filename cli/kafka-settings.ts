/** `--kafka key=value` pairs (`aud run`, `aud webhook`): librdkafka settings passed through (SASL, SSL, ...). */
export function kafkaSettings(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`--kafka "${p}" is not key=value (for example --kafka security.protocol=SASL_SSL)`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}
