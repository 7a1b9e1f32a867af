/**
 * Peak memory of one experiment run, measured in this process (run it as a child process, one
 * run per process: the peak resident set only grows).
 *
 *   node dist/test/support/memory-probe.js <spec.xbar> [--set key=value ...] [--experiment name]
 *
 * Prints one JSON line: { experiment, fidelity, estimate (bytes), peakRss (bytes), seconds }.
 * peakRss is process.resourceUsage().maxRSS — the whole process: Node, onnxruntime, the data set
 * and the worker thread the run executes in, exactly what the kernel counts against the machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '../../src/compiler/compile.js';
import { executeExperiment } from '../../src/runtime/execute.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const file = args[0];
  if (!file) throw new Error('usage: memory-probe <spec.xbar> [--set key=value ...] [--experiment name]');
  const sets: string[] = [];
  let experiment: string | undefined;
  for (let i = 1; i < args.length; i++) {
    if (args[i] === '--set') sets.push(args[++i]!);
    else if (args[i] === '--experiment') experiment = args[++i];
  }
  const result = compile(file, { sets, memoryLimitBytes: Number.MAX_SAFE_INTEGER, ...(experiment ? { experiment } : {}) });
  if (result.hasErrors || result.experiments.length !== 1) {
    throw new Error(`${file}: ${result.diagnostics.map((d) => d.message).join('; ') || 'not exactly one experiment'}`);
  }
  const compiled = result.experiments[0]!;
  const out = mkdtempSync(join(tmpdir(), 'xbarc-memprobe-'));
  const t0 = performance.now();
  try {
    await executeExperiment(compiled, { outDir: out });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const line = {
    experiment: compiled.plan.name,
    fidelity: compiled.plan.fidelity,
    estimate: compiled.plan.estimate.memoryBytes,
    peakRss,
    seconds: (performance.now() - t0) / 1000,
  };
  process.stdout.write(JSON.stringify(line) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
