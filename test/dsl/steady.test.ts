/**
 * Steady audiences in the language (activation.md, section 1): the clause
 * form parses, checks with positioned errors, formats one clause a line,
 * and plans to a SteadyPlan with its dwell slot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRuleFiles } from '../../dsl/checker/check.js';
import { compileSources } from '../../dsl/compile.js';
import { explainPlan } from '../../dsl/explain.js';
import { formatRuleText } from '../../dsl/format.js';
import { parseRuleFile } from '../../dsl/parse.js';

const DECLS = 'event page_view { url: string }\n';

function check(body: string): string[] {
  const parsed = parseRuleFile('t.aud', DECLS + body);
  assert.deepEqual(parsed.diagnostics, [], 'the test text parses');
  return checkRuleFiles([parsed.file]).diagnostics
    .sort((a, b) => a.span.offset - b.span.offset)
    .map((d) => `${d.span.line}:${d.span.column} ${d.code} ${d.message}${d.suggestion ? ' / ' + d.suggestion : ''}`);
}

const SPEC = `audience engaged "Browses a lot" {
  enter when count(page_view) over 7 days >= 10
  leave when count(page_view) over 7 days < 5      // optional; default: not (enter condition)
  enter after 1 hour      // optional: the enter condition must hold for 1 hour without a break
  leave after 10 minutes  // optional: the leave condition must hold this long
  stay at least 1 day     // optional: no leave sooner than 1 day after the enter
}
`;

test("the spec's example parses, checks and plans to a steady audience with its dwell state", () => {
  assert.deepEqual(check(SPEC), []);
  const r = compileSources(new Map([['t.aud', DECLS + SPEC]]));
  assert.deepEqual(r.diagnostics, []);
  const a = r.plan!.audiences[0]!;
  assert.equal(a.text, 'count(page_view) over 1 week >= 10');
  assert.equal(a.steady!.leaveText, 'count(page_view) over 1 week < 5');
  assert.deepEqual([a.steady!.enterAfterMs, a.steady!.leaveAfterMs, a.steady!.stayMs], [3_600_000, 600_000, 86_400_000]);
  const dwell = r.plan!.slots[a.steady!.slot]!;
  assert.equal(dwell.kind, 'dwell');
  assert.deepEqual(r.plan!.feeds['page_view'], [0], 'no event feeds the dwell state');
  assert.match(explainPlan(r.plan!), /steady: enter after 1 hour, leave after 10 minutes, stay at least 1 day; dwell state #1/);
});

test('clauses in any order; `enter when` alone is the plain audience; clause words stay usable as names', () => {
  const r = compileSources(new Map([['t.aud', DECLS + [
    'trait enter = count(page_view)',
    'audience a { stay at least 1 day enter when enter >= 1 }',
    'audience b { enter when enter >= 1 }',
    'audience c { enter >= 1 }',
  ].join('\n')]]));
  assert.deepEqual(r.diagnostics, []);
  const [a, b, c] = r.plan!.audiences;
  assert.equal(a!.steady!.stayMs, 86_400_000);
  assert.equal(b!.steady, undefined);
  assert.equal(b!.text, c!.text);
});

test('checker: a clause twice, no `enter when`, a non-boolean condition, a zero or negative duration, an unknown clause', () => {
  assert.deepEqual(check('audience a { enter when count(page_view) >= 1 enter when count(page_view) >= 2 }'),
    ['2:47 bad-clause "enter when" appears twice in audience a / keep one of them']);
  assert.deepEqual(check('audience b { leave when count(page_view) < 1 enter after 1 hour }'),
    ['2:10 bad-clause audience b has clauses but no "enter when" / add "enter when CONDITION": the condition that lets a customer in']);
  assert.deepEqual(check('audience c { enter when count(page_view) leave after 0s }'),
    ['2:25 type-mismatch "enter when" of audience c must be a condition (true/false), but this is a number / compare it, e.g. "... >= 1"',
      '2:54 bad-duration "leave after" must be longer than zero / remove the clause for no delay']);
  assert.deepEqual(check('audience d { enter when count(page_view) >= 1 stay at least -1 day }'),
    ['2:61 bad-duration "stay at least" must be longer than zero / write a positive duration, e.g. "stay at least 1 day"']);
  assert.deepEqual(check('audience e { enter when count(page_view) >= 1 enter aftr 1 hour leave after count(page_view) }'),
    ['2:47 bad-clause unknown clause "enter aftr" in audience e / did you mean "enter after"?',
      '2:77 bad-duration "leave after" takes a duration / write e.g. "leave after 1 hour"']);
  assert.deepEqual(check('audience g { enter when count(page_view) >= 1 stay at 1 day }'),
    ['2:47 bad-clause unknown clause "stay at" in audience g / did you mean "stay at least"?']);
});

test('a cycle through `leave when` is an audience cycle', () => {
  assert.equal(check('audience f { enter when count(page_view) >= 1 leave when not in g }\naudience g { in f }').filter((d) => d.includes('audience-cycle')).length, 1);
});

test('aud fmt: one clause a line, its words together, comments kept', () => {
  const text = DECLS + 'audience engaged { enter when count(page_view) >= 10 leave\n when count(page_view) < 5 // why\n enter after 1 hour stay at least 1 day }\n';
  const r = formatRuleText('t.aud', text);
  assert.ok(r.ok);
  assert.equal(r.text, DECLS + [
    'audience engaged {',
    '  enter when count(page_view) >= 10',
    '  leave when count(page_view) < 5 // why',
    '  enter after 1 hour',
    '  stay at least 1 day',
    '}',
    '',
  ].join('\n'));
  const again = formatRuleText('t.aud', r.text);
  assert.ok(again.ok);
  assert.equal(again.text, r.text);
});
