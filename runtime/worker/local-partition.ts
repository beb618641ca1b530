/**
 * A partition's rules in the calling thread: a PartitionTask over its store.
 * `aud run --workers 0` uses it for every partition, and the worker thread
 * (partition-worker.ts) uses it for the partitions it owns, so both paths run
 * the same code.
 */
import type { Plan } from '../../dsl/plan.js';
import { checkpointWrite } from '../changelog.js';
import type { CustomerWhy } from '../../engine/customer-why.js';
import { PartitionTask, type BatchResult, type CustomerView, type PartitionTaskOptions } from '../../engine/partition-task.js';
import type { RecordBatch } from '../../engine/record-batch.js';
import { isLoggedKey } from '../../engine/state-keys.js';
import type { PartitionStore, StoreWrite } from '../../engine/state/store.js';
import { RuleDeployment } from '../../engine/deployment.js';
import { planRuleChange, RuleChangeRefused, ruleChangeRefusal } from '../../engine/rule-change.js';
import type { ChangelogCopy, DeployBegin, DeployFinish, PartitionRunner, PartitionSnapshot, RunnerStep } from './partition-runner.js';

export class LocalPartition implements PartitionRunner {
  private prepared: StoreWrite[] | undefined;
  /** A rule change in progress (engine/deployment.ts), between deployBegin and deployFinish. */
  private deployment: RuleDeployment | undefined;

  private constructor(private task: PartitionTask, private readonly store: PartitionStore, private readonly options: PartitionTaskOptions) {}

  /**
   * The rules over a store. A store built by other rules (its recorded
   * plan) opens with those: the runtime then deploys `plan` on it
   * (snapshot.rules says which rules run), never takes it over as is.
   */
  static async open(plan: Plan, store: PartitionStore, options: PartitionTaskOptions): Promise<LocalPartition> {
    const stored = await PartitionTask.storedPlan(store);
    // Rules that could not be deployed on this state are refused here, before the partition runs (not retried at each reopen).
    const refused = stored && stored.fingerprint !== plan.fingerprint ? ruleChangeRefusal(planRuleChange(stored, plan)) : undefined;
    if (refused) throw new RuleChangeRefused(`the state of this partition was built by other rules (plan ${stored!.fingerprint}), and ${refused}`);
    const task = await PartitionTask.open(stored && stored.fingerprint !== plan.fingerprint ? stored : plan, store, options);
    return new LocalPartition(task, store, options);
  }

  get snapshot(): PartitionSnapshot {
    return { clock: this.task.clock, nextOffset: this.task.nextOffset, pendingTimers: this.task.pendingTimers, sizes: this.task.audienceSizes(),
      largestStateBytes: this.task.largestStateBytes, boundedAdds: this.task.boundedAdds, rules: this.task.plan.fingerprint, pendingCustomers: this.task.pendingCustomers,
      ...(this.deployment ? { history: this.deployment.progress.applied } : {}),
    };
  }

  async deployBegin(plan: Plan): Promise<DeployBegin> {
    if (this.deployment) throw new Error('internal error: a rule change began while another is in progress');
    const { deployment, outputs } = await RuleDeployment.begin(this.task, this.store, plan, this.task.clock, this.options);
    this.deployment = deployment;
    return { step: { outputs, bad: [], skipped: 0, applied: 0, consumed: 0 }, at: deployment.at, historyFrom: deployment.historyFrom ?? null };
  }

  async deployHistory(batch: RecordBatch): Promise<RunnerStep> {
    const deployment = this.deploying();
    const applied = await deployment.history(batch);
    // From here on, commits are the new rules' task's.
    this.task = deployment.newRules!;
    return { outputs: [], bad: [], skipped: 0, applied, consumed: batch.count };
  }

  async deployFinish(limit: number): Promise<DeployFinish> {
    const deployment = this.deploying();
    const { task, outputs, done } = await deployment.finish(limit);
    this.task = task;
    if (done) this.deployment = undefined;
    return { step: { outputs, bad: [], skipped: 0, applied: 0, consumed: 0 }, done, historyEvents: deployment.progress.applied, earliest: deployment.progress.earliest };
  }

  private deploying(): RuleDeployment {
    if (!this.deployment) throw new Error('internal error: no rule change in progress');
    return this.deployment;
  }

  process(batch: RecordBatch): Promise<BatchResult> {
    return this.task.process(batch);
  }

  async advanceTo(t: number): Promise<BatchResult> {
    return { outputs: await this.task.advanceTo(t), bad: [], skipped: 0, applied: 0, consumed: 0 };
  }

  async prepareCommit(nextOffset: bigint | undefined): Promise<ChangelogCopy> {
    const prepared = this.task.prepareCommit(nextOffset);
    this.prepared = prepared;
    const changelog: ChangelogCopy = [];
    for (const w of prepared) {
      if (isLoggedKey(w.key)) changelog.push({ key: w.key, value: w.type === 'put' ? w.value : null });
    }
    return changelog;
  }

  async writeCommit(changelogCheckpoint: bigint | undefined): Promise<void> {
    const prepared = this.prepared;
    if (!prepared) throw new Error('internal error: writeCommit without a prepared commit');
    this.prepared = undefined;
    await this.task.writeCommit(changelogCheckpoint === undefined ? prepared : [...prepared, checkpointWrite(changelogCheckpoint)]);
  }

  view(customer: string): Promise<CustomerView | undefined> {
    return this.task.view(customer);
  }

  why(customer: string): Promise<CustomerWhy | undefined> {
    return this.task.why(customer);
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
