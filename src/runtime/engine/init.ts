/**
 * Initial weights (train.init): He-normal, or uniform in ±limit, continuous or on `levels` evenly
 * spaced values (NeuroSim's WeightInitialize, Mapping.cpp: (rand() % 7 − 3)/3, i.e. 7 levels in
 * [−1, 1], each with probability 1/7). Every value comes from the one seeded stream passed in.
 */
import type { WeightInit } from '../../model/plan.js';
import type { Rng } from '../rng.js';

/** Fill `out` with initial weights of a layer with `fanIn` inputs per output, drawn from `rng`. */
export function drawWeights(out: Float32Array, init: WeightInit, fanIn: number, rng: Rng): Float32Array {
  if (init.kind === 'he_normal') return rng.fillNormal(out, 0, Math.sqrt(2 / fanIn));
  const { limit, levels } = init;
  if (levels === undefined) {
    for (let k = 0; k < out.length; k++) out[k] = limit * (2 * rng.uniform() - 1);
    return out;
  }
  // Level j of 0 … levels−1 (rng.int: uniform), at −limit + j·2·limit/(levels − 1).
  const step = (2 * limit) / (levels - 1);
  for (let k = 0; k < out.length; k++) out[k] = -limit + rng.int(levels) * step;
  return out;
}
