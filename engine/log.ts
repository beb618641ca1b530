/**
 * Logging for the long-lived engine: one line per event, to stderr, as text
 * for a person at a terminal or JSON for a log pipeline (`--log-format json`).
 * Levels: debug < info < warn < error. Fields are data, never secrets: the
 * caller passes what is safe to print.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(opts: { level?: LogLevel; format?: 'text' | 'json'; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[level] < min) return;
    if (opts.format === 'json') {
      write(jsonLine(new Date().toISOString(), level, msg, fields));
      return;
    }
    const extra = fields && Object.keys(fields).length > 0
      ? ' ' + Object.entries(fields).map(([k, v]) => `${k}=${textOf(v)}`).join(' ')
      : '';
    write(`${new Date().toISOString()} ${level.padEnd(5)} ${msg}${extra}`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

/**
 * One JSON object per line: `time`, `level` and `msg` first, then the
 * fields. A field named like one of those three is written with a `field_`
 * prefix rather than replace it; offsets (bigint) as strings and errors as
 * their message, so that no field can make the line fail to print.
 */
function jsonLine(time: string, level: LogLevel, msg: string, fields: Record<string, unknown> | undefined): string {
  const line: Record<string, unknown> = { time, level, msg };
  if (fields) for (const [k, v] of Object.entries(fields)) line[k === 'time' || k === 'level' || k === 'msg' ? `field_${k}` : k] = v;
  return JSON.stringify(line, printable);
}

function textOf(v: unknown): string {
  if (typeof v === 'string' || typeof v === 'bigint') return String(v);
  if (v instanceof Error) return v.message;
  return JSON.stringify(v, printable);
}

function printable(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v instanceof Error ? v.message : v;
}
