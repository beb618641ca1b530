/**
 * How long `aud lsp` takes from a keystroke to its diagnostics on a large
 * rule file: a generated file of N audiences (with traits, windows, where
 * filters and `in` references) is opened, then edited M times, alternately
 * breaking and fixing one name; each round trip is the time from sending
 * didChange to receiving the publishDiagnostics for that version. Prints the
 * median, p95 and max round trip.
 *
 * `--break name` (the default) misspells a trait: the server re-parses the
 * one audience that changed. `--break syntax` deletes a `>=`: while a file
 * has a syntax error the server parses all of it, as `aud check` does.
 *
 *   node dist/bench/lsp-latency.js [--audiences 1000] [--changes 40] [--break name|syntax]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { LspClient } from '../test/support/lsp-client.js';

/** A rule file of `audiences` audiences over five events and twenty traits; it checks clean. */
export function generateRules(audiences: number): string {
  const lines = [
    'event purchase { amount: number, category: string, channel: string }',
    'event page_view { url: string, brand: string }',
    'event add_to_cart { sku: string }',
    'event login { }',
    'event profile_update { tier: string, country: string }',
    '',
  ];
  for (let t = 0; t < 20; t++) lines.push(`trait spend_${t} = sum(purchase.amount where category == "c${t}") over ${t + 1} days`);
  lines.push('');
  for (let a = 0; a < audiences; a++) {
    const body = [
      `spend_${a % 20} >= ${a}`,
      `count(page_view where brand == "b${a % 50}") over ${(a % 30) + 1} days >= ${(a % 5) + 1}`,
      a % 3 === 0 ? 'add_to_cart then not purchase within 1 hour' : `last(profile_update.tier) == "t${a % 7}"`,
    ];
    if (a > 0 && a % 10 === 0) body.push(`not in audience_${a - 1}`);
    lines.push(`audience audience_${a} "generated ${a}" {`, `  ${body.join('\n  and ')}`, '}', '');
  }
  return lines.join('\n');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export async function main(argv: string[]): Promise<void> {
  const args = await yargs(argv)
    .option('audiences', { type: 'number', default: 1000 })
    .option('changes', { type: 'number', default: 40 })
    .option('break', { choices: ['name', 'syntax'] as const, default: 'name' as const, describe: 'what each other change breaks' })
    .strict()
    .parseAsync();
  const dir = mkdtempSync(join(tmpdir(), 'aud-lsp-bench-'));
  const path = join(dir, 'generated.aud');
  const text = generateRules(args.audiences);
  writeFileSync(path, text);
  const uri = pathToFileURL(path).href;
  const client = new LspClient();
  await client.initialize(pathToFileURL(dir).href);
  let version = 1;
  const opened = client.diagnosticsBatch(uri, version);
  client.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'aud', version, text } });
  const initial = (await opened).get(uri)!;
  if (initial.length !== 0) throw new Error(`the generated file should check clean: ${initial[0]!.message}`);

  const times: number[] = [];
  const brokenTimes: number[] = [];
  const fixedTimes: number[] = [];
  for (let i = 0; i < args.changes; i++) {
    const broken = i % 2 === 0;
    const changed = !broken ? text : args.break === 'name' ? text.replace('spend_3 >= 3', 'spnd_3 >= 3') : text.replace('spend_3 >= 3', 'spend_3 3');
    version++;
    const batch = client.diagnosticsBatch(uri, version);
    const start = process.hrtime.bigint();
    client.notify('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text: changed }] });
    const diagnostics = (await batch).get(uri)!;
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    times.push(ms);
    (broken ? brokenTimes : fixedTimes).push(ms);
    if (broken ? diagnostics.length === 0 : diagnostics.length !== 0) throw new Error(`version ${version}: ${diagnostics.length} diagnostics`);
  }
  await client.close();
  const lineCount = text.split('\n').length;
  const summary = (list: number[]) => {
    const sorted = [...list].sort((a, b) => a - b);
    return `median ${percentile(sorted, 0.5).toFixed(1)} ms, p95 ${percentile(sorted, 0.95).toFixed(1)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms`;
  };
  process.stdout.write(`${args.audiences} audiences (${lineCount} lines, ${(text.length / 1024).toFixed(0)} KiB), ${args.changes} changes, ` +
    `every other one breaking a ${args.break}: didChange → publishDiagnostics ${summary(times)}\n` +
    `  the changes that break it: ${summary(brokenTimes)}\n  the changes that fix it:   ${summary(fixedTimes)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(hideBin(process.argv));
