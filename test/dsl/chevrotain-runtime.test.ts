/**
 * dsl/chevrotain.ts loads Chevrotain from the single-file build its package
 * ships, a file the package's "exports" do not name. These tests fail when a
 * Chevrotain release moves, drops or changes that file, and when code
 * imports Chevrotain's runtime from anywhere else (two copies would not
 * recognise each other's token types).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as entryPoint from 'chevrotain';
import { chevrotainSource, CstParser, Lexer, VERSION } from '../../dsl/chevrotain.js';

/** The repository root: this file runs as dist/test/dsl/chevrotain-runtime.test.js. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('Chevrotain is loaded from its single-file build, the same release as its entry point', () => {
  assert.equal(chevrotainSource, 'bundle', 'lib/chevrotain.mjs is missing from the chevrotain package: see dsl/chevrotain.ts');
  assert.equal(VERSION, entryPoint.VERSION);
  assert.equal(typeof CstParser, 'function');
  assert.equal(typeof Lexer, 'function');
});

test('only dsl/chevrotain.ts imports Chevrotain at run time; elsewhere types only', () => {
  const folders = ['dsl', 'engine', 'runtime', 'connectors', 'cli', 'lsp'];
  const offenders: string[] = [];
  for (const folder of folders) {
    for (const entry of readdirSync(join(ROOT, folder), { withFileTypes: true, recursive: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      const path = join(entry.parentPath, entry.name);
      const file = relative(ROOT, path).replace(/\\/g, '/');
      if (file === 'dsl/chevrotain.ts') continue;
      const text = readFileSync(path, 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^;]*?from\s*['"]chevrotain['"]|import\s*\(\s*['"]chevrotain['"]\s*\)/gm)) {
        if (!m[1]) offenders.push(`${file}: ${m[0].trim()}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});
