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
 * The caller commits after each step, and may commit between the batches
 * of steps 2 and 3 (each commit with that batch's output), so that a
 * deployment need not hold every customer in memory. The new plan is
 * recorded as the store's only with step 3's last commit: a crash before
 * it leaves a store of the old plan, and the deployment is done again from
 * step 1, which repeats nothing: step 1 finds the removed audiences left
 * already, step 2 empties each customer's new states at its first event,
 * step 3 finds the memberships it changed already changed.
 */
import type { Plan } from '../dsl/plan.js';
import type { OutputEvent } from './output-event.js';
import { PartitionTask, type PartitionTaskOptions } from './partition-task.js';
import type { RecordBatch } from './record-batch.js';
import { planRuleChange, RuleChangeRefused, ruleChangeRefusal, type RuleChange } from './rule-change.js';
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

  /** Step 1, on the old rules' task (RuleChangeRefused, before anything is done, for a change ruleChangeRefusal refuses); its output is the old rules' timers due by `at`, then the removed audiences' leaves. */
  static async begin(from: PartitionTask, store: PartitionStore, to: Plan, at: number, options: PartitionTaskOptions): Promise<{ deployment: RuleDeployment; outputs: OutputEvent[] }> {
    const change = planRuleChange(from.plan, to);
    const refused = ruleChangeRefusal(change);
    if (refused) throw new RuleChangeRefused(refused);
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

  /**
   * Step 3, for up to `limit` customers (in key order) per call: the new
   * rules' task, with their rule_change enters and leaves. The caller
   * commits the task after each call, and calls again until `done`; the
   * last commit records the new plan as the store's.
   */
  async finish(limit = Infinity): Promise<{ task: PartitionTask; outputs: OutputEvent[]; done: boolean }> {
    const task = await this.newTask();
    const outputs: OutputEvent[] = [];
    if (task.buildProgress) this.built = task.buildProgress;
    const done = await task.applyRuleChange(this.change.reevaluate, outputs, limit);
    return { task, outputs, done };
  }

  /** The new rules' task, once step 2 or 3 has begun; undefined before. */
  get newRules(): PartitionTask | undefined {
    return this.task;
  }

  private async newTask(): Promise<PartitionTask> {
    if (this.task) return this.task;
    const task = await PartitionTask.open(this.change.to, this.store, this.options);
    task.holdPlanRecord();
    const from = this.historyFrom;
    if (from !== undefined) task.startBuild(this.change.newSlots, from, this.at, this.change.newEvents);
    this.task = task;
    return task;
  }
}
