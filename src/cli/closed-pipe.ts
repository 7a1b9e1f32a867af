/**
 * A reader that stops early (`xbarc sweep spec.xbar | head -1`) closes our stdout: the next write
 * fails with EPIPE, which Node raises as an unhandled 'error' event — a stack trace on stderr.
 * Like other Unix tools, stop quietly instead: the reader has what it wanted.
 */

type Stream = NodeJS.WritableStream & { on(event: 'error', listener: (err: NodeJS.ErrnoException) => void): unknown };

export function exitQuietlyOnClosedPipe(stream: Stream, exit: (code: number) => void = (code) => process.exit(code)): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') {
      exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      return;
    }
    process.stderr.write(`xbarc: cannot write output: ${err.message}\n`);
    exit(74); // EX_IOERR
  });
}
