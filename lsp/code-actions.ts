/**
 * Quick fixes: a diagnostic whose suggestion is `did you mean "X"?` and whose
 * range covers one misspelt name becomes the edit that writes X there.
 */
import { CodeActionKind, type CodeAction, type Diagnostic as LspDiagnostic, type TextEdit } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { DIAGNOSTIC_SOURCE } from './diagnostics.js';

const DID_YOU_MEAN = /; did you mean "([A-Za-z_][A-Za-z0-9_]*)"\?$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function quickFixes(doc: TextDocument, uri: string, diagnostics: LspDiagnostic[]): CodeAction[] {
  const actions: CodeAction[] = [];
  for (const d of diagnostics) {
    if (d.source !== DIAGNOSTIC_SOURCE || typeof d.message !== 'string') continue;
    const word = DID_YOU_MEAN.exec(d.message)?.[1];
    if (!word || !NAME.test(doc.getText(d.range))) continue;
    const edit: TextEdit = { range: d.range, newText: word };
    actions.push({
      title: `Change to "${word}"`,
      kind: CodeActionKind.QuickFix,
      diagnostics: [d],
      isPreferred: true,
      edit: { changes: { [uri]: [edit] } },
    });
  }
  return actions;
}
