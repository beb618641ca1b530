/**
 * Compiling the rule files named on the command line, the same way for every
 * command: on any error, print them all (file:line:col, the line, a caret)
 * to stderr and report failure; nothing runs with an error in any file.
 */
import type { Plan } from '../dsl/plan.js';

export async function loadPlan(paths: readonly string[]): Promise<Plan | undefined> {
  // Loaded here, not at the top: every command imports this file, and the parser is built when its module loads.
  const { compileFiles, formatDiagnostics, RuleFileReadError } = await import('../dsl/compile.js');
  let result;
  try {
    result = await compileFiles(paths);
  } catch (err) {
    if (err instanceof RuleFileReadError) {
      process.stderr.write(`error: ${err.message}\n`);
      return undefined;
    }
    throw err;
  }
  if (result.diagnostics.length > 0) {
    const files = new Set(result.diagnostics.map((d) => d.span.file)).size;
    const n = result.diagnostics.length;
    process.stderr.write(`${formatDiagnostics(result)}\n\n${n} error${n === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}; nothing was run.\n`);
    return undefined;
  }
  return result.plan;
}
