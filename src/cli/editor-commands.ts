/** Editor-facing commands (`xbarc lsp`, `xbarc fmt`), registered on the main program. */
import type { Command } from 'commander';

export function registerEditorCommands(program: Command, setExitCode: (code: number) => void): void {
  void program;
  void setExitCode;
}
