/**
 * The checker's and parser's diagnostics as LSP diagnostics, one list per
 * file of the rule set. The message reads as `aud check` prints it, the
 * suggestion after a "; ", so the did-you-mean is visible in the editor and
 * code-actions.ts can offer it as a fix.
 */
import { DiagnosticSeverity, type Diagnostic as LspDiagnostic } from 'vscode-languageserver';
import type { Diagnostic } from '../dsl/diagnostics.js';
import { spanToRange } from './positions.js';
import type { RuleSetAnalysis } from './rule-set.js';

export const DIAGNOSTIC_SOURCE = 'aud';

export function toLspDiagnostic(d: Diagnostic): LspDiagnostic {
  return {
    range: spanToRange(d.span),
    severity: DiagnosticSeverity.Error,
    code: d.code,
    source: DIAGNOSTIC_SOURCE,
    message: d.suggestion ? `${d.message}; ${d.suggestion}` : d.message,
  };
}

/** Every file of the rule set with its diagnostics, an empty list for a clean file (which clears what the editor shows). */
export function diagnosticsByFile(analysis: RuleSetAnalysis): Map<string, LspDiagnostic[]> {
  const byFile = new Map<string, LspDiagnostic[]>();
  for (const path of analysis.files.keys()) byFile.set(path, []);
  for (const d of analysis.diagnostics) {
    const list = byFile.get(d.span.file);
    if (list) list.push(toLspDiagnostic(d));
  }
  return byFile;
}
