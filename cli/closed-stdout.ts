/**
 * A reader that goes away (`aud explain rules.aud | head`) closes stdout
 * under us; the next write fails with EPIPE. As `git log | head` does, that
 * ends the command quietly with status 0: whoever wanted the output has all
 * they asked for. Any other error on stdout (a full disk behind a redirect)
 * is a real failure and is reported.
 */
export function exitQuietlyOnClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    process.stderr.write(`error: cannot write to stdout: ${err.message}\n`);
    process.exit(1);
  });
}
