// Compare two files of enter/leave events (JSON Lines), ignoring "cause":
// the same multiset of events, and for each customer the same order.
// Usage: node compare.mjs ours.jsonl theirs.jsonl   → "equal: N events" (exit 0) or the first differences (exit 1)
import { readFileSync } from 'node:fs';

const FIELDS = ['type', 'audience', 'customer', 'at', 'version', 'reason'];

function load(path) {
  const out = [];
  readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const o = JSON.parse(line);
    delete o.cause;
    const extra = Object.keys(o).filter((k) => !FIELDS.includes(k)).sort();
    const canon = JSON.stringify([...FIELDS, ...extra].map((k) => [k, o[k] ?? null]));
    out.push({ o, canon, line: i + 1 });
  });
  return out;
}

const [oursPath, theirsPath] = process.argv.slice(2);
const ours = load(oursPath);
const theirs = load(theirsPath);
const problems = [];

// Multiset.
const counts = new Map();
for (const e of ours) counts.set(e.canon, (counts.get(e.canon) ?? 0) + 1);
for (const e of theirs) counts.set(e.canon, (counts.get(e.canon) ?? 0) - 1);
for (const [canon, n] of counts) {
  if (n === 0) continue;
  const e = JSON.stringify(Object.fromEntries(JSON.parse(canon)));
  problems.push(n > 0 ? `only in ours (${n}x): ${e}` : `only in theirs (${-n}x): ${e}`);
}

// Per-customer order.
const byCustomer = (list) => {
  const m = new Map();
  for (const e of list) {
    const k = String(e.o.customer);
    if (!m.has(k)) m.set(k, []);
    m.get(k).push(e);
  }
  return m;
};
const oc = byCustomer(ours);
const tc = byCustomer(theirs);
for (const [customer, a] of oc) {
  const b = tc.get(customer) ?? [];
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i]?.canon === b[i]?.canon) continue;
    const show = (e) => (e ? JSON.stringify(e.o) : '(nothing)');
    problems.push(`customer ${customer}, event #${i + 1}: ours ${show(a[i])}, theirs ${show(b[i])}`);
    break;
  }
}
for (const customer of tc.keys()) if (!oc.has(customer)) problems.push(`customer ${customer} only in theirs`);

if (problems.length === 0 && ours.length === theirs.length) {
  console.log(`equal: ${ours.length} events`);
} else {
  console.log(`different: ours ${ours.length} events, theirs ${theirs.length}; ${problems.length} difference(s), the first:`);
  for (const p of problems.slice(0, 20)) console.log('  ' + p);
  process.exitCode = 1;
}
