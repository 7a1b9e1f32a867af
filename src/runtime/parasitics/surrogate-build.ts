/**
 * The whole surrogate pipeline behind `xbarc surrogate` (docs/parasitics.md, "Learned
 * surrogate"): generate training tiles [0, tiles) and held-out tiles [tiles, tiles + testTiles)
 * from the solver, train the MLP on the engine, and measure it and the baselines on the held-out
 * tiles. Pass another `solver` (a nonlinear device solver) and nothing else changes.
 */

import { loadEmbeddedMnist } from '../data/mnist.js';
import type { EngineOptions } from '../engine/session.js';
import { generateSurrogateData, linearTileSolver, type NamedTileSolver, type SurrogateDataConfig } from './surrogate-data.js';
import { surrogateErrors, type SurrogateErrors } from './surrogate-eval.js';
import type { SurrogateModel } from './surrogate-model.js';
import { trainSurrogate } from './surrogate-train.js';

export interface SurrogateBuildOptions extends SurrogateDataConfig {
  tiles: number;
  testTiles: number;
  hidden: number;
  epochs: number;
  batch: number;
  lr: number;
  engine?: EngineOptions;
  solver?: NamedTileSolver;
  /** Nonlinear solvers: operating point of the linearised baseline, every row at foldAt·vRead (default 1). */
  foldAt?: number;
  onProgress?: (line: string) => void;
}

export interface SurrogateBuild {
  model: SurrogateModel;
  errors: SurrogateErrors;
  losses: number[];
  seconds: { generate: number; train: number; evaluate: number };
}

export async function buildSurrogate(o: SurrogateBuildOptions): Promise<SurrogateBuild> {
  for (const [name, v] of [
    ['tiles', o.tiles],
    ['test tiles', o.testTiles],
  ] as const)
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be an integer ≥ 1, got ${v}`);
  const solver = o.solver ?? linearTileSolver();
  const digits = await loadEmbeddedMnist();
  const say = o.onProgress ?? (() => undefined);
  const t0 = performance.now();
  const train = generateSurrogateData(o, digits, solver.solve, 0, o.tiles);
  const test = generateSurrogateData(o, digits, solver.solve, o.tiles, o.testTiles);
  const t1 = performance.now();
  say(`generated ${train.samples} training and ${test.samples} held-out pairs with ${solver.name} in ${((t1 - t0) / 1000).toFixed(1)} s`);
  const norm = { vRead: o.vRead, gOn: o.gOn, gOff: o.gOff };
  const foldAt = o.foldAt ?? 1;
  if (!(foldAt > 0 && foldAt <= 1)) throw new RangeError(`fold_at must be a fraction in (0, 1], got ${foldAt}`);
  const meta = {
    solver: solver.name,
    ...(solver.iv ? { iv: solver.iv, foldAt } : {}),
    wires: o.wires,
    data: {
      source: 'mnist-mlp',
      seed: o.seed,
      tiles: o.tiles,
      testTiles: o.testTiles,
      vectorsPerTile: o.vectorsPerTile,
      weightBits: o.weightBits,
      cellBits: o.cellBits,
      inputBits: o.inputBits,
      dacBits: o.dacBits,
    },
  };
  const trainOpts = {
    hidden: o.hidden,
    epochs: o.epochs,
    batch: o.batch,
    lr: o.lr,
    seed: o.seed,
    onEpoch: (e: number, loss: number) => say(`epoch ${e}/${o.epochs}: training loss ${loss.toExponential(3)}`),
    ...(o.engine ? { engine: o.engine } : {}),
  };
  const { model, losses } = await trainSurrogate(train, o.rows, o.cols, norm, meta, trainOpts);
  const t2 = performance.now();
  const nonlinear = solver.iv ? { iv: solver.iv, vOp: foldAt * o.vRead } : undefined;
  const errors = surrogateErrors(model, test, { rows: o.rows, cols: o.cols, wires: o.wires }, nonlinear);
  const t3 = performance.now();
  model.meta = {
    ...meta,
    training: { epochs: o.epochs, batch: o.batch, lr: o.lr, optimizer: 'adam', finalLoss: losses[losses.length - 1] },
    heldOut: errors,
  };
  return { model, errors, losses, seconds: { generate: (t1 - t0) / 1000, train: (t2 - t1) / 1000, evaluate: (t3 - t2) / 1000 } };
}
