/**
 * The learned parasitics surrogate (docs/parasitics.md, "Learned surrogate") against FCM, all
 * measured in the same run:
 *   - one 64×64 tile MVM on a batch of input vectors in onnxruntime: the FCM-folded product
 *     V·G_ni against the surrogate applied per input vector with the G part folded into a per-tile
 *     bias (h = relu(V·W1_V + c), f = 1 + s·(h·W2 + b2), I = (V·G)/f) — goal ≤ 2×;
 *   - the per-tile programming cost: the surrogate's fold + reference prediction (what the runtime
 *     does per array) against one FCM solve;
 *   - a fast-fidelity LeNet-5 training step (forward + backward on 64×64 tiles, PUMA wires) with
 *     `surrogate(refresh = 1)` and `refresh = 50` against the same step without parasitics —
 *     goal within 3×. The surrogate here has random weights of the real size (the cost does not
 *     depend on their values).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { withMerges } from '../src/compiler/merges.js';
import type { ParasiticsSpec } from '../src/model/crossbar.js';
import type { PlanExperiment } from '../src/model/plan.js';
import { CrossbarRuntime } from '../src/runtime/crossbar/runtime.js';
import { GraphBuilder } from '../src/runtime/engine/onnx.js';
import { openSession } from '../src/runtime/engine/session.js';
import { Trainer } from '../src/runtime/engine/trainer.js';
import type { Wires } from '../src/runtime/parasitics/circuit.js';
import { fcm } from '../src/runtime/parasitics/fcm.js';
import { saveSurrogate } from '../src/runtime/parasitics/surrogate-file.js';
import { foldTile, type SurrogateModel } from '../src/runtime/parasitics/surrogate-model.js';
import { surrogateEffective, surrogateEffectiveBatch } from '../src/runtime/parasitics/surrogate-tile.js';
import { Rng } from '../src/runtime/rng.js';
import { adc, xbConfig } from '../test/runtime/crossbar-helpers.js';
import { lenet5, mnistExperiment, sgd } from '../test/support/plan-builder.js';
import { interleavedMedians, timeIt, versus, type Row, type Section } from './harness.js';

const PUMA: Wires = { row: 2.5, col: 2.5, source: 500, sense: 100 };
const N = 64;
const HIDDEN = 500;
const THREADS = 2;

function randomSurrogate(rows: number, cols: number, seed = 1): SurrogateModel {
  const rng = new Rng(seed, 'bench/surrogate');
  const F = rows + rows * cols;
  return {
    rows,
    cols,
    hidden: HIDDEN,
    norm: { vRead: 0.25, gOn: 1e-5, gOff: 1e-6 },
    fScale: 0.01,
    referenceDrive: 0.2,
    w1: rng.fillNormal(new Float32Array(F * HIDDEN), 0, Math.sqrt(2 / F)),
    b1: new Float32Array(HIDDEN),
    w2: rng.fillNormal(new Float32Array(HIDDEN * cols), 0, Math.sqrt(2 / HIDDEN)),
    b2: new Float32Array(cols),
    meta: { solver: 'random (bench)', wires: PUMA },
  };
}

function tile(n: number): Float64Array {
  const rng = new Rng(2, 'bench/surrogate-tile');
  return Float64Array.from({ length: n * n }, () => 1e-6 + 3e-6 * rng.int(4)); // 2-bit levels, 1–10 µS
}

/** The two tile-MVM graphs: FCM-folded V·G_ni, and the surrogate per vector on a folded tile. */
async function tileMvmSessions(m: SurrogateModel, g: Float64Array): Promise<{ fcm: ort.InferenceSession; sur: ort.InferenceSession }> {
  const gni = fcm(g, N, N, PUMA).gni;
  const a = new GraphBuilder('fcm-folded');
  a.input('v', 'float', ['B', N]);
  a.output('i', a.op('MatMul', ['v', a.constFloat(Float32Array.from(gni), [N, N])]), 'float', ['B', N]);
  const c = foldTile(m, g).c;
  const b = new GraphBuilder('surrogate');
  b.input('v', 'float', ['B', N]);
  // V features are V/V_read: fold 1/V_read into W1_V.
  const w1v = Float32Array.from(m.w1.subarray(0, N * HIDDEN), (w) => w / m.norm.vRead);
  const h = b.op('Relu', [b.op('Add', [b.op('MatMul', ['v', b.constFloat(w1v, [N, HIDDEN])]), b.constFloat(Float32Array.from(c), [HIDDEN])])]);
  const y = b.op('Add', [b.op('MatMul', [h, b.constFloat(m.w2, [HIDDEN, N])]), b.constFloat(m.b2, [N])]);
  const f = b.op('Add', [b.op('Mul', [y, b.scalar(m.fScale)]), b.scalar(1)]);
  const ideal = b.op('MatMul', ['v', b.constFloat(Float32Array.from(g), [N, N])]);
  b.output('i', b.op('Div', [ideal, f]), 'float', ['B', N]);
  return { fcm: await openSession(a.toBytes(), { threads: THREADS }), sur: await openSession(b.toBytes(), { threads: THREADS }) };
}

function lenetExperiment(parasitics: ParasiticsSpec, batch: number): PlanExperiment {
  const exp = mnistExperiment({ network: lenet5(), train: { epochs: 1, batch, optimizer: sgd(0.01, 0.9) } });
  for (const l of exp.network.layers) if (l.mapping) Object.assign(l.mapping, { target: 'crossbar', crossbar: 'xb64' });
  exp.fidelity = 'fast';
  const calibrated = adc(8, { kind: 'calibrate', percentile: 0.999 });
  exp.crossbars = {
    xb64: xbConfig({ name: 'xb64', adc: calibrated, backward: { inputBits: 8, dacBits: 1, adc: calibrated }, wires: PUMA, parasitics }, { name: 'rram' }),
  };
  exp.train!.nonideal = ['forward', 'backward'];
  return withMerges(exp);
}

async function lenetTrainer(exp: PlanExperiment): Promise<{ trainer: Trainer; xb: CrossbarRuntime }> {
  const xb = CrossbarRuntime.create(exp, { threads: THREADS })!;
  const t = await Trainer.create(exp, { threads: THREADS, mvm: xb.trainSelector, evalMvm: xb.evalSelector, sideFeeds: xb.sideFeeds });
  xb.setWeightSource((layer) => t.peekState(`${layer}/weight`));
  return { trainer: t, xb };
}

/** Median ms of the plain fast LeNet-5 step and of the step with surrogates refreshed every `refresh` batches, interleaved. */
async function benchLenetSteps(file: string, batch = 64, reps = 24): Promise<{ plainMs: number; everyMs: number; every50Ms: number; solveMs: number }> {
  const plain = await lenetTrainer(lenetExperiment({ kind: 'none' }, batch));
  const every = await lenetTrainer(lenetExperiment({ kind: 'surrogate', file, refresh: 1 }, batch));
  const fifty = await lenetTrainer(lenetExperiment({ kind: 'surrogate', file, refresh: 50 }, batch));
  try {
    const rng = new Rng(1, 'bench/lenet-batch');
    const x = rng.fillNormal(new Float32Array(batch * 784));
    const y = Int32Array.from({ length: batch }, () => rng.int(10));
    for (let i = 0; i < 3; i++) for (const t of [plain, every, fifty]) await t.trainer.step(x, y, 0.01);
    const [plainMs, everyMs, every50Ms] = await interleavedMedians(
      [plain, every, fifty].map((t) => () => t.trainer.step(x, y, 0.01)),
      reps,
    );
    const solves = Object.values(every.xb.parasiticSolves());
    const solveMs = solves.reduce((a, s) => a + s.ms, 0) / every.xb.trainRefreshes(every.xb.layerNames[0]!);
    return { plainMs: plainMs!, everyMs: everyMs!, every50Ms: every50Ms!, solveMs };
  } finally {
    for (const t of [plain, every, fifty]) {
      await t.trainer.release();
      await t.xb.release();
    }
  }
}

export const section: Section = {
  name: 'parasitics surrogate (learned tile model vs FCM)',
  run: async (): Promise<Row[]> => {
    const rows: Row[] = [];
    const m = randomSurrogate(N, N);
    const g = tile(N);
    const B = 256;
    const { fcm: fs, sur: ss } = await tileMvmSessions(m, g);
    const rng = new Rng(3, 'bench/surrogate-v');
    const v = new ort.Tensor(
      'float32',
      Float32Array.from({ length: B * N }, () => (rng.uniform() < 0.2 ? 0.25 : 0)),
      [B, N],
    );
    for (let i = 0; i < 5; i++) {
      await fs.run({ v });
      await ss.run({ v });
    }
    const [fcmMs, surMs] = await interleavedMedians([() => fs.run({ v }), () => ss.run({ v })], 60);
    await fs.release();
    await ss.release();
    const fcmRow: Row = { name: `64×64 tile MVM, FCM-folded V·G_ni, batch ${B} (onnxruntime)`, value: fcmMs!, unit: 'ms' };
    rows.push(fcmRow);
    rows.push(
      versus(
        { name: `64×64 tile MVM, surrogate per vector (G part folded), batch ${B}`, value: surMs!, unit: 'ms', note: 'goal ≤ 2× the FCM-folded MVM' },
        fcmRow,
      ),
    );
    const solve = await timeIt(() => fcm(g, N, N, PUMA), { warmup: 3, reps: 20 });
    const solveRow: Row = { name: 'per-tile programming: one FCM solve 64×64, PUMA wires', value: solve.medianMs, unit: 'ms' };
    rows.push(solveRow);
    // One array at a time in JS against a layer's worth (32 arrays) in one batched kernel pass, per array, interleaved.
    const gs = Array.from({ length: 32 }, () => g);
    for (let i = 0; i < 2; i++) surrogateEffectiveBatch(m, gs);
    const [oneMs, batchMs] = await interleavedMedians([async () => surrogateEffective(m, g), async () => surrogateEffectiveBatch(m, gs)], 12);
    const oneRow: Row = { name: 'per-tile programming: surrogate fold + reference f, one array (JS, float64)', value: oneMs!, unit: 'ms' };
    rows.push(versus(oneRow, solveRow));
    rows.push(
      versus(
        { name: 'per-tile programming: the same, 32 arrays batched (WebAssembly f64x2), per array', value: batchMs! / 32, unit: 'ms', note: 'same bits' },
        oneRow,
      ),
    );

    const dir = mkdtempSync(join(tmpdir(), 'xbarc-bench-surrogate-'));
    try {
      const file = join(dir, 's64.json');
      saveSurrogate(file, m);
      const s = await benchLenetSteps(file);
      const plainRow: Row = { name: 'LeNet-5 step, fast, PUMA wires, no parasitics (median, interleaved)', value: s.plainMs, unit: 'ms' };
      rows.push(plainRow);
      rows.push(
        versus(
          {
            name: 'LeNet-5 step, surrogate(refresh = 1): every array re-predicted every step',
            value: s.everyMs,
            unit: 'ms',
            note: `goal within 3×; ${s.solveMs.toFixed(0)} ms of surrogate predictions per refresh`,
          },
          plainRow,
        ),
      );
      rows.push(versus({ name: 'LeNet-5 step, surrogate(refresh = 50)', value: s.every50Ms, unit: 'ms', note: 'median step between refreshes' }, plainRow));
      rows.push(
        versus(
          { name: 'LeNet-5 step, surrogate(refresh = 50), amortized', value: s.every50Ms + s.solveMs / 50, unit: 'ms', note: 'steady step + one refresh / 50' },
          plainRow,
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return rows;
  },
};
