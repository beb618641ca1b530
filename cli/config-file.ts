/**
 * The configuration file of `aud run` and `aud webhook`: every flag, in YAML
 * or JSON, so a deployment keeps its settings in one reviewed file.
 *
 *     # aud.config.yaml
 *     files: [rules/retail.aud]
 *     brokers: kafka-1:9092,kafka-2:9092
 *     state-dir: /var/lib/aud
 *     exactly-once: true
 *     http: 8080
 *     kafka:                          # librdkafka settings, passed through
 *       security.protocol: SASL_SSL
 *       sasl.mechanisms: PLAIN
 *       sasl.username: aud
 *       sasl.password: ${KAFKA_PASSWORD}
 *
 * Precedence, highest first: command-line flags, environment variables
 * (`AUD_` + the flag in upper case, `-` as `_`: AUD_BROKERS, AUD_STATE_DIR;
 * only for the command's own flags, so other AUD_ variables are left alone),
 * the file, the defaults. `${NAME}` in a value is replaced by the environment
 * variable NAME, so secrets stay out of the file; an unset one is an error.
 * The file is `--config PATH`, or `aud.config.yaml` / `aud.config.json` in
 * the working directory when present.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export const DEFAULT_CONFIG_FILES = ['aud.config.yaml', 'aud.config.yml', 'aud.config.json'];

export class ConfigFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigFileError';
  }
}

/**
 * YAML text to a value. The parser is loaded on the first config file read,
 * not when this file is: every command imports it, few read a config file.
 * (require, not import(): yargs reads config files synchronously.)
 */
function parseYaml(text: string): unknown {
  const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yaml.parse(text);
}

/** The default config file of the working directory, if there is one. */
export function defaultConfigFile(): string | undefined {
  return DEFAULT_CONFIG_FILES.find((f) => existsSync(f));
}

/** Read a config file into yargs' argument shape (kebab-case keys; `kafka` as `key=value` strings). */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigFileError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigFileError(`config file ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigFileError(`config file ${path} must hold a mapping of flag: value`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const where = `${path}: ${key}`;
    if (key === 'kafka' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      // A mapping of librdkafka settings becomes the repeatable --kafka key=value.
      out.kafka = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${k}=${interpolate(String(v), `${where}.${k}`)}`);
    } else {
      out[key] = interpolateDeep(value, where);
    }
  }
  return out;
}

function interpolateDeep(value: unknown, where: string): unknown {
  if (typeof value === 'string') return interpolate(value, where);
  if (Array.isArray(value)) return value.map((v, i) => interpolateDeep(v, `${where}[${i}]`));
  return value;
}

/** `${NAME}` → process.env.NAME; `$${` escapes a literal `${`. */
export function interpolate(text: string, where: string): string {
  return text.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (match, name: string) => {
    if (match.startsWith('$$')) return match.slice(1);
    const v = process.env[name];
    if (v === undefined) throw new ConfigFileError(`${where} uses \${${name}}, but the environment variable ${name} is not set`);
    return v;
  });
}

const SECRET_KEY = /pass(word)?|secret|token|credential|private|sasl\.jaas|ssl\.key/i;

/** Settings safe to log: values of keys that look secret are replaced by `***`. */
export function redactSettings(settings: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, SECRET_KEY.test(k) ? '***' : v]));
}

export type FlagKind = 'string' | 'number' | 'boolean' | 'array';

/**
 * A yargs middleware: `AUD_<FLAG>` for each of `flags` not given on the
 * command line overrides the config file and the default.
 */
export function environmentOverrides(flags: Record<string, FlagKind>): (argv: Record<string, unknown>) => void {
  return (argv) => {
    const given = process.argv.slice(2);
    for (const [flag, kind] of Object.entries(flags)) {
      const name = `AUD_${flag.toUpperCase().replace(/-/g, '_')}`;
      const raw = process.env[name];
      if (raw === undefined || given.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`) || a === `--no-${flag}`)) continue;
      let value: unknown = raw;
      if (kind === 'number') {
        value = Number(raw);
        if (!Number.isFinite(value)) throw new ConfigFileError(`${name}="${raw}" is not a number`);
      } else if (kind === 'boolean') {
        if (!/^(true|false|1|0)$/.test(raw)) throw new ConfigFileError(`${name}="${raw}" is not true or false`);
        value = raw === 'true' || raw === '1';
      } else if (kind === 'array') {
        value = raw.split(/\s+/).filter((x) => x.length > 0);
      }
      argv[flag] = value;
      argv[flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = value;
    }
  };
}
