#!/usr/bin/env node
// Entry point: runs the compiled CLI. Any unexpected error becomes one line, not a stack trace
// (set XBARC_DEBUG=1 to see the trace).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`xbarc: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.XBARC_DEBUG) process.stderr.write(`${err instanceof Error ? err.stack : ''}\n`);
    process.exitCode = 70;
  },
);
