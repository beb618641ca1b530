/**
 * Deploying new rules on a running partition at an instant T
 * (customer-lifecycle.md, section 1), in the order that makes the output
 * what the contract says:
 *
 *  1. begin(): the old rules' clock moves to T (their timers due by then
 *     fire), and members of audiences the new rules drop leave (reason
 *     rule_change). The caller commits the old rules' task;
 *  2. history(): the new rules open on the same store (kept states and
 *     memberships are read by slot id and audience name,
 *     customer-state.ts), and the states only they have are built from the
 *     partition's history: events up to T, from T minus the longest new
 *     window (`historyFrom`);
 *  3. finish(): every audience whose definition changed (rule-change.ts) is
 *     computed again for every customer at T; each membership that differs
 *     from the old rules' is an enter or leave with reason rule_change and
 *     `at` T, its version continuing the old counter. The caller commits
 *     the new rules' task, with those events.
 *
 * Unchanged audiences are not touched: they read the same states, so their
 * value is the same, and they emit nothing because of the change.
 *
 * Each step's writes are committed with its output, and a step done again
 * after a crash repeats nothing: begin() finds the removed audiences left
 * already; the build is never committed before finish(), so it starts over
 * from the store as begin() left it.
 */
import type { Plan } from '../dsl/plan.js';
import type { OutputEvent } from './output-event.js';
import { PartitionTask, type PartitionTaskOptions } from './partition-task.js';
import type { RecordBatch } from './record-batch.js';
import { planRuleChange, type RuleChange } from './rule-change.js';
import type { PartitionStore } from './state/store.js';

export class RuleDeployment {
  private task: PartitionTask | undefined;
  /** The build's figures once finished. */
  private built = { applied: 0, earliest: Number.POSITIVE_INFINITY };

  private constructor(
    readonly change: RuleChange,
    /** The instant of the change (epoch ms). */
    readonly at: number,
    private readonly store: PartitionStore,
    private readonly options: PartitionTaskOptions,
  ) {}

  /**
   * Where the history must start (epoch ms, event time): -Infinity for all
   * of it; undefined when the change builds no state.
   */
  get historyFrom(): number | undefined {
    // A partition that never saw an event has no customer to build states for.
    return this.change.historyMs > 0 && Number.isFinite(this.at) ? this.at - this.change.historyMs : undefined;
  }

  /** Step 1, on the old rules' task; its output is the old rules' timers due by `at`, then the removed audiences' leaves. */
  static async begin(from: PartitionTask, store: PartitionStore, to: Plan, at: number, options: PartitionTaskOptions): Promise<{ deployment: RuleDeployment; outputs: OutputEvent[] }> {
    const change = planRuleChange(from.plan, to);
    const outputs = await from.advanceTo(at);
    await from.leaveAudiences(change.removed, outputs);
    return { deployment: new RuleDeployment(change, Math.max(at, from.clock), store, options), outputs };
  }

  /** Step 2, once the old rules' task is committed: a batch of the history, in the partition's order; returns the events applied. */
  async history(batch: RecordBatch): Promise<number> {
    const task = await this.newTask();
    return task.buildFrom(batch);
  }

  /** Events of the history applied so far, and the earliest event time it held. */
  get progress(): { applied: number; earliest: number } {
    return this.task?.buildProgress ?? this.built;
  }

  /** Step 3: the new rules' task, with the rule_change enters and leaves; the caller commits it. */
  async finish(): Promise<{ task: PartitionTask; outputs: OutputEvent[] }> {
    const task = await this.newTask();
    const outputs: OutputEvent[] = [];
    this.built = this.progress;
    await task.applyRuleChange(this.change.reevaluate, outputs);
    return { task, outputs };
  }

  private async newTask(): Promise<PartitionTask> {
    if (this.task) return this.task;
    const task = await PartitionTask.open(this.change.to, this.store, this.options);
    const from = this.historyFrom;
    if (from !== undefined) task.startBuild(this.change.newSlots, from, this.at);
    this.task = task;
    return task;
  }
}
