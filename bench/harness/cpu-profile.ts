/**
 * Where a Node process spent its time: a `--cpu-prof` profile summed by
 * self time, per function and per file, for RESULTS.md. Files under the
 * repository are shown relative to it; `(program)`, `(garbage collector)`
 * and `(idle)` are V8's own buckets.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
interface Profile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] }

export interface ProfileSummary {
  seconds: number;
  functions: { name: string; share: number }[];
  files: { name: string; share: number }[];
}

function where(url: string, repo: string): string {
  if (!url) return '(native / V8)';
  const path = url.replace(/^file:\/\//, '');
  if (path.includes('/node_modules/')) return path.slice(path.lastIndexOf('/node_modules/') + 1);
  if (path.startsWith(repo)) return path.slice(repo.length + 1);
  return path;
}

export function summariseProfiles(dir: string, repo: string, top = 15): ProfileSummary | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return undefined;
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  let seconds = 0;
  for (const f of files) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile;
    seconds += (p.endTime - p.startTime) / 1e6;
    for (const n of p.nodes) {
      const hits = n.hitCount ?? 0;
      if (hits === 0) continue;
      const file = where(n.callFrame.url, repo);
      const name = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url ? `${file}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
      byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
      byFile.set(file.startsWith('(') ? n.callFrame.functionName || file : file, (byFile.get(file.startsWith('(') ? n.callFrame.functionName || file : file) ?? 0) + hits);
      total += hits;
    }
  }
  const rank = (m: Map<string, number>): { name: string; share: number }[] =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, hits]) => ({ name, share: hits / total }));
  return { seconds, functions: rank(byFunction), files: rank(byFile) };
}
