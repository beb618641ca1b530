/**
 * Every rule example of docs/language.md (the ```aud blocks) checks clean,
 * given the retail example's event declarations: the reference never shows
 * something that does not work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileSources, formatDiagnostics } from '../../dsl/compile.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const doc = readFileSync(join(repo, 'docs/language.md'), 'utf8');
const retail = readFileSync(join(repo, 'examples/retail/retail.aud'), 'utf8');
const events = retail.split('\n').filter((l) => l.startsWith('event ')).join('\n');

const blocks = [...doc.matchAll(/```aud\n([\s\S]*?)```/g)].map((m) => m[1]!);

test('docs/language.md has rule examples', () => {
  assert.ok(blocks.length >= 9, `found ${blocks.length}`);
});

blocks.forEach((block, i) => {
  test(`docs/language.md example ${i + 1} checks clean: ${block.trim().split('\n')[0]}`, () => {
    const declaresEvents = /^event /m.test(block);
    const needsTier = /\btier\b/.test(block) && !/trait tier/.test(block);
    const text = [declaresEvents ? '' : events, needsTier ? 'trait tier = last(profile_update.tier)' : '', block].join('\n');
    const result = compileSources(new Map([['example.aud', text]]));
    assert.equal(result.diagnostics.length, 0, formatDiagnostics(result));
  });
});
