/**
 * `xbarc mvm --spec F.xbar --crossbar NAME --weights W.npy --inputs X.npy --out Y.npy
 *  [--fidelity exact|fast] [--seed N] [--subtract digital|analog]`: one matrix–vector product
 * through a declared crossbar (`--subtract` overrides the crossbar's `subtract`).
 * W is [in, out], X is [batch, in] (or [in]), real-valued, scaled by the mapping; conventions in
 * docs/crossbar.md.
 */
import type { Command } from 'commander';
import { writeFileAtomicSync } from '../runtime/results/atomic.js';
import { check } from '../compiler/check.js';
import { lowerCrossbar } from '../compiler/lower-crossbar.js';
import { crossbarMerges } from '../compiler/merges.js';
import { crossbarMvm } from '../runtime/crossbar/mvm-api.js';
import { formatNpy, readNpy } from '../runtime/crossbar/npy.js';
import { XbarcError } from '../model/errors.js';
import { assertAllFinite } from '../runtime/finite.js';
import { printDiagnostics } from './diagnostics-output.js';

export interface MvmCommandOptions {
  spec: string;
  crossbar: string;
  weights: string;
  inputs: string;
  out: string;
  fidelity?: string;
  seed?: string;
  subtract?: string;
}

export async function mvmCommand(o: MvmCommandOptions): Promise<number> {
  const fail = (msg: string, code = 1): number => {
    process.stderr.write(`xbarc mvm: ${msg}\n`);
    return code;
  };
  const fidelity = o.fidelity ?? 'exact';
  if (fidelity !== 'exact' && fidelity !== 'fast') return fail(`--fidelity must be exact or fast, not "${fidelity}"`, 2);
  const seed = o.seed === undefined ? 0 : Number(o.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) return fail(`--seed must be a non-negative integer, not "${o.seed}"`, 2);
  if (o.subtract !== undefined && o.subtract !== 'digital' && o.subtract !== 'analog')
    return fail(`--subtract must be digital or analog, not "${o.subtract}"`, 2);
  const result = check(o.spec);
  printDiagnostics(result.diagnostics, result.program, { summary: result.hasErrors });
  if (result.hasErrors || !result.model) return 1;
  const found = [...result.model.crossbars.values()].filter((c) => c.name === o.crossbar);
  const xb = found.find((c) => c.file === result.model!.root) ?? found[0];
  if (!xb) {
    const names = [...new Set([...result.model.crossbars.values()].map((c) => c.name))];
    return fail(`${o.spec} declares no crossbar "${o.crossbar}"${names.length ? ` (crossbars: ${names.join(', ')})` : ''}`);
  }
  const declared = lowerCrossbar(xb.name, xb);
  const pc = o.subtract ? { ...declared, subtract: o.subtract as 'digital' | 'analog' } : declared;
  try {
    const read = (path: string, what: string) => {
      const a = readNpy(path, `${what} ${path}`);
      assertAllFinite(a.data, a.shape, `${what} ${path}`);
      return a;
    };
    const W = read(o.weights, 'weights');
    const X = read(o.inputs, 'inputs');
    const [K, N] = W.shape as [number, number];
    // The compiler's merge decision for this matrix, as an experiment's plan would carry it.
    const [merge] = crossbarMerges(pc, { fidelity, K, N, directions: ['forward'], signedInput: X.data.some((v) => v < 0) });
    const Y = await crossbarMvm(pc, W, X, { fidelity, seed, ...(merge ? { merge } : {}) });
    writeFileAtomicSync(o.out, formatNpy(Y));
    const planes = pc.subtract === 'analog' ? ', planes subtracted in analog' : '';
    const how =
      fidelity !== 'exact' ? '' : Y.merge.applied ? `${planes}; merged into one integer GEMM (${Y.merge.reason})` : `${planes}; every conversion separately`;
    process.stderr.write(`xbarc mvm: ${X.shape.join('×')} · ${W.shape.join('×')} on ${pc.name} (${fidelity}${how}) → ${o.out} [${Y.shape.join(', ')}]\n`);
    return 0;
  } catch (err) {
    if (err instanceof XbarcError) return fail(err.message);
    throw err;
  }
}

export function registerMvmCommand(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('mvm')
    .description('multiply inputs by a weight matrix through a declared crossbar (.npy in and out)')
    .requiredOption('--spec <file>', '.xbar file declaring the crossbar')
    .requiredOption('--crossbar <name>', 'crossbar declaration to use')
    .requiredOption('--weights <W.npy>', 'weights [in, out], float32/float64, C order')
    .requiredOption('--inputs <X.npy>', 'inputs [batch, in] (or [in])')
    .requiredOption('--out <Y.npy>', 'where to write the outputs [batch, out] (float32)')
    .option('--fidelity <exact|fast>', 'exact: every tile × stream × slice through its ADC; fast: one folded GEMM', 'exact')
    .option('--seed <n>', 'seed of device variation, faults and read noise', '0')
    .option('--subtract <digital|analog>', "override the crossbar's subtract: ± planes converted separately, or I⁺ − I⁻ through one signed ADC")
    .action(async (opts: MvmCommandOptions) => {
      setExitCode(await mvmCommand(opts));
    });
}
