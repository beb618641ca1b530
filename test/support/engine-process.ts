/**
 * Runs `aud run` as a child process for integration tests, the way a user
 * would: the built CLI, real flags, logs on stderr. Waits for log lines so a
 * test knows when the engine owns its partitions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const cli = resolve(dirname(fileURLToPath(import.meta.url)), '../../cli/aud.js');

export class EngineProcess {
  readonly logs: string[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  private waiters: { pattern: RegExp; count: number; resolve: () => void }[] = [];

  constructor(args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(process.execPath, [cli, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let buffer = '';
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        this.logs.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
      this.waiters = this.waiters.filter((w) => {
        if (this.logs.filter((l) => w.pattern.test(l)).length < w.count) return true;
        w.resolve();
        return false;
      });
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((res) => this.child.on('exit', (code) => res(code)));
  }

  /** Resolves when `count` log lines match `pattern`; rejects on timeout or exit, with the log. */
  waitForLog(pattern: RegExp, count = 1, timeoutMs = 60_000): Promise<void> {
    if (this.logs.filter((l) => pattern.test(l)).length >= count) return Promise.resolve();
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`timed out waiting for ${pattern} x${count}; engine log:\n${this.logs.join('\n')}`)), timeoutMs);
      this.exited.then((code) => rej(new Error(`engine exited (${code}) while waiting for ${pattern}; log:\n${this.logs.join('\n')}`)));
      this.waiters.push({ pattern, count, resolve: () => { clearTimeout(timer); res(); } });
    });
  }

  /** The process id, for a look at its memory. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** A signal such as SIGHUP (reload the rule files). */
  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  /** kill -9: no clean stop, nothing flushed. */
  kill(): void {
    this.child.kill('SIGKILL');
  }

  /** Wait for the process to exit by itself; its exit code (null: killed by a signal). Killed after `timeoutMs`. */
  async exitCode(timeoutMs: number): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** SIGTERM and wait for a clean exit; returns the exit code. */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
