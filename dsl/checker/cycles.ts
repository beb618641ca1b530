/**
 * Audience cycles: `a` uses `in b`, `b` uses `in a`. Membership is evaluated
 * in dependency order, so a cycle has no meaning. `in X` inside a trait
 * counts for every audience that uses the trait.
 */
import { audienceConditions, type Expr } from '../ast.js';
import type { Span } from '../diagnostics.js';
import type { Declarations } from './declarations.js';

export interface AudienceCycle {
  path: string[];
  span: Span;
}

function audiencesUsed(e: Expr | undefined, decls: Declarations, out: Set<string>, seenTraits: Set<string>): void {
  if (!e) return;
  switch (e.kind) {
    case 'in-audience': out.add(e.audience.name); return;
    case 'name': {
      const t = decls.traits.get(e.name.name);
      if (t && !seenTraits.has(e.name.name)) {
        seenTraits.add(e.name.name);
        audiencesUsed(t.expr, decls, out, seenTraits);
      }
      return;
    }
    case 'binary': audiencesUsed(e.left, decls, out, seenTraits); audiencesUsed(e.right, decls, out, seenTraits); return;
    case 'unary': audiencesUsed(e.operand, decls, out, seenTraits); return;
    case 'in-list': audiencesUsed(e.operand, decls, out, seenTraits); return;
    case 'call': e.args.forEach((a) => audiencesUsed(a, decls, out, seenTraits)); return;
    case 'over': audiencesUsed(e.operand, decls, out, seenTraits); return;
    default: return;
  }
}

/** Each cycle once, reported at the first audience of the cycle in declaration order. */
export function findAudienceCycles(decls: Declarations): AudienceCycle[] {
  const edges = new Map<string, string[]>();
  for (const [name, a] of decls.audiences) {
    const used = new Set<string>();
    for (const e of audienceConditions(a)) audiencesUsed(e, decls, used, new Set());
    edges.set(name, [...used].filter((u) => decls.audiences.has(u)));
  }
  const cycles: AudienceCycle[] = [];
  const seen = new Set<string>();
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'visiting');
    stack.push(n);
    for (const m of edges.get(n) ?? []) {
      if (state.get(m) === 'visiting') {
        const path = [...stack.slice(stack.indexOf(m)), m];
        const key = [...path.slice(0, -1)].sort().join(',');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push({ path, span: decls.audiences.get(m)!.name.span });
        }
      } else if (!state.has(m)) {
        visit(m);
      }
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of decls.audiences.keys()) if (!state.has(n)) visit(n);
  return cycles;
}
