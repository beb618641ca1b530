/**
 * The layering, held by check: dsl/ (language → plan) → engine/ (the
 * per-partition core) → runtime/ (the core on Kafka) → connectors/ (the
 * outside world), with cli/ on top. Every `import`/`export … from` and
 * dynamic `import()` of the source folders is read from the TypeScript
 * sources and checked against the rules below; a failure names the file and
 * the import that breaks a rule.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The repository root: this file runs as dist/test/architecture/imports.test.js. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SOURCE_FOLDERS = ['dsl', 'engine', 'runtime', 'connectors', 'cli', 'lsp'];
const KAFKA_CLIENT = '@confluentinc/kafka-javascript';
const ROCKSDB_BINDINGS = ['@nxtedition/rocksdb', 'rocksdb'];

interface ImportSite { file: string; specifier: string; target: string }

/** What a rule says of one import: undefined when allowed, else why not. */
type Rule = (site: ImportSite) => string | undefined;

function inFolder(path: string, folder: string): boolean {
  return path === folder || path.startsWith(`${folder}/`);
}

const RULES: Rule[] = [
  ({ file, target }) => inFolder(file, 'dsl') && ['engine', 'runtime', 'connectors', 'cli', 'lsp'].some((f) => inFolder(target, f))
    ? 'dsl/ imports nothing of the other folders' : undefined,
  ({ file, target }) => inFolder(file, 'engine') && ['runtime', 'connectors', 'cli'].some((f) => inFolder(target, f))
    ? 'engine/ (the core) imports neither runtime/, connectors/ nor cli/' : undefined,
  ({ file, target }) => inFolder(file, 'connectors') && ['runtime', 'cli'].some((f) => inFolder(target, f))
    ? 'connectors/ implement interfaces of engine/ and import neither runtime/ nor cli/' : undefined,
  ({ file, target }) => inFolder(file, 'runtime') && inFolder(target, 'cli') ? 'runtime/ does not import cli/' : undefined,
  ({ file, target }) => inFolder(file, 'lsp') && ['engine', 'runtime', 'connectors', 'cli'].some((f) => inFolder(target, f))
    ? 'lsp/ (the language server) works on the language alone: it imports dsl/ and nothing else of aud' : undefined,
  ({ file, target }) => target === KAFKA_CLIENT && !inFolder(file, 'connectors/kafka')
    ? `only connectors/kafka/ imports ${KAFKA_CLIENT}` : undefined,
  ({ file, target }) => ROCKSDB_BINDINGS.includes(target) && file !== 'engine/state/rocksdb-store.ts'
    ? 'only engine/state/rocksdb-store.ts imports a RocksDB binding' : undefined,
];

const IMPORT_PATTERN = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(=])import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;

/** The imports of one source text: relative ones as repository paths (folder/file.ts), packages by name. */
export function importsOf(file: string, text: string): ImportSite[] {
  const sites: ImportSite[] = [];
  for (const m of text.matchAll(IMPORT_PATTERN)) {
    const specifier = m[1] ?? m[2] ?? m[3]!;
    let target: string;
    if (specifier.startsWith('.')) {
      target = normalize(join(dirname(file), specifier)).replace(/\\/g, '/').replace(/\.js$/, '.ts');
    } else {
      // A package: its name (`@scope/name` or `name`), not the path inside it.
      const parts = specifier.split('/');
      target = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
    }
    sites.push({ file, specifier, target });
  }
  return sites;
}

export function violations(sites: ImportSite[]): string[] {
  const found: string[] = [];
  for (const site of sites) {
    for (const rule of RULES) {
      const why = rule(site);
      if (why) found.push(`${site.file} imports '${site.specifier}': ${why}`);
    }
  }
  return found;
}

function sourceFiles(folder: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(ROOT, folder), { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    files.push(relative(ROOT, join(entry.parentPath, entry.name)).replace(/\\/g, '/'));
  }
  return files;
}

test('the source folders import one way: dsl → engine → runtime → connectors, the Kafka client and RocksDB each in one place', () => {
  const files = SOURCE_FOLDERS.flatMap(sourceFiles);
  assert.ok(files.includes('engine/partition-task.ts') && files.includes('connectors/kafka/client.ts'), `sources not found under ${ROOT}`);
  const sites = files.flatMap((f) => importsOf(f, readFileSync(join(ROOT, f), 'utf8')));
  // The reading sees the imports that must be there, or an empty list would pass.
  assert.ok(sites.some((s) => s.file === 'connectors/kafka/client.ts' && s.target === KAFKA_CLIENT), 'the Kafka client import was not seen');
  assert.ok(sites.some((s) => s.file === 'cli/commands/run.ts' && s.target === 'runtime/kafka-runtime.ts'), 'the dynamic import of the runtime was not seen');
  assert.deepEqual(violations(sites), []);
});

test('a breaking import is named with its file and the rule it breaks', () => {
  const text = [
    "import type { KafkaOptions } from '../connectors/kafka/options.js';",
    "export { KafkaRuntime } from '../runtime/kafka-runtime.js';",
    "const client = await import('@confluentinc/kafka-javascript');",
    "import { Level } from '@nxtedition/rocksdb';",
    "import type { Plan } from '../dsl/plan.js';",
  ].join('\n');
  assert.deepEqual(violations(importsOf('engine/evaluate.ts', text)), [
    "engine/evaluate.ts imports '../connectors/kafka/options.js': engine/ (the core) imports neither runtime/, connectors/ nor cli/",
    "engine/evaluate.ts imports '../runtime/kafka-runtime.js': engine/ (the core) imports neither runtime/, connectors/ nor cli/",
    "engine/evaluate.ts imports '@confluentinc/kafka-javascript': only connectors/kafka/ imports @confluentinc/kafka-javascript",
    "engine/evaluate.ts imports '@nxtedition/rocksdb': only engine/state/rocksdb-store.ts imports a RocksDB binding",
  ]);
  assert.deepEqual(violations(importsOf('dsl/plan.ts', "import { x } from '../engine/evaluate.js';")),
    ["dsl/plan.ts imports '../engine/evaluate.js': dsl/ imports nothing of the other folders"]);
});
