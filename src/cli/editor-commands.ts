/** Editor-facing commands (`xbarc lsp`, `xbarc fmt`), registered on the main program. */
import type { Command } from 'commander';
import { fmtCommand } from './fmt-command.js';

export function registerEditorCommands(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('lsp')
    .description('run the language server (for editors); speaks LSP over stdio or a Node IPC channel')
    .option('--stdio', 'use stdin/stdout (default)')
    .option('--node-ipc', 'use the Node IPC channel of a forked process')
    .action(async (opts: { stdio?: boolean; nodeIpc?: boolean }) => {
      // Loaded here so `xbarc check` never pays for the protocol libraries.
      const { startServer } = await import('../lsp/server.js');
      await startServer({ transport: opts.nodeIpc ? 'node-ipc' : 'stdio' });
      setExitCode(0);
    });

  program
    .command('fmt')
    .description('format .xbar files in place (files or folders); --check lists files that would change')
    .argument('<files...>', '.xbar files or folders')
    .option('--check', 'do not write; exit 1 and list the files that would change')
    .action((files: string[], opts: { check?: boolean }) => {
      setExitCode(fmtCommand(files, opts));
    });
}
