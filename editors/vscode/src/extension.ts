/**
 * The xbar extension: registers the language (grammar and configuration come from the package)
 * and starts the xbarc language server (`xbarc lsp --stdio`) as a language client.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type Executable, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';

let client: LanguageClient | undefined;

/** The command that runs the server, from the `xbar.server.*` settings. */
export function serverExecutable(config: { serverPath: string; node: string; workspaceRoot?: string; platform: string }): Executable {
  let serverPath = config.serverPath.trim() || 'xbarc';
  const looksLikePath = serverPath.includes('/') || serverPath.includes('\\');
  if (looksLikePath && !path.isAbsolute(serverPath) && config.workspaceRoot) serverPath = path.resolve(config.workspaceRoot, serverPath);
  // The client appends `--stdio` for the stdio transport.
  if (serverPath.endsWith('.js')) return { command: config.node || 'node', args: [serverPath, 'lsp'], transport: TransportKind.stdio };
  // npm installs `xbarc.cmd` on Windows, which needs a shell to run.
  return { command: serverPath, args: ['lsp'], transport: TransportKind.stdio, options: { shell: config.platform === 'win32' } };
}

function createClient(): LanguageClient {
  const settings = vscode.workspace.getConfiguration('xbar');
  const executable = serverExecutable({
    serverPath: settings.get<string>('server.path', 'xbarc'),
    node: settings.get<string>('server.node', 'node'),
    workspaceRoot: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
    platform: process.platform,
  });
  const serverOptions: ServerOptions = { run: executable, debug: executable };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: 'xbar', scheme: 'file' }, { language: 'xbar', scheme: 'untitled' }],
    outputChannelName: 'xbar',
  };
  return new LanguageClient('xbar', 'xbar language server', serverOptions, clientOptions);
}

async function start(): Promise<void> {
  client = createClient();
  try {
    await client.start();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    void vscode.window.showErrorMessage(`xbar: cannot start the language server (${message}). Set "xbar.server.path" to your xbarc executable or bin/xbarc.js.`);
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand('xbar.restartServer', async () => {
      await client?.stop();
      await start();
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration('xbar.server')) {
        await client?.stop();
        await start();
      }
    }),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
