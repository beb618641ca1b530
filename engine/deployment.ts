/**
 * Deploying new rules on a running partition at an instant T
 * (customer-lifecycle.md, section 1), in the order that makes the output
 * what the contract says:
 *
 *  1. the old rules' clock moves to T: their timers due by then fire;
 *  2. members of audiences the new rules drop leave (reason rule_change);
 *  3. the new rules open on the same store: kept states and memberships
 *     are read by slot id and audience name (customer-state.ts);
 *  4. the states only the new rules have are built from the history
 *     (events up to T, from T minus the longest new window);
 *  5. every audience whose definition changed (rule-change.ts) is computed
 *     again for every customer at T; each membership that differs from the
 *     old rules' is an enter or leave with reason rule_change and `at` T,
 *     its version continuing the old counter.
 *
 * Unchanged audiences are not touched: they read the same states, so their
 * value is the same, and they emit nothing because of the change.
 */
import type { Plan } from '../dsl/plan.js';
import type { InputRecord } from './input-record.js';
import type { OutputEvent } from './output-event.js';
import { PartitionTask, type PartitionTaskOptions } from './partition-task.js';
import { planRuleChange, type RuleChange } from './rule-change.js';
import type { PartitionStore } from './state/store.js';

export interface DeploymentResult {
  task: PartitionTask;
  change: RuleChange;
  /** The old rules' timer changes up to T, then the rule_change enters and leaves. */
  outputs: OutputEvent[];
  /** History events applied to the new states. */
  historyEvents: number;
}

export interface DeployOptions extends PartitionTaskOptions {
  /** History read so far and events applied, after each batch of it. */
  onHistoryProgress?(records: number, applied: number): void;
}

/**
 * Replace `from`'s rules by `to` at `at` (epoch ms, not before from's clock
 * moves there). `history` gives the partition's records from its start (or
 * from any point at or before `at` minus the change's historyMs) up to the
 * change. `from` must not be used afterwards.
 */
export async function deployRules(
  from: PartitionTask, store: PartitionStore, to: Plan, at: number,
  history: () => AsyncIterable<InputRecord> | Iterable<InputRecord>, options: DeployOptions = {},
): Promise<DeploymentResult> {
  const change = planRuleChange(from.plan, to);
  const outputs = await from.advanceTo(at);
  await from.commit();
  await from.leaveAudiences(change.removed, outputs);
  await from.commit();
  const { onHistoryProgress, ...taskOptions } = options;
  const task = await PartitionTask.open(to, store, taskOptions);
  let historyEvents = 0;
  if (change.historyMs > 0) {
    historyEvents = await task.buildStates(history(), change.newSlots, at - change.historyMs, at, onHistoryProgress);
  }
  await task.applyRuleChange(change.reevaluate, outputs);
  await task.commit();
  return { task, change, outputs, historyEvents };
}
