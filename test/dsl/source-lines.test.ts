import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SourceLines } from '../../dsl/source-lines.js';

test('lines split as the lexer counts line breaks: \\r\\n, \\n and a lone \\r', () => {
  for (const text of ['', 'one', 'a\nb', 'a\r\nb\rc\n', '\n\n', 'x\r\n\r\ny', 'tail\r']) {
    const lines = new SourceLines(text);
    const expected = text.split(/\r\n|\r|\n/);
    assert.equal(lines.count, expected.length, JSON.stringify(text));
    for (let n = 1; n <= expected.length; n++) assert.equal(lines.line(n), expected[n - 1], `${JSON.stringify(text)} line ${n}`);
  }
});

test('a line the text does not have is empty', () => {
  const lines = new SourceLines('a\nb');
  assert.equal(lines.line(0), '');
  assert.equal(lines.line(3), '');
  assert.equal(lines.line(Number.NaN), '');
});
