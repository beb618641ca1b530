/**
 * README.md and docs/ against the CLI itself: every command and flag that one
 * names, the other has. The CLI's side is what `aud --help` and
 * `aud <command> --help` print (yargs' own list), so a flag added to a command
 * without a line in docs/operations.md fails here, naming both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(repo, 'dist/cli/aud.js');
const readme = readFileSync(join(repo, 'README.md'), 'utf8');
const operations = readFileSync(join(repo, 'docs/operations.md'), 'utf8');
const docs = ['README.md', 'docs/operations.md', 'docs/design.md', 'docs/language.md']
  .map((f) => ({ file: f, text: readFileSync(join(repo, f), 'utf8') }));

function help(...args: string[]): string {
  const r = spawnSync(process.execPath, [cli, ...args, '--help'], { cwd: repo, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const commands = [...help().matchAll(/^ {2}aud ([a-z]+)/gm)].map((m) => m[1]!);

/** A command's flags as yargs lists them, without --help and --version. */
const flagsOf = new Map(commands.map((c) => [c, new Set(
  [...help(c).matchAll(/^ {2,6}(?:-[a-z], )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((f) => f !== '--help' && f !== '--version'),
)]));

/**
 * The flag tables of docs/operations.md, by command: a table whose header is
 * `| flag |` belongs to the command named in the nearest heading above it
 * (`## Running the engine: \`aud run\``, `### \`aud replay\``).
 */
function documentedFlags(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  let command: string | undefined;
  for (const line of operations.split('\n')) {
    if (/^#{2,}\s/.test(line)) {
      command = /`aud ([a-z]+)`/.exec(line)?.[1];
      if (command) out.set(command, out.get(command) ?? new Set());
      continue;
    }
    if (command && line.startsWith('| `-')) {
      const firstCell = line.split('|')[1]!;
      for (const m of firstCell.matchAll(/--[a-z][a-z-]*/g)) out.get(command)!.add(m[0]);
    }
  }
  return out;
}

test('the CLI has the commands it has always had, so that this test reads something', () => {
  for (const c of ['check', 'explain', 'replay', 'test', 'run', 'backfill', 'webhook']) assert.ok(commands.includes(c), `aud --help lists ${c}`);
  assert.ok(flagsOf.get('run')!.has('--brokers'));
});

test('docs/operations.md has a section for every command, and its flag table lists exactly the command\'s flags', () => {
  const documented = documentedFlags();
  for (const c of commands) {
    const docFlags = documented.get(c);
    assert.ok(docFlags, `docs/operations.md has no section headed with \`aud ${c}\``);
    const cliFlags = flagsOf.get(c)!;
    const undocumented = [...cliFlags].filter((f) => !docFlags.has(f));
    const unknown = [...docFlags].filter((f) => !cliFlags.has(f));
    assert.deepEqual(undocumented, [], `aud ${c} has flags that docs/operations.md's \`aud ${c}\` table lacks: ${undocumented.join(', ')}`);
    assert.deepEqual(unknown, [], `docs/operations.md's \`aud ${c}\` table lists flags that aud ${c} --help lacks: ${unknown.join(', ')}`);
  }
});

test('README.md\'s command list names every command, and each of its command lines uses only that command\'s flags', () => {
  const block = /## The commands\n+```\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'README.md has a "## The commands" section with a code block');
  const lines = block.replace(/\\\n\s*/g, ' ').split('\n').filter((l) => l.trim() !== '');
  const listed = new Set<string>();
  for (const line of lines) {
    const m = /^npx aud ([a-z]+)(.*?)(#.*)?$/.exec(line);
    assert.ok(m, `README.md's command list: "${line}" is not an aud command line`);
    const [, c, rest] = m;
    assert.ok(commands.includes(c!), `README.md lists "aud ${c}", which aud --help lacks`);
    listed.add(c!);
    for (const f of rest!.matchAll(/(?:^|\s)(--[a-z][a-z-]*)/g)) {
      assert.ok(flagsOf.get(c!)!.has(f[1]!), `README.md: aud ${c} ${f[1]}: aud ${c} --help has no such flag`);
    }
  }
  const missing = commands.filter((c) => !listed.has(c));
  assert.deepEqual(missing, [], `README.md's command list lacks: ${missing.map((c) => `aud ${c}`).join(', ')}`);
});

test('every aud command line in README.md and docs/ names a real command and only its flags', () => {
  for (const { file, text } of docs) {
    // In code blocks a line may start with the command; in prose only `aud x` in backticks counts.
    let fenced = false;
    const code = text.replace(/\\\n\s*/g, ' ').split('\n').map((line) => {
      if (line.startsWith('```')) fenced = !fenced;
      return fenced ? line : line.replace(/^aud /, 'prose ');
    }).join('\n');
    for (const m of code.matchAll(/(?:^|\$ |npx |`)aud ([a-z]+)\b([^`\n]*)/gm)) {
      const [, c, rest] = m;
      assert.ok(commands.includes(c!), `${file}: "aud ${c}" is not a command (aud --help lists ${commands.join(', ')})`);
      for (const f of rest!.replace(/#.*$/, '').matchAll(/(?:^|\s)(--[a-z][a-z-]*)/g)) {
        assert.ok(flagsOf.get(c!)!.has(f[1]!), `${file}: "aud ${c} ... ${f[1]}": aud ${c} --help has no such flag`);
      }
    }
  }
});

test('the case file shown in docs/operations.md is the example case file, as it is', () => {
  const shown = /A case file\s*\n\(`(examples\/[^`]+\.yaml)`\):\n\n```yaml\n([\s\S]*?)```/.exec(operations);
  assert.ok(shown, 'docs/operations.md shows an example case file under "aud test"');
  const file = readFileSync(join(repo, shown[1]!), 'utf8').split('\n').filter((l) => !l.startsWith('#')).join('\n');
  assert.equal(shown[2], file);
});
