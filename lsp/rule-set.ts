/**
 * A rule set as the language server sees it: the `.aud` files of one folder,
 * checked together as `aud check` would check them all, with the text of an
 * editor's open document in place of the file on disk.
 *
 * Each analysis parses every file of the folder (a parse is cached by its
 * text, so typing in one file re-parses that file only, and within it only
 * the declarations that changed: declaration-cache.ts), runs the checker over
 * all of them, and indexes every name (symbol-index.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RuleFile } from '../dsl/ast.js';
import { checkRuleFiles, type CheckResult } from '../dsl/checker/check.js';
import { sortDiagnostics, type Diagnostic } from '../dsl/diagnostics.js';
import { DeclarationCache } from './declaration-cache.js';
import { indexSymbols, type SymbolIndex } from './symbol-index.js';

export interface RuleSetFile {
  path: string;
  text: string;
  file: RuleFile;
}

export interface RuleSetAnalysis {
  /** By path, in the order `aud check` would read them (sorted by name). */
  files: Map<string, RuleSetFile>;
  /** Every diagnostic of every file, sorted by file and position. */
  diagnostics: Diagnostic[];
  check: CheckResult;
  symbols: SymbolIndex;
}

/** The folder whose files form the rule set of `path`; a document with no file on disk (untitled) is a rule set alone. */
export function ruleSetKey(path: string, onDisk: boolean): string {
  return onDisk ? dirname(path) : path;
}

export class RuleSets {
  private readonly parsed = new Map<string, { text: string; file: RuleFile; diagnostics: Diagnostic[] }>();
  private readonly declarations = new Map<string, DeclarationCache>();

  /**
   * @param openText the editor's text of a path, if it is open
   * @param openPaths every open document's path, for rule sets of documents not on disk
   */
  constructor(private readonly openText: (path: string) => string | undefined) {}

  analyse(key: string, onDisk: boolean, openPaths: Iterable<string>): RuleSetAnalysis {
    const paths = new Set<string>();
    if (onDisk) {
      try {
        for (const name of readdirSync(key)) if (name.endsWith('.aud')) paths.add(join(key, name));
      } catch {
        // The folder is gone or unreadable: the open documents still form a rule set.
      }
      for (const p of openPaths) if (dirname(p) === key && p.endsWith('.aud')) paths.add(p);
    } else {
      paths.add(key);
    }
    const files = new Map<string, RuleSetFile>();
    const diagnostics: Diagnostic[] = [];
    for (const path of [...paths].sort()) {
      const text = this.openText(path) ?? readText(path);
      if (text === undefined) continue;
      const parsed = this.parse(path, text);
      files.set(path, { path, text, file: parsed.file });
      diagnostics.push(...parsed.diagnostics);
    }
    const ruleFiles = [...files.values()].map((f) => f.file);
    const check = checkRuleFiles(ruleFiles);
    diagnostics.push(...check.diagnostics);
    return { files, diagnostics: sortDiagnostics(diagnostics), check, symbols: indexSymbols(ruleFiles) };
  }

  /** Forget a closed file's cached parse (its text on disk is read again next time). */
  forget(path: string): void {
    this.parsed.delete(path);
    this.declarations.delete(path);
  }

  private parse(path: string, text: string): { file: RuleFile; diagnostics: Diagnostic[] } {
    const cached = this.parsed.get(path);
    if (cached && cached.text === text) return cached;
    let pieces = this.declarations.get(path);
    if (!pieces) this.declarations.set(path, (pieces = new DeclarationCache()));
    const parsed = pieces.parse(path, text);
    this.parsed.set(path, { text, ...parsed });
    return parsed;
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
