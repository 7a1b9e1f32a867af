/**
 * Ctrl-C for long-running commands: the first SIGINT aborts cooperatively (the training worker
 * stops at its next step boundary and releases its sessions, nothing is half-written); a second
 * one quits at once, killed by the signal as if no handler were installed (exit status 130).
 */

export interface Interrupt {
  signal: AbortSignal;
  dispose: () => void;
}

export function onInterrupt(what: string): Interrupt {
  const controller = new AbortController();
  const handler = (): void => {
    if (!controller.signal.aborted) {
      process.stderr.write(`\n${what}: stopping after the current step (Ctrl-C again to quit at once)\n`);
      controller.abort();
      return;
    }
    process.removeListener('SIGINT', handler);
    process.kill(process.pid, 'SIGINT');
  };
  process.on('SIGINT', handler);
  return { signal: controller.signal, dispose: () => process.removeListener('SIGINT', handler) };
}
