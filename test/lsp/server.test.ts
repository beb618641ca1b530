/**
 * `aud lsp` driven over stdio as an editor drives it: a rule set of two files
 * in one folder, diagnostics as the text changes, completion, hover,
 * definition, references, rename, symbols, formatting and the quick fix.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LspClient, type LspDiagnostic } from '../support/lsp-client.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const dir = mkdtempSync(join(tmpdir(), 'aud-lsp-'));
const events = [
  'event purchase { amount: number, channel: string }',
  'event page_view { url: string }',
  'trait spend = sum(purchase.amount) over 30 days',
  'score loyalty = count(purchase) over 365 days',
  '',
].join('\n');
const audiences = [
  'audience big "Spends a lot" {',
  '  spend >= 100 and count(purchase where channel == "web") >= 1',
  '}',
  'audience again { in big }',
  '',
].join('\n');
const eventsUri = pathToFileURL(join(dir, 'events.aud')).href;
const audiencesUri = pathToFileURL(join(dir, 'audiences.aud')).href;
writeFileSync(join(dir, 'events.aud'), events);
writeFileSync(join(dir, 'audiences.aud'), audiences);

let client: LspClient;
let version = 1;

before(async () => {
  client = new LspClient();
  await client.initialize(pathToFileURL(dir).href);
});

after(async () => {
  assert.equal(await client.close(), 0, client.stderr);
});

const range = (l1: number, c1: number, l2: number, c2: number) => ({ start: { line: l1, character: c1 }, end: { line: l2, character: c2 } });
const pos = (line: number, character: number) => ({ line, character });
const brief = (d: LspDiagnostic) => ({ range: d.range, code: d.code, message: d.message });

/**
 * Replace the whole text of an open document (or open it); the diagnostics
 * that follow for `waitFor`, from the batch that the change caused.
 */
async function change(uri: string, text: string, waitFor = uri): Promise<{ diagnostics: LspDiagnostic[] }> {
  const v = ++version;
  const batch = client.diagnosticsBatch(uri, v);
  client.notify('textDocument/didChange', { textDocument: { uri, version: v }, contentChanges: [{ text }] });
  return { diagnostics: (await batch).get(waitFor) ?? assert.fail(`no diagnostics for ${waitFor}`) };
}

async function open(uri: string, text: string): Promise<{ diagnostics: LspDiagnostic[] }> {
  const v = ++version;
  const batch = client.diagnosticsBatch(uri, v);
  client.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'aud', version: v, text } });
  return { diagnostics: (await batch).get(uri) ?? assert.fail(`no diagnostics for ${uri}`) };
}

test('initialize announces the features', async () => {
  const c = new LspClient();
  const r = await c.initialize(null) as { capabilities: Record<string, unknown> };
  for (const feature of ['completionProvider', 'hoverProvider', 'definitionProvider', 'referencesProvider', 'renameProvider',
    'documentSymbolProvider', 'documentFormattingProvider', 'codeActionProvider']) {
    assert.ok(r.capabilities[feature], feature);
  }
  assert.equal(await c.close(), 0);
});

test('didOpen with errors: exact diagnostics with ranges, names resolved across the folder', async () => {
  const broken = audiences.replace('spend >= 100', 'spnd >= 100').replace('in big }', 'in bgi }');
  const d = await open(audiencesUri, broken);
  assert.deepEqual(d.diagnostics.map(brief), [
    { range: range(1, 2, 1, 6), code: 'unknown-name', message: 'unknown name "spnd": no trait or score has it; did you mean "spend"?' },
    { range: range(3, 20, 3, 23), code: 'unknown-audience', message: 'unknown audience "bgi"; did you mean "big"?' },
  ]);
  assert.ok(d.diagnostics.every((x) => x.severity === 1 && x.source === 'aud'));
});

test('the did-you-mean is a quick fix that writes the suggested name', async () => {
  const d = await change(audiencesUri, audiences.replace('spend >= 100', 'spnd >= 100'));
  assert.equal(d.diagnostics.length, 1);
  const actions = await client.request<{ title: string; kind: string; edit: { changes: Record<string, unknown[]> } }[]>('textDocument/codeAction', {
    textDocument: { uri: audiencesUri }, range: d.diagnostics[0]!.range, context: { diagnostics: d.diagnostics },
  });
  assert.deepEqual(actions.map((a) => [a.title, a.kind, a.edit.changes]), [
    ['Change to "spend"', 'quickfix', { [audiencesUri]: [{ range: range(1, 2, 1, 6), newText: 'spend' }] }],
  ]);
});

test('a syntax error as you type, then the fix clears it', async () => {
  let d = await change(audiencesUri, audiences.replace('>= 1\n', '>= \n'));
  assert.deepEqual(d.diagnostics.map(brief), [
    { range: range(2, 0, 2, 1), code: 'syntax', message: 'expected an expression but found "}"' },
  ]);
  d = await change(audiencesUri, audiences);
  assert.deepEqual(d.diagnostics, []);
});

test('a change in one file re-checks the other: removing the trait breaks the audiences', async () => {
  await open(eventsUri, events);
  const d = await change(eventsUri, events.replace('trait spend = sum(purchase.amount) over 30 days\n', ''), audiencesUri);
  assert.deepEqual(d.diagnostics.map((x) => x.message), ['unknown name "spend": no trait or score has it']);
  assert.deepEqual((await change(eventsUri, events, audiencesUri)).diagnostics, []);
});

test('garbage text gives diagnostics, not a crash, and the server keeps answering', async () => {
  const garbage = 'audience { ( ( } } @@@ "unterminated\n trait = = count(\n\u0000 sequence(, then within';
  const d = await change(audiencesUri, garbage);
  assert.ok(d.diagnostics.length > 0);
  for (let line = 0; line < 3; line++) {
    for (let ch = 0; ch < 30; ch += 3) {
      await client.request('textDocument/hover', { textDocument: { uri: audiencesUri }, position: pos(line, ch) });
      await client.request('textDocument/completion', { textDocument: { uri: audiencesUri }, position: pos(line, ch) });
    }
  }
  assert.deepEqual(await client.request('textDocument/formatting', { textDocument: { uri: audiencesUri }, options: { tabSize: 2, insertSpaces: true } }), []);
  assert.deepEqual((await change(audiencesUri, audiences)).diagnostics, []);
});

async function labels(uri: string, text: string, line: number, character: number): Promise<string[]> {
  await change(uri, text);
  const items = await client.request<{ label: string }[]>('textDocument/completion', { textDocument: { uri }, position: pos(line, character) });
  return items.map((i) => i.label);
}

test('completion: fields after "purchase.", audiences after "in", durations after "over", fields inside a where', async () => {
  const t1 = audiences.replace('audience again { in big }', 'audience again { sum(purchase.) > 1 }');
  assert.deepEqual(await labels(audiencesUri, t1, 3, 30), ['amount', 'channel']);
  const t2 = audiences.replace('audience again { in big }', 'audience again { in  }');
  assert.deepEqual(await labels(audiencesUri, t2, 3, 20), ['big', 'again']);
  const t3 = audiences.replace('audience again { in big }', 'audience again { count(purchase) over  }');
  assert.deepEqual((await labels(audiencesUri, t3, 3, 38)).slice(0, 5), ['1 hour', '24 hours', '1 day', '7 days', '30 days']);
  const t4 = audiences.replace('audience again { in big }', 'audience again { count(purchase where ch) }');
  const inWhere = await labels(audiencesUri, t4, 3, 40);
  assert.deepEqual(inWhere.slice(0, 2), ['amount', 'channel']);
  const t5 = audiences.replace('audience again { in big }', 'audience again { sp }');
  const anywhere = await labels(audiencesUri, t5, 3, 19);
  for (const l of ['spend', 'loyalty', 'count', 'sum', 'days_since', 'logistic', 'purchase', 'page_view', 'and', 'not']) assert.ok(anywhere.includes(l), l);
  assert.ok(!anywhere.includes('amount'));
  const t6 = `${audiences}\nau`;
  assert.deepEqual(await labels(audiencesUri, t6, 5, 2), ['source', 'output', 'event', 'trait', 'score', 'audience', 'offer', 'decision']);
  // At the start of a line in an audience's braces: the steady clauses first.
  const t7 = audiences.replace('audience again { in big }', 'audience again {\n  enter when in big\n  st\n}');
  assert.deepEqual((await labels(audiencesUri, t7, 5, 4)).slice(0, 5), ['enter when', 'leave when', 'enter after', 'leave after', 'stay at least']);
  await change(audiencesUri, audiences);
});

async function hoverText(uri: string, line: number, character: number): Promise<string | undefined> {
  const h = await client.request<{ contents: { value: string } } | null>('textDocument/hover', { textDocument: { uri }, position: pos(line, character) });
  return h?.contents.value;
}

test('hover: an aggregate with its window precision, an audience, a trait, a field', async () => {
  assert.equal(await hoverText(eventsUri, 2, 15),
    '**sum** (aggregate) `sum(E.f [where P])`\n\nthe sum of the field, null values skipped; 0 of nothing.\n\n' +
    'Window: the events of the last 30 days, kept in 1 hour buckets: an event leaves the window up to 1 hour before its exact time, never after.');
  assert.match((await hoverText(audiencesUri, 1, 19))!, /^\*\*count\*\* \(aggregate\)[^]*No window: it covers all time\.$/);
  assert.equal(await hoverText(audiencesUri, 3, 21),
    '**audience** `big` — Spends a lot\n\n```aud\n' + audiences.split('\n').slice(0, 3).join('\n') + '\n```');
  assert.equal(await hoverText(audiencesUri, 1, 3), '**trait** `spend`: number\n\n```aud\ntrait spend = sum(purchase.amount) over 30 days\n```');
  assert.equal(await hoverText(eventsUri, 2, 29), '**field** `purchase.amount`: number');
  assert.equal(await hoverText(audiencesUri, 1, 42), '**field** `purchase.channel`: string');
});

test('definition and references across the two files', async () => {
  const defs = await client.request<{ uri: string; range: unknown }[]>('textDocument/definition', { textDocument: { uri: audiencesUri }, position: pos(1, 4) });
  assert.deepEqual(defs, [{ uri: eventsUri, range: range(2, 6, 2, 11) }]);
  const eventDef = await client.request('textDocument/definition', { textDocument: { uri: audiencesUri }, position: pos(1, 28) });
  assert.deepEqual(eventDef, [{ uri: eventsUri, range: range(0, 6, 0, 14) }]);
  const refs = await client.request<{ uri: string; range: unknown }[]>('textDocument/references', {
    textDocument: { uri: eventsUri }, position: pos(0, 8), context: { includeDeclaration: true },
  });
  // Files in name order, as aud check reads a folder; places in file order.
  assert.deepEqual(refs, [
    { uri: audiencesUri, range: range(1, 25, 1, 33) },
    { uri: eventsUri, range: range(0, 6, 0, 14) },
    { uri: eventsUri, range: range(2, 18, 2, 26) },
    { uri: eventsUri, range: range(3, 22, 3, 30) },
  ]);
  const noDecl = await client.request<unknown[]>('textDocument/references', { textDocument: { uri: audiencesUri }, position: pos(3, 21), context: { includeDeclaration: false } });
  assert.deepEqual(noDecl, [{ uri: audiencesUri, range: range(3, 20, 3, 23) }]);
});

test('rename a trait and an audience across files; a taken name or an event is refused', async () => {
  const prepared = await client.request('textDocument/prepareRename', { textDocument: { uri: audiencesUri }, position: pos(1, 3) });
  assert.deepEqual(prepared, { range: range(1, 2, 1, 7), placeholder: 'spend' });
  const edit = await client.request<{ changes: Record<string, unknown[]> }>('textDocument/rename', { textDocument: { uri: audiencesUri }, position: pos(1, 3), newName: 'spend_30d' });
  assert.deepEqual(edit.changes, {
    [eventsUri]: [{ range: range(2, 6, 2, 11), newText: 'spend_30d' }],
    [audiencesUri]: [{ range: range(1, 2, 1, 7), newText: 'spend_30d' }],
  });
  const audienceEdit = await client.request<{ changes: Record<string, unknown[]> }>('textDocument/rename', { textDocument: { uri: audiencesUri }, position: pos(0, 10), newName: 'whale' });
  assert.deepEqual(audienceEdit.changes, {
    [audiencesUri]: [{ range: range(0, 9, 0, 12), newText: 'whale' }, { range: range(3, 20, 3, 23), newText: 'whale' }],
  });
  const taken = await client.requestRaw('textDocument/rename', { textDocument: { uri: audiencesUri }, position: pos(1, 3), newName: 'loyalty' });
  assert.equal(taken.error?.message, '"loyalty" is already declared: traits, scores and audiences share one namespace');
  const keyword = await client.requestRaw('textDocument/rename', { textDocument: { uri: audiencesUri }, position: pos(1, 3), newName: 'where' });
  assert.match(keyword.error?.message ?? '', /^"where" is not a name/);
  assert.equal(await client.request('textDocument/prepareRename', { textDocument: { uri: audiencesUri }, position: pos(1, 28) }), null);
});

test('document symbols: the outline of a file', async () => {
  const symbols = await client.request<{ name: string; detail: string; kind: number; children?: { name: string; detail: string }[] }[]>(
    'textDocument/documentSymbol', { textDocument: { uri: eventsUri } });
  assert.deepEqual(symbols.map((s) => [s.name, s.detail, s.kind, (s.children ?? []).map((c) => `${c.name}: ${c.detail}`)]), [
    ['purchase', 'event', 23, ['amount: number', 'channel: string']],
    ['page_view', 'event', 23, ['url: string']],
    ['spend', 'trait', 13, []],
    ['loyalty', 'score', 16, []],
  ]);
});

test('formatting: one edit to the canonical layout; none when already formatted', async () => {
  const options = { tabSize: 2, insertSpaces: true };
  await change(audiencesUri, 'audience big "Spends a lot" {spend>=100}\naudience again{in big}');
  const edits = await client.request<{ range: unknown; newText: string }[]>('textDocument/formatting', { textDocument: { uri: audiencesUri }, options });
  assert.deepEqual(edits, [{
    range: range(0, 0, 1, 22),
    newText: 'audience big "Spends a lot" {\n  spend >= 100\n}\naudience again {\n  in big\n}\n',
  }]);
  await change(audiencesUri, edits[0]!.newText);
  assert.deepEqual(await client.request('textDocument/formatting', { textDocument: { uri: audiencesUri }, options }), []);
  await change(audiencesUri, audiences);
});

test('the editor going away without shutdown ends the server with exit code 1', () => {
  const r = spawnSync(process.execPath, [join(repo, 'dist/cli/aud.js'), 'lsp'], { input: '', encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 1, r.stderr);
});
