/**
 * The whole front end in one call: read → parse → check → plan.
 *
 * Every file is parsed and checked even when an earlier one has errors, so
 * that a user sees every error at once; no plan is built when there is any.
 */
import { readFile } from 'node:fs/promises';
import type { RuleFile } from './ast.js';
import { checkRuleFiles } from './checker/check.js';
import { formatDiagnostic, sortDiagnostics, type Diagnostic } from './diagnostics.js';
import { parseRuleFile } from './parse.js';
import type { Plan } from './plan.js';
import { buildPlan } from './planner.js';
import { SourceLines } from './source-lines.js';

export interface CompileResult {
  plan?: Plan;
  files: RuleFile[];
  diagnostics: Diagnostic[];
  /** Source text by path, for printing diagnostics with their line. */
  sources: Map<string, string>;
}

export function compileSources(sources: Map<string, string>): CompileResult {
  const files: RuleFile[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const [path, text] of sources) {
    const parsed = parseRuleFile(path, text);
    files.push(parsed.file);
    diagnostics.push(...parsed.diagnostics);
  }
  diagnostics.push(...checkRuleFiles(files).diagnostics);
  const sorted = sortDiagnostics(diagnostics);
  if (sorted.length > 0) return { files, diagnostics: sorted, sources };
  return { plan: buildPlan(files), files, diagnostics: sorted, sources };
}

export class RuleFileReadError extends Error {
  constructor(readonly path: string, cause: unknown) {
    super(`cannot read rule file ${path}: ${(cause as Error).message}`, { cause });
    this.name = 'RuleFileReadError';
  }
}

export async function compileFiles(paths: readonly string[]): Promise<CompileResult> {
  const sources = new Map<string, string>();
  for (const path of paths) {
    try {
      sources.set(path, await readFile(path, 'utf8'));
    } catch (err) {
      throw new RuleFileReadError(path, err);
    }
  }
  return compileSources(sources);
}

/** Every diagnostic, formatted with its line and caret, separated by blank lines. */
export function formatDiagnostics(result: CompileResult): string {
  const linesByFile = new Map<string, SourceLines>();
  const linesOf = (file: string): SourceLines => {
    let lines = linesByFile.get(file);
    if (!lines) linesByFile.set(file, lines = new SourceLines(result.sources.get(file) ?? ''));
    return lines;
  };
  return result.diagnostics
    .map((d) => formatDiagnostic(d, linesOf(d.span.file)))
    .join('\n\n');
}
