/**
 * A process under measurement: spawned with its output in a log file, its
 * peak resident memory (VmHWM from /proc/PID/status, the kernel's own
 * high-water mark) read every half second while it lives, stopped with
 * SIGTERM like an operator would (SIGKILL if it does not exit in time).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';

export class MeasuredProcess {
  private readonly child: ChildProcess;
  private readonly poll: NodeJS.Timeout;
  private peakKb = 0;
  readonly exited: Promise<number | null>;
  readonly startedAt = performance.now();
  private exitCode: number | null | undefined;

  constructor(readonly name: string, command: string, args: string[], readonly logFile: string, env: NodeJS.ProcessEnv = process.env) {
    const log = createWriteStream(logFile);
    log.write(`$ ${command} ${args.join(' ')}\n`);
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.child.stdout!.pipe(log, { end: false });
    this.child.stderr!.pipe(log, { end: false });
    this.poll = setInterval(() => this.readPeak(), 500);
    this.exited = new Promise((res) => this.child.on('exit', (code) => {
      clearInterval(this.poll);
      this.exitCode = code;
      setTimeout(() => log.end(), 50);
      res(code);
    }));
  }

  get pid(): number { return this.child.pid ?? -1; }
  get running(): boolean { return this.exitCode === undefined; }

  private readPeak(): void {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      if (m) this.peakKb = Math.max(this.peakKb, Number(m[1]));
    } catch { /* exited between two polls */ }
  }

  /** Peak resident set size so far, in MB. */
  get peakRssMb(): number { this.readPeak(); return this.peakKb / 1024; }

  /** A signal such as SIGHUP (aud: deploy the rule files again). */
  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  async stop(timeoutMs = 90_000): Promise<number | null> {
    if (!this.running) return this.exitCode ?? null;
    this.readPeak();
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
