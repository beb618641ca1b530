/**
 * `aud lsp`: the language server for `.aud` files, over stdio.
 *
 * Every request is answered from an analysis of the rule set of the document
 * (rule-set.ts: the `.aud` files of its folder, open documents as the editor
 * has them), made anew when a document of that folder changes. The parser and
 * checker return diagnostics instead of throwing, so partial text is fine; a
 * failure of ours in a request handler is answered as an error and logged,
 * and the server goes on.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  createConnection, ProposedFeatures, StreamMessageReader, StreamMessageWriter, TextDocuments, TextDocumentSyncKind,
  type Connection, type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { FormatError, formatRuleText } from '../dsl/format.js';
import { quickFixes } from './code-actions.js';
import { complete } from './completion.js';
import { definition, references } from './definition.js';
import { diagnosticsByFile } from './diagnostics.js';
import { hover } from './hover.js';
import { prepareRename, rename } from './rename.js';
import { RuleSets, ruleSetKey, type RuleSetAnalysis } from './rule-set.js';
import { documentSymbols } from './symbols.js';

/** A document's path: the file path of a file: URI, the URI itself otherwise (an untitled buffer). */
function pathOf(uri: string): { path: string; onDisk: boolean } {
  if (uri.startsWith('file:')) {
    try {
      return { path: fileURLToPath(uri), onDisk: true };
    } catch {
      // A file: URI Node cannot map (another platform's): treat it as a buffer.
    }
  }
  return { path: uri, onDisk: false };
}

export function startLanguageServer(input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stdout): Connection {
  const connection = createConnection(ProposedFeatures.all, new StreamMessageReader(input), new StreamMessageWriter(output));
  const documents = new TextDocuments(TextDocument);
  /** The URI the editor uses for each open path, so that answers name files as the editor does. */
  const uris = new Map<string, string>();
  const ruleSets = new RuleSets((path) => {
    const uri = uris.get(path);
    return uri === undefined ? undefined : documents.get(uri)?.getText();
  });
  const analyses = new Map<string, RuleSetAnalysis>();

  const uriOf = (path: string): string => uris.get(path) ?? (path.includes(':') && !path.startsWith('/') ? path : pathToFileURL(path).href);

  const analysisOf = (uri: string): { analysis: RuleSetAnalysis; path: string } => {
    const { path, onDisk } = pathOf(uri);
    const key = ruleSetKey(path, onDisk);
    let analysis = analyses.get(key);
    if (!analysis) {
      analysis = ruleSets.analyse(key, onDisk, uris.keys());
      analyses.set(key, analysis);
    }
    return { analysis, path };
  };

  const refresh = (uri: string): void => {
    const { path, onDisk } = pathOf(uri);
    analyses.delete(ruleSetKey(path, onDisk));
    const { analysis } = analysisOf(uri);
    // The other files of the rule set first, the changed document last and
    // with its version: a client that sees that one has the whole batch.
    const byFile = diagnosticsByFile(analysis);
    for (const [file, diagnostics] of byFile) {
      if (file !== path) void connection.sendDiagnostics({ uri: uriOf(file), diagnostics });
    }
    const version = documents.get(uri)?.version;
    void connection.sendDiagnostics({ uri, diagnostics: byFile.get(path) ?? [], ...(version !== undefined ? { version } : {}) });
  };

  /** Run a handler; a bug of ours is logged and answered with `fallback`, never a crash. */
  const guarded = <A extends unknown[], R>(name: string, fallback: R, f: (...args: A) => R) => (...args: A): R => {
    try {
      return f(...args);
    } catch (err) {
      connection.console.error(`aud lsp: ${name} failed: ${(err as Error).stack ?? String(err)}`);
      return fallback;
    }
  };

  connection.onInitialize((): InitializeResult => ({
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      completionProvider: { triggerCharacters: ['.'] },
      hoverProvider: true,
      definitionProvider: true,
      referencesProvider: true,
      renameProvider: { prepareProvider: true },
      documentSymbolProvider: true,
      documentFormattingProvider: true,
      codeActionProvider: { codeActionKinds: ['quickfix'] },
    },
    serverInfo: { name: 'aud' },
  }));

  // Opening a document fires onDidOpen, then onDidChangeContent: analyse once, on the latter.
  documents.onDidOpen(guarded('open', undefined, (e) => { uris.set(pathOf(e.document.uri).path, e.document.uri); }));
  documents.onDidChangeContent(guarded('change', undefined, (e) => refresh(e.document.uri)));
  documents.onDidClose(guarded('close', undefined, (e) => {
    const { path } = pathOf(e.document.uri);
    uris.delete(path);
    ruleSets.forget(path);
    refresh(e.document.uri);
  }));
  connection.onDidChangeWatchedFiles(guarded('watched files', undefined, () => analyses.clear()));

  const offsetIn = (uri: string, position: { line: number; character: number }): number | undefined => documents.get(uri)?.offsetAt(position);

  connection.onCompletion(guarded('completion', [], (p) => {
    const doc = documents.get(p.textDocument.uri);
    if (!doc) return [];
    return complete(analysisOf(p.textDocument.uri).analysis, doc.getText(), doc.offsetAt(p.position));
  }));
  connection.onHover(guarded('hover', null, (p) => {
    const offset = offsetIn(p.textDocument.uri, p.position);
    if (offset === undefined) return null;
    const { analysis, path } = analysisOf(p.textDocument.uri);
    return hover(analysis, path, offset);
  }));
  connection.onDefinition(guarded('definition', [], (p) => {
    const offset = offsetIn(p.textDocument.uri, p.position);
    if (offset === undefined) return [];
    const { analysis, path } = analysisOf(p.textDocument.uri);
    return definition(analysis, path, offset, uriOf);
  }));
  connection.onReferences(guarded('references', [], (p) => {
    const offset = offsetIn(p.textDocument.uri, p.position);
    if (offset === undefined) return [];
    const { analysis, path } = analysisOf(p.textDocument.uri);
    return references(analysis, path, offset, p.context.includeDeclaration, uriOf);
  }));
  connection.onPrepareRename(guarded('prepare rename', null, (p) => {
    const offset = offsetIn(p.textDocument.uri, p.position);
    if (offset === undefined) return null;
    const { analysis, path } = analysisOf(p.textDocument.uri);
    return prepareRename(analysis, path, offset);
  }));
  connection.onRenameRequest(guarded('rename', null, (p) => {
    const offset = offsetIn(p.textDocument.uri, p.position);
    if (offset === undefined) return null;
    const { analysis, path } = analysisOf(p.textDocument.uri);
    return rename(analysis, path, offset, p.newName, uriOf);
  }));
  connection.onDocumentSymbol(guarded('document symbols', [], (p) => {
    const { analysis, path } = analysisOf(p.textDocument.uri);
    const file = analysis.files.get(path);
    return file ? documentSymbols(file.file) : [];
  }));
  connection.onDocumentFormatting(guarded('formatting', [], (p) => {
    const doc = documents.get(p.textDocument.uri);
    if (!doc) return [];
    let result;
    try {
      result = formatRuleText(pathOf(doc.uri).path, doc.getText());
    } catch (err) {
      if (err instanceof FormatError) { connection.console.error(err.message); return []; }
      throw err;
    }
    if (!result.ok || result.text === doc.getText()) return [];
    return [{ range: { start: { line: 0, character: 0 }, end: doc.positionAt(doc.getText().length) }, newText: result.text }];
  }));
  connection.onCodeAction(guarded('code action', [], (p) => {
    const doc = documents.get(p.textDocument.uri);
    return doc ? quickFixes(doc, p.textDocument.uri, p.context.diagnostics) : [];
  }));

  documents.listen(connection);
  connection.listen();
  return connection;
}
