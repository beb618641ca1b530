/**
 * A customer's state from the group's changelog topic: what `aud why
 * --brokers` explains. No engine needs to run, and none is disturbed: the
 * changelog is read outside the consumer group (runtime/changelog-customer.ts),
 * as the committed state a restore would start from.
 *
 * The rules in force on the partition are the ones its last commit
 * recorded; when they differ from the files given (a change not deployed
 * yet, or the wrong files), the why follows the recorded ones, since those
 * made the memberships, and says so.
 */
import type { KafkaOptions } from '../connectors/kafka/options.js';
import type { Plan } from '../dsl/plan.js';
import type { WhyInput } from '../engine/customer-why.js';
import type { Logger } from '../engine/log.js';
import { PartitionTask } from '../engine/partition-task.js';
import { customerFromChangelog } from '../runtime/changelog-customer.js';
import { UnknownCustomerError } from './replayed-customer.js';

export interface LoggedCustomerOptions {
  plan: Plan;
  kafka: KafkaOptions;
  changelogTopic: string;
  customer: string;
  log: Logger;
}

/** `customer`: the id the state is the customer's under (an identity source's profile id, whichever identifier was asked for). */
export async function loggedCustomer(opts: LoggedCustomerOptions): Promise<WhyInput & { rulesDiffer: boolean; customer: string }> {
  const found = await customerFromChangelog(opts.kafka, opts.changelogTopic, opts.customer, opts.log, opts.plan.source.identity !== undefined);
  if (!found) {
    throw new UnknownCustomerError(`no state for customer "${opts.customer}" in ${opts.changelogTopic} (every partition read): ` +
      'the engine has not seen an event of theirs yet, or --group names another consumer group than the engine\'s');
  }
  const stored = await PartitionTask.storedPlan(found.store);
  const plan = stored ?? opts.plan;
  const task = await PartitionTask.open(plan, found.store);
  const state = await task.committedState(found.customer);
  if (!state) throw new Error(`internal error: ${opts.changelogTopic}/${found.partition} held customer "${found.customer}" and then did not`);
  return {
    customer: found.customer, plan, state, now: task.clock, partition: found.partition, transitions: task.recentTransitions(state),
    rulesDiffer: stored !== undefined && stored.fingerprint !== opts.plan.fingerprint,
  };
}
