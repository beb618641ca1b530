/**
 * One differential case: the engine (aud replay's code path: PartitionTask,
 * memory store, event clock) against the reference evaluator, on a random
 * rule file and stream. Equal means equal event for event: type, audience,
 * customer, at, version, reason, in the same order.
 */
import { compileSources, formatDiagnostics } from '../../dsl/compile.js';
import type { OutputEvent } from '../../engine/output-event.js';
import { replay } from '../../engine/replay.js';
import { ReferenceEvaluator, type RefOutput } from './evaluator.js';
import { randomCase, type RandomCase } from './random-case.js';

export interface CaseResult {
  case: RandomCase;
  engine: RefOutput[];
  reference: RefOutput[];
  /** Empty when equal; else a description of the first difference. */
  mismatch: string;
}

function strip(e: OutputEvent): RefOutput {
  return { type: e.type, audience: e.audience, customer: e.customer, at: e.at, version: e.version, reason: e.reason };
}

export async function runCase(seed: number): Promise<CaseResult> {
  const c = randomCase(seed);
  const compiled = compileSources(new Map([['random.aud', c.rules]]));
  if (!compiled.plan) {
    return { case: c, engine: [], reference: [], mismatch: `the generated rules do not check:\n${formatDiagnostics(compiled)}` };
  }
  if (c.maxTallyValues !== undefined) {
    for (const slot of compiled.plan.slots) if (slot.kind === 'aggregate' && slot.maxValues !== undefined) slot.maxValues = c.maxTallyValues;
  }
  const engine: RefOutput[] = [];
  const batchSize = 1 + (seed % 7) * 5;
  // Every other case keeps no customer decoded between batches: each batch
  // reads its customers from the store, so the state encoding (which copies
  // what did not change since the last encode) is compared too.
  const cacheCustomers = seed % 2 === 0 ? 0 : undefined;
  await replay(compiled.plan, c.events.map((value) => ({ value })), {
    until: c.until, batchSize, onOutput: (events) => { engine.push(...events.map(strip)); },
    ...(cacheCustomers !== undefined ? { cacheCustomers } : {}),
  });
  const reference = new ReferenceEvaluator(compiled.files, c.maxTallyValues).run(c.events, c.until);
  let mismatch = '';
  const n = Math.max(engine.length, reference.length);
  for (let i = 0; i < n; i++) {
    const a = JSON.stringify(engine[i] ?? null);
    const b = JSON.stringify(reference[i] ?? null);
    if (a !== b) { mismatch = `#${i + 1}: engine ${a}\n     reference ${b}`; break; }
  }
  return { case: c, engine, reference, mismatch };
}

export function describeMismatch(r: CaseResult): string {
  return [
    `seed ${r.case.seed}: ${r.mismatch}`,
    '--- rules', r.case.rules,
    '--- events', ...r.case.events.map((e) => JSON.stringify(e)),
    `--- until ${new Date(r.case.until).toISOString()}`,
    ...(r.case.maxTallyValues !== undefined ? [`--- at most ${r.case.maxTallyValues} values per distinct/top`] : []),
    `--- engine (${r.engine.length})`, ...r.engine.map((e) => JSON.stringify(e)),
    `--- reference (${r.reference.length})`, ...r.reference.map((e) => JSON.stringify(e)),
  ].join('\n');
}
