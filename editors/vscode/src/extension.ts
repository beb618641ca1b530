/**
 * The VS Code side of aud's editor support: it starts `aud lsp` over stdio
 * for `.aud` files and leaves everything else to the server. Highlighting
 * comes from the TextMate grammar (syntaxes/aud.tmLanguage.json), brackets and
 * comments from language-configuration.json.
 */
import { workspace, type ExtensionContext } from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';

let client: LanguageClient | undefined;

export async function activate(context: ExtensionContext): Promise<void> {
  const config = workspace.getConfiguration('aud');
  const command = config.get<string>('server.command', 'aud');
  const args = config.get<string[]>('server.args', ['lsp']);
  // The command runs in the workspace folder, so a relative path such as
  // ./node_modules/.bin/aud finds the project's own aud.
  const cwd = workspace.workspaceFolders?.[0]?.uri.fsPath;
  const serverOptions: ServerOptions = { command, args, transport: TransportKind.stdio, options: cwd ? { cwd, shell: process.platform === 'win32' } : {} };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: 'aud' }],
    synchronize: { fileEvents: workspace.createFileSystemWatcher('**/*.aud') },
  };
  client = new LanguageClient('aud', 'aud language server', serverOptions, clientOptions);
  context.subscriptions.push(client);
  await client.start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
