/**
 * One crossbar MVM outside an experiment (`xbarc mvm`): Y = X·W through a declared crossbar.
 *
 * Conventions: W is [in, out] and X is [batch, in] (a 1-D X is one input vector), real-valued.
 * The mapping scales them: weights by max|W| onto weight_bits (per matrix), inputs by max|X| onto
 * input_bits (inputs are unsigned when X has no negative entry, signed otherwise). `calibrate`
 * ADC ranges are calibrated on X itself. Device variation and faults are sampled from the seed's
 * named streams ("d2d/mvm", "stuck/mvm"), read noise from "read/mvm". Parasitics (fcm, aam) solve
 * every array of the programmed matrix once (parasitics/tiles.ts). At fidelity exact the caller
 * passes the compiler's merge decision for this matrix (`crossbarMerges` in src/compiler/merges.ts),
 * as an experiment's plan does: where merging every conversion into one integer GEMM is provably
 * exact it runs so (same numbers, much faster). Without one, every conversion runs separately.
 */

import ort from 'onnxruntime-node';
import type { LayerMerge, PlanCrossbar } from '../../model/plan.js';
import { GraphBuilder } from '../engine/onnx.js';
import { openSession, type EngineOptions } from '../engine/session.js';
import { XbarcRuntimeError } from '../../model/errors.js';
import { NormalStream } from '../normal-stream.js';
import { programDevices } from './config.js';
import { hasVariation } from '../../model/crossbar-math.js';
import { CrossbarMvm, sideName } from './emitter.js';
import { assertConfigSupported } from './runtime.js';
import { parasiticsOf } from '../parasitics/plan.js';
import { effectiveProgramming } from '../parasitics/tiles.js';
import type { NpyArray } from './npy.js';

/** `threads`, `spin`: the session's engine settings (the defaults of every run, `DEFAULT_THREADS` and `DEFAULT_SPIN`, when left out). */
export interface MvmOptions extends EngineOptions {
  fidelity: 'exact' | 'fast';
  seed: number;
  /** `false`: convert every tile × stream × slice even where the merge is provably exact (comparisons). */
  mergeLossless?: boolean;
  /** The compiler's forward merge decision for this crossbar, K × N and input sign (src/compiler/merges.ts). */
  merge?: LayerMerge;
}

const NOT_DECIDED: LayerMerge = { direction: 'forward', applied: false, what: 'slices, streams and tiles', reason: 'no merge decision was given' };

/** Y, and the merge decision it ran under (applied: one integer GEMM; else every conversion). */
export type MvmResult = NpyArray & { merge: LayerMerge };

export async function crossbarMvm(pc: PlanCrossbar, W: NpyArray, X: NpyArray, opts: MvmOptions): Promise<MvmResult> {
  if (W.shape.length !== 2) throw new XbarcRuntimeError('mvm/shape', `weights must be a 2-D array [in, out], got shape (${W.shape.join(', ')})`);
  const [K, N] = W.shape as [number, number];
  const x2 = X.shape.length === 1 ? [1, X.shape[0]!] : X.shape;
  if (x2.length !== 2) throw new XbarcRuntimeError('mvm/shape', `inputs must be [batch, in] or [in], got shape (${X.shape.join(', ')})`);
  const [B, Kx] = x2 as [number, number];
  if (Kx !== K) throw new XbarcRuntimeError('mvm/shape', `inputs have ${Kx} features but the weights have ${K} rows (W is [in, out], X is [batch, in])`);
  if (K === 0 || N === 0 || B === 0) throw new XbarcRuntimeError('mvm/shape', 'empty weights or inputs');
  const xb = pc;
  assertConfigSupported(xb, opts.fidelity);
  const par = parasiticsOf(pc);
  // Parasitics: every array's IR-drop distortion folded into the fed level model (parasitics/tiles.ts).
  const variation = hasVariation(xb) || par.kind !== 'none';
  const readNoise = xb.device.readNoise > 0;
  const signed = X.data.some((v) => v < 0);
  const merges = [opts.merge ?? NOT_DECIDED];
  const emitter = new CrossbarMvm({
    layer: 'mvm',
    xb,
    fidelity: opts.fidelity,
    forward: true,
    backward: false,
    ranges: 'dynamic',
    outputs: 'none',
    variation,
    readNoise,
    signedInput: signed,
    merges,
    ...(opts.mergeLossless === false ? { mergeLossless: false } : {}),
  });
  const g = new GraphBuilder('mvm');
  g.input('x', 'float', [B, K]);
  g.input('w', 'float', [K, N]);
  g.output('y', emitter.forward(g, { kind: 'dense', layer: 'mvm', K, N }, 'x', 'w').y, 'float', [B, N]);
  const session = await openSession(g.toBytes(), opts);
  try {
    const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', X.data, [B, K]), w: new ort.Tensor('float32', W.data, [K, N]) };
    if (variation) {
      const p = programDevices(xb, 'mvm', K, N, opts.seed);
      const eff = par.kind === 'none' ? p : effectiveProgramming(xb, par, W.data, K, N, p.A, p.B, false);
      feeds[sideName('mvm', 'A')] = new ort.Tensor('float32', eff.A, p.dims);
      feeds[sideName('mvm', 'B')] = new ort.Tensor('float32', eff.B, p.dims);
    }
    if (readNoise)
      feeds[sideName('mvm', 'noise')] = new ort.Tensor(
        'float32',
        new NormalStream(opts.seed, 'read/mvm').fill(new Float32Array(B * N), 0, 1, xb.device.readNoise),
        [B, N],
      );
    const out = await session.run(feeds);
    return {
      data: Float32Array.from(out['y']!.data as Float32Array),
      shape: X.shape.length === 1 ? [N] : [B, N],
      merge: opts.mergeLossless === false ? { ...merges[0]!, applied: false, reason: 'merging switched off' } : merges[0]!,
    };
  } finally {
    await session.release();
  }
}
