/**
 * `aud run` picking up changed rule files without a restart: on SIGHUP, and
 * with `--watch` when a file changes. The files are compiled again; a file
 * with errors is refused with every diagnostic (file:line:col, the line, a
 * caret) and the running rules stay; rules that compile are deployed
 * (KafkaRuntime.deploy, engine/deployment.ts). One reload at a time: a
 * request during one runs once it is done.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Plan } from '../dsl/plan.js';
import type { Logger } from '../engine/log.js';

/** Editors save in bursts (write, rename, chmod): one reload after the last of them. */
const WATCH_SETTLE_MS = 300;

export class RuleReloader {
  private running: Promise<void> | undefined;
  private again: string | undefined;
  private readonly watchers: FSWatcher[] = [];
  private settle: NodeJS.Timeout | undefined;

  constructor(private readonly files: readonly string[], private readonly log: Logger, private readonly deploy: (plan: Plan) => Promise<void>) {}

  /** Compile the files again and deploy them; resolves when done (or refused). */
  reload(reason: string): Promise<void> {
    if (this.running) {
      this.again = reason;
      return this.running;
    }
    this.running = this.once(reason).finally(() => {
      this.running = undefined;
      const next = this.again;
      this.again = undefined;
      if (next !== undefined) void this.reload(next);
    });
    return this.running;
  }

  /**
   * Watch the files' directories (an editor often replaces a file rather
   * than writing it, which a watch on the file itself would miss).
   */
  watch(): void {
    const byDir = new Map<string, Set<string>>();
    for (const f of this.files) {
      const path = resolve(f);
      const names = byDir.get(dirname(path)) ?? new Set<string>();
      names.add(basename(path));
      byDir.set(dirname(path), names);
    }
    for (const [dir, names] of byDir) {
      const w = watch(dir, (_event, name) => {
        if (name === null || !names.has(name.toString())) return;
        if (this.settle) clearTimeout(this.settle);
        this.settle = setTimeout(() => { void this.reload(`${name.toString()} changed`); }, WATCH_SETTLE_MS);
      });
      w.unref();
      this.watchers.push(w);
    }
    this.log.info('watching the rule files: a change deploys them', { files: this.files.join(',') });
  }

  close(): void {
    for (const w of this.watchers) w.close();
    if (this.settle) clearTimeout(this.settle);
  }

  private async once(reason: string): Promise<void> {
    const { compileFiles, formatDiagnostics, RuleFileReadError } = await import('../dsl/compile.js');
    this.log.info(`${reason}: reading the rule files again`, { files: this.files.join(',') });
    let result;
    try {
      result = await compileFiles(this.files);
    } catch (err) {
      if (!(err instanceof RuleFileReadError)) throw err;
      this.log.error(`rule change refused: ${err.message}; the running rules stay`);
      return;
    }
    if (result.diagnostics.length > 0 || !result.plan) {
      const n = result.diagnostics.length;
      process.stderr.write(`${formatDiagnostics(result)}\n\n`);
      this.log.error(`rule change refused: ${n} error${n === 1 ? '' : 's'} in the rule files (above); the running rules stay. Fix them and send SIGHUP again${this.watchers.length > 0 ? ' (or save)' : ''}`, { errors: n });
      return;
    }
    try {
      await this.deploy(result.plan);
    } catch (err) {
      this.log.error(`rule change refused: ${(err as Error).message.replace(/^rule change refused: /, '')}; the running rules stay`);
    }
  }
}
