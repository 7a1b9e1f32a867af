/**
 * Gradient check harness: the engine's gradients (its `grads` graph, float32) against central
 * finite differences of the float64 reference, at the same (float32-representable) parameters.
 */

import type { PlanExperiment, PlanNetwork } from '../../src/model/plan.js';
import type { MvmSelector } from '../../src/runtime/engine/mvm.js';
import { mnistExperiment, sgd } from '../support/plan-builder.js';
import { Trainer } from '../../src/runtime/engine/trainer.js';
import { Rng } from '../../src/runtime/rng.js';
import { finiteDifferenceGrads, relativeError, toF64, type Params } from './float64-net.js';

export interface GradCheckOptions {
  batch: number;
  seed?: number;
  mvm?: MvmSelector;
  /** Input values; default N(0, 1) from a seeded stream. */
  input?: (n: number, perSample: number) => Float32Array;
  /** Overrides of state tensors (e.g. positive biases, random batchnorm γ/β). */
  state?: (names: string[], rng: Rng) => Record<string, Float32Array>;
}

export interface GradCheckResult {
  /** Relative error ‖g_engine − g_fd‖ / ‖g_fd‖ per parameter. */
  errors: Record<string, number>;
  engine: Record<string, Float32Array>;
  reference: Params;
}

export function tinyExperiment(net: PlanNetwork, seed = 3): PlanExperiment {
  return mnistExperiment({ network: net, train: { epochs: 1, batch: 4, optimizer: sgd(1) }, seed });
}

export async function gradCheck(net: PlanNetwork, opts: GradCheckOptions): Promise<GradCheckResult> {
  const seed = opts.seed ?? 3;
  const rng = new Rng(seed, 'test/grad-check');
  const perSample = net.inputShape.reduce((a, b) => a * b, 1);
  const x = opts.input ? opts.input(opts.batch, perSample) : rng.fillNormal(new Float32Array(opts.batch * perSample));
  const y = Int32Array.from({ length: opts.batch }, () => rng.int(net.classes));
  const trainer = await Trainer.create(tinyExperiment(net, seed), { mvm: opts.mvm, threads: 1 });
  try {
    const names = trainer.describeState().params.map((p) => p.name);
    if (opts.state) trainer.setState(opts.state(names, rng));
    const { grads } = await trainer.gradients(x, y);
    const params: Params = {};
    for (const [name, v] of Object.entries(trainer.getWeights())) params[name] = toF64(v);
    const reference = finiteDifferenceGrads(net, params, names, toF64(x), y);
    const errors: Record<string, number> = {};
    for (const name of names) errors[name] = relativeError(grads[name]!, reference[name]!);
    return { errors, engine: grads, reference };
  } finally {
    await trainer.release();
  }
}
