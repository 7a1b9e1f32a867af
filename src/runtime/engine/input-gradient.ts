/**
 * The gradient of the loss with respect to an input batch, for a network at given weights: the
 * building block of adversarial attacks (FGSM, PGD) and saliency. Through the ideal network
 * (`fidelity = ideal`) or through the crossbar model of the plan's crossbar layers: their forward
 * conversions as evaluation runs them (ADC ranges calibrated on this batch) and the
 * straight-through backward of the quantizers. Batch normalization uses running statistics.
 */

import type { PlanExperiment } from '../../model/plan.js';
import { CrossbarRuntime } from '../crossbar/runtime.js';
import { resolveEngine, type EngineOptions } from './session.js';
import { Trainer } from './trainer.js';

export interface InputGradientResult {
  /** Mean cross-entropy of the batch. */
  loss: number;
  /** Correctly classified samples of the batch. */
  correct: number;
  /** d loss / d x, the shape of x ([B, ...inputShape]). */
  grad: Float32Array;
}

/**
 * `weights`: the network's state by name ("conv1/weight", "bn1/running_mean", …; e.g. a trained
 * run's, or `Trainer.getWeights()`); missing tensors take the seeded initialization.
 */
export async function inputGradient(
  exp: PlanExperiment,
  weights: Record<string, Float32Array>,
  x: Float32Array,
  y: Int32Array,
  opts: EngineOptions = {},
): Promise<InputGradientResult> {
  const engine = resolveEngine(opts);
  const xb = CrossbarRuntime.create(exp, engine);
  const base = { initialState: weights, ...engine };
  const { train: _train, ...inference } = exp; // no training graph is needed
  const trainer = await Trainer.create(inference, xb ? { ...base, mvm: xb.evalSelector, evalMvm: xb.evalSelector, sideFeeds: xb.sideFeeds } : base);
  try {
    if (xb) {
      xb.setWeightSource((layer) => trainer.peekState(`${layer}/weight`));
      await xb.calibrate(trainer, x, y);
    }
    return await trainer.inputGradient(x, y);
  } finally {
    await trainer.release();
    await xb?.release();
  }
}
