/**
 * Chevrotain's runtime, for the lexer and the parser: every runtime value of
 * Chevrotain is imported from here, never from 'chevrotain' itself (types may
 * be), so that one copy of it is loaded and token types, EOF and the parser
 * agree.
 *
 * It is loaded from the single-file build the package ships next to its entry
 * point (lib/chevrotain.mjs, bundled by Chevrotain's own release build), not
 * from the entry point. The entry point imports lodash-es one function per
 * module, several hundred files, and loading them was most of the start-up
 * time of every command that reads rules.
 *
 * The package's "exports" do not name that file, so it is found next to the
 * entry point that require.resolve returns. Should a Chevrotain release move
 * or drop it, this falls back to the entry point (correct, only slower) and
 * test/dsl/chevrotain-runtime.test.ts fails, saying so.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Chevrotain = typeof import('chevrotain');

/** The entry point's directory is lib/src/; the single-file build is lib/chevrotain.mjs. */
const bundleUrl = new URL('../chevrotain.mjs', pathToFileURL(createRequire(import.meta.url).resolve('chevrotain')));

/** Where Chevrotain was loaded from: its single-file build, or its entry point when the build is missing. */
export const chevrotainSource: 'bundle' | 'entry point' = existsSync(fileURLToPath(bundleUrl)) ? 'bundle' : 'entry point';

const chevrotain: Chevrotain = chevrotainSource === 'bundle' ? await import(bundleUrl.href) : await import('chevrotain');

export const { createToken, CstParser, EOF, Lexer, VERSION } = chevrotain;
