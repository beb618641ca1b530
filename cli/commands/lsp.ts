/**
 * `aud lsp`: the language server (lsp/server.ts) over stdin and stdout, for
 * editors. `--stdio` is accepted and changes nothing: clients such as VS
 * Code's pass it.
 */
import type { CommandModule } from 'yargs';

interface LspArgs { stdio: boolean }

export const lspCommand: CommandModule<object, LspArgs> = {
  command: 'lsp',
  describe: 'Run the language server for .aud files over stdio (for editors)',
  builder: (y) => y.option('stdio', { type: 'boolean', default: true, describe: 'talk over stdin/stdout (the only transport)' }) as never,
  handler: async () => {
    // Loaded here, not at the top: every command imports this file, and only lsp needs the language server.
    const { startLanguageServer } = await import('../../lsp/server.js');
    const connection = startLanguageServer();
    await new Promise<void>((resolve) => {
      connection.onExit(() => resolve());
      // The editor went away without shutting the server down: exit 1, as the protocol asks of an exit without shutdown.
      process.stdin.once('end', () => { process.exitCode = 1; resolve(); });
    });
  },
};
