/**
 * How well the surrogate predicts the solver on held-out tiles, against the baselines
 * (docs/parasitics.md, "Learned surrogate"). Every error is an RMSE of f = I_ideal / I over all
 * (vector, column) entries of the held-out tiles, against the solver's f:
 *   - `surrogate`: the MLP's f;
 *   - `ideal`: no parasitics, f = 1;
 *   - `linear`: GENIEx's baseline, the analytical *linear* crossbar model — the same wires, linear
 *     (ohmic, G) cells — i.e. xbarc's FCM (I = V·G_ni). With the linear solver this baseline is
 *     the solver and its RMSE is 0 (to rounding); with a nonlinear solver it is GENIEx's
 *     comparison;
 *   - `aam`: the line-loaded AAM (aam.ts, the default `aam`) on the same linear cells;
 *   - `linearised` (nonlinear solvers only): xbarc's runtime model of a nonlinear device, the
 *     per-tile secant linearisation at every row at vOp (nonlinear.ts `linearizeTile`, what
 *     `parasitics = fcm` folds for a device with `iv = sinh(v0, fold_at)`);
 *   - `tile`: the surrogate folded per tile as the crossbar runtime applies it (surrogate-tile.ts:
 *     f at the uniform reference drive, for every vector).
 * Also the relative RMSE of the column currents, sqrt(mean((I_pred − I)²)) / sqrt(mean(I²)).
 */

import { aam } from './aam.js';
import { fcm } from './fcm.js';
import { isLinear, type IvModel } from './iv.js';
import { linearizeTile } from './nonlinear.js';
import { matVec, type SurrogateData, type TileCircuit } from './surrogate-data.js';
import { foldTile, predictFolded, type SurrogateModel } from './surrogate-model.js';
import { referenceF } from './surrogate-tile.js';

export interface ErrorPair {
  /** RMSE of f. */
  f: number;
  /** Relative RMSE of the column currents. */
  current: number;
}

export interface SurrogateErrors {
  samples: number;
  surrogate: ErrorPair;
  ideal: ErrorPair;
  linear: ErrorPair;
  aam: ErrorPair;
  tile: ErrorPair;
  /** The per-tile secant linearisation at vOp (nonlinear solvers only). */
  linearised?: ErrorPair;
  /** Mean of the solver's f − 1 (the size of the effect being modelled). */
  meanDistortion: number;
}

class Acc {
  private fe = 0;
  private ie = 0;
  private n = 0;
  add(fPred: number, fTrue: number, iIdeal: number): void {
    this.fe += (fPred - fTrue) ** 2;
    this.ie += (iIdeal / fPred - iIdeal / fTrue) ** 2;
    this.n++;
  }
  result(iSq: number): ErrorPair {
    return { f: Math.sqrt(this.fe / this.n), current: Math.sqrt(this.ie / this.n) / Math.sqrt(iSq / this.n) };
  }
}

/** The device curve of a nonlinear solver and the operating point (V) of its linearised baseline. */
export interface NonlinearBaseline {
  iv: IvModel;
  vOp: number;
}

/** Errors of the surrogate and the baselines on `data` (its tiles were not trained on). */
export function surrogateErrors(m: SurrogateModel, data: SurrogateData, circuit: TileCircuit, nonlinear?: NonlinearBaseline): SurrogateErrors {
  const { rows: M, cols: N } = circuit;
  const P = data.samples / data.tiles;
  const nl = nonlinear && !isLinear(nonlinear.iv) ? nonlinear : undefined;
  const acc = { surrogate: new Acc(), ideal: new Acc(), linear: new Acc(), aam: new Acc(), tile: new Acc(), linearised: new Acc() };
  let iSq = 0;
  let dist = 0;
  for (let t = 0; t < data.tiles; t++) {
    const g = data.g.subarray(t * M * N, (t + 1) * M * N);
    const v = data.v.subarray(t * P * M, (t + 1) * P * M);
    const fS = predictFolded(m, foldTile(m, g), v);
    const iLin = matVec(v, fcm(g, M, N, circuit.wires).gni, M, N);
    const iAam = matVec(v, aam(g, M, N, circuit.wires), M, N);
    const fRef = referenceF(m, g);
    const iSec = nl ? matVec(v, linearizeTile(g, M, N, circuit.wires, nl.iv, nl.vOp).gni, M, N) : null;
    for (let p = 0; p < P; p++) {
      for (let j = 0; j < N; j++) {
        const s = (t * P + p) * N + j;
        const fTrue = data.f[s]!;
        const ideal = data.iIdeal[s]!;
        const k = p * N + j;
        acc.surrogate.add(fS[k]!, fTrue, ideal);
        acc.ideal.add(1, fTrue, ideal);
        acc.linear.add(ideal / iLin[k]!, fTrue, ideal);
        acc.aam.add(ideal / iAam[k]!, fTrue, ideal);
        acc.tile.add(fRef[j]!, fTrue, ideal);
        if (iSec) acc.linearised.add(ideal / iSec[k]!, fTrue, ideal);
        iSq += (ideal / fTrue) ** 2;
        dist += fTrue - 1;
      }
    }
  }
  const n = data.samples * N;
  const out: SurrogateErrors = {
    samples: data.samples,
    surrogate: acc.surrogate.result(iSq),
    ideal: acc.ideal.result(iSq),
    linear: acc.linear.result(iSq),
    aam: acc.aam.result(iSq),
    tile: acc.tile.result(iSq),
    meanDistortion: dist / n,
  };
  if (nl) out.linearised = acc.linearised.result(iSq);
  return out;
}
