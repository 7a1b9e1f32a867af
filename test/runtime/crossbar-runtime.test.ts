/**
 * Crossbar execution of whole experiments: TxSim-style training at fidelity fast (forward and
 * backward on the crossbar, D2D variation and read noise), inference at fidelity exact after
 * software training, the worker path, reproducibility, and clear errors for what is not supported.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withMerges } from '../../src/compiler/merges.js';
import type { PlanCrossbar, PlanExperiment, NonidealStage } from '../../src/model/plan.js';
import ort from 'onnxruntime-node';
import { foldDevices, programDevices, programFolded } from '../../src/runtime/crossbar/config.js';
import { planeSliceWeights, weightQmax, weightSlices } from '../../src/model/crossbar-math.js';
import type { CrossbarSpec } from '../../src/model/crossbar.js';
import { sideName } from '../../src/runtime/crossbar/emitter.js';
import { assertCrossbarSupported, CrossbarRuntime } from '../../src/runtime/crossbar/runtime.js';
import { loadDataset, type Dataset } from '../../src/runtime/data/index.js';
import { runExperiment, runExperimentInWorker } from '../../src/runtime/engine/run-experiment.js';
import type { MvmSpec } from '../../src/runtime/engine/mvm.js';
import { Trainer } from '../../src/runtime/engine/trainer.js';
import { Rng } from '../../src/runtime/rng.js';
import { adc, layerXb, planCrossbar, runMvm, scalarTensor, smallCrossbarExperiment, stepTensor, xbConfig } from './crossbar-helpers.js';

const crossbar = planCrossbar;

function experiment(fidelity: PlanExperiment['fidelity'], nonideal: NonidealStage[], xb: PlanCrossbar, seed = 3): PlanExperiment {
  const exp = smallCrossbarExperiment(fidelity, nonideal, xb, { seed });
  // The merge decisions, as the compiler records them in the plan.
  return withMerges(exp);
}

let cached: Dataset | null = null;
async function data(exp: PlanExperiment): Promise<Dataset> {
  cached ??= await loadDataset(exp.data, exp.seed);
  return cached;
}

test('fast fidelity trains through crossbar forward and backward (D2D, read noise), reproducibly, with per-layer stats', async () => {
  const exp = experiment(
    'fast',
    ['forward', 'backward', 'update'],
    crossbar({}, { d2dSigma: 0.03, readNoise: 0.02, update: { kind: 'txsim', v: 0.01, gamma: 0.05, noise: 'gradient', nonlinearity: 'step', pulses: 1 } }),
  );
  const d = await data(exp);
  const a = await runExperiment(exp, d, { trainer: { threads: 1 } });
  const b = await runExperiment(exp, d, { trainer: { threads: 1 } });
  assert.ok(a.final.testAccuracy > 0.6, `accuracy ${a.final.testAccuracy}`);
  assert.equal(a.final.testAccuracy, b.final.testAccuracy);
  assert.equal(a.epochs[0]!.trainLoss, b.epochs[0]!.trainLoss);
  assert.deepEqual(
    a.layers!.map((l) => l.name),
    ['conv1', 'fc1'],
  );
  for (const l of a.layers!) {
    assert.ok(l.adcSaturation >= 0 && l.adcSaturation < 0.05, `${l.name} saturation ${l.adcSaturation}`);
    assert.ok(l.snrDb !== null && l.snrDb > 10 && l.snrDb < 60, `${l.name} SNR ${l.snrDb}`);
    assert.match(l.update, /^device: txsim\(v=0.01, gamma=0.05, noise=gradient, nonlinearity=step, pulses=1\) on differential pairs/);
  }
  // Another seed samples other devices (and noise): a different run.
  const c = await runExperiment({ ...exp, seed: 4 }, d, { trainer: { threads: 1 } });
  assert.notEqual(c.epochs[0]!.trainLoss, a.epochs[0]!.trainLoss);
});

test('exact inference after software training (nonideal = []) stays within 2 points of ideal with lossless 8-bit ADCs', async () => {
  const exact = experiment('exact', [], crossbar());
  const d = await data(exact);
  const ideal = await runExperiment({ ...exact, fidelity: 'ideal' }, d, { trainer: { threads: 1 } });
  const r = await runExperiment(exact, d, { trainer: { threads: 1 } });
  // Training is identical (software); only the evaluation differs.
  assert.equal(r.epochs[0]!.trainLoss, ideal.epochs[0]!.trainLoss);
  assert.ok(Math.abs(r.final.testAccuracy - ideal.final.testAccuracy) <= 0.02, `exact ${r.final.testAccuracy} vs ideal ${ideal.final.testAccuracy}`);
  assert.ok(
    r.layers!.every((l) => l.adcSaturation === 0 && (l.snrDb ?? 0) > 25),
    JSON.stringify(r.layers),
  );
  // 8-bit ADCs on 32-row tiles with 2-bit cells and 1-bit DACs are lossless: the conversions merge.
  assert.ok(
    r.layers!.every((l) => typeof l['mergedExact'] === 'string' && /lossless 8-bit ADC/.test(l['mergedExact'] as string)),
    JSON.stringify(r.layers),
  );
  const unmerged = await runExperiment(exact, d, { trainer: { threads: 1 }, crossbar: { mergeLossless: false } });
  assert.equal(unmerged.final.testAccuracy, r.final.testAccuracy, 'merged and per-conversion exact evaluation agree');
  assert.ok(unmerged.layers!.every((l) => l['mergedExact'] === null));
  // A 3-bit ADC loses accuracy and SNR.
  const coarse = experiment(
    'exact',
    [],
    crossbar({ adc: { bits: 3, range: { kind: 'calibrate', percentile: 0.999 }, offset: 0, gainError: 0, inl: 0, rounding: 'nearest' } }),
  );
  const rc = await runExperiment(coarse, d, { trainer: { threads: 1 } });
  assert.ok(rc.layers![0]!.snrDb! < r.layers![0]!.snrDb! - 6, `3-bit SNR ${rc.layers![0]!.snrDb} vs 8-bit ${r.layers![0]!.snrDb}`);
  assert.equal(rc.layers![0]!['mergedExact'], null);
});

test('exact fidelity also trains through the crossbar (forward and backward, offset mapping, 2-bit DACs)', async () => {
  const exp = experiment('exact', ['forward', 'backward'], crossbar({ mapping: 'offset', dacBits: 2, rows: 16, cols: 8 }, { d2dSigma: 0.02, pSa0: 0.01 }));
  const d = await data(exp);
  const r = await runExperiment(exp, d, { trainer: { threads: 1 } });
  const ideal = await runExperiment({ ...exp, fidelity: 'ideal' }, d, { trainer: { threads: 1 } });
  // One epoch of 800 samples: well above chance and not far below the software-trained network.
  assert.ok(
    r.final.testAccuracy > 0.5 && r.final.testAccuracy > ideal.final.testAccuracy - 0.15,
    `exact-trained ${r.final.testAccuracy} vs ideal ${ideal.final.testAccuracy}`,
  );
  assert.ok(Number.isFinite(r.epochs[0]!.trainLoss));
  assert.equal(r.layers![1]!.fidelity, 'exact');
});

test('the worker path builds the crossbar selector inside the worker', async () => {
  const exp = experiment('fast', ['forward'], crossbar({ mapping: 'offset' }));
  const d = await data(exp);
  const inWorker = await runExperimentInWorker(exp, d, { threads: 1 });
  const direct = await runExperiment(exp, d, { trainer: { threads: 1 } });
  assert.equal(inWorker.final.testAccuracy, direct.final.testAccuracy);
  assert.equal(inWorker.layers!.length, 2);
});

test('unsupported crossbar features fail with a message that says what and where', () => {
  // Parasitics (fcm, aam) run at fast and exact fidelity (test/runtime/parasitics-training.test.ts).
  assert.doesNotThrow(() => assertCrossbarSupported(experiment('fast', [], crossbar({ parasitics: { kind: 'fcm', refresh: 1, backward: 'transposed' } }))));
  assert.throws(() => assertCrossbarSupported(experiment('exact', [], crossbar({}, { readNoise: 0.01 }))), /read noise at fidelity exact/);
  assert.doesNotThrow(() => assertCrossbarSupported(experiment('ideal', [], crossbar({ parasitics: { kind: 'fcm', refresh: 1, backward: 'transposed' } }))));
});

// ---- fidelity fast: weights programmed by the runtime (config.ts programFolded) -------------------

/** Independent float64 fold: Σ_p,s sign_p·4^s·(ℓ_ps·A + B) per weight of the [K, N] matrix Wk. */
function referenceFold(xb: CrossbarSpec, Wk: Float32Array, K: number, N: number, A: Float32Array, B: Float32Array): { Wf: Float64Array; sW: number } {
  const qmax = weightQmax(xb);
  let m = 0;
  for (const v of Wk) m = Math.max(m, Math.abs(v));
  const sW = Math.fround(Math.max(Math.fround(m / qmax), Math.fround(1e-30)));
  const S = weightSlices(xb);
  const Wf = new Float64Array(K * N);
  for (let i = 0; i < K * N; i++) {
    const x = Math.fround(Wk[i]! / sW);
    const f = Math.floor(x);
    // Half to even.
    let q = x - f > 0.5 ? f + 1 : x - f < 0.5 ? f : f % 2 === 0 ? f : f + 1;
    q = Math.min(qmax, Math.max(-qmax, q));
    const stored = xb.mapping === 'differential' ? [Math.max(q, 0), Math.max(-q, 0)] : [q + 2 ** (xb.weightBits - 1), 2 ** (xb.weightBits - 1)];
    let acc = 0;
    for (let p = 0; p < 2; p++) {
      for (let s = 0; s < S; s++) {
        const level = Math.floor(stored[p]! / 2 ** (xb.cellBits * s)) % 2 ** xb.cellBits;
        const at = (p * S + s) * K * N + i;
        acc += (p === 0 ? 1 : -1) * 2 ** (xb.cellBits * s) * (level * A[at]! + B[at]!);
      }
    }
    Wf[i] = acc;
  }
  return { Wf, sW };
}

test('fast fidelity programmed by the runtime: the folded matrix equals an independent float64 fold, and the MVM its product', async () => {
  const rng = new Rng(11, 'test/fed-programming');
  const B = 5,
    K = 70,
    N = 11;
  const spec: MvmSpec = { kind: 'dense', layer: 'L', K, N };
  for (const mapping of ['differential', 'offset'] as const) {
    // D2D variation and stuck-at faults; a 24-bit fast ADC ranged at one level per code.
    const xb = xbConfig(
      {
        rows: 32,
        cols: 16,
        mapping,
        weightBits: 8,
        cellBits: 2,
        inputBits: 8,
        adc: adc(24, { kind: 'max' }),
        backward: { inputBits: 8, dacBits: 1, adc: adc(24, { kind: 'max' }) },
      },
      { d2dSigma: 0.05, pSa0: 0.02, pSa1: 0.01 },
    );
    assert.deepEqual(planeSliceWeights(xb), [1, 4, 16, 64, -1, -4, -16, -64]);
    const w = rng.fillNormal(new Float32Array(K * N), 0, 0.2);
    const p = programDevices(xb, 'L', K, N, 5);
    assert.ok(
      p.A.some((a) => a === 0),
      'some stuck cells',
    );
    const ref = referenceFold(xb, w, K, N, p.A, p.B);
    const Wf = new Float32Array(K * N);
    const sW = programFolded(xb, w, foldDevices(xb, p.A, p.B, K, N, 'kn'), Wf);
    assert.equal(sW, ref.sW);
    for (let i = 0; i < K * N; i++)
      assert.ok(Math.abs(Wf[i]! - ref.Wf[i]!) <= 2 ** -23 * Math.abs(ref.Wf[i]!) + 1e-9, `${mapping} Wf[${i}] = ${Wf[i]}, reference ${ref.Wf[i]}`);
    // Incremental re-programming (only weights whose q moved are re-folded) equals programming from scratch,
    // also for the second device state folded in the same pass; after a step that moves weights, flips signs
    // and changes max |W| (so s_W).
    const dev = foldDevices(xb, p.A, p.B, K, N, 'kn');
    const devB = foldDevices(
      xb,
      p.B.map((b) => b + 0.5),
      p.A,
      K,
      N,
      'kn',
    );
    const prev = new Int32Array(K * N).fill(-9999);
    const inc = new Float32Array(K * N);
    const incB = new Float32Array(K * N);
    programFolded(xb, w, dev, inc, { dev: devB, out: incB }, prev);
    const w2 = w.map((v, i) => (i % 7 === 0 ? -v : i % 3 === 0 ? v * 1.01 : v));
    w2[5] = 1.3 * Math.max(...Array.from(w, Math.abs));
    programFolded(xb, w2, dev, inc, { dev: devB, out: incB }, prev);
    const scratch = new Float32Array(K * N);
    const scratchB = new Float32Array(K * N);
    programFolded(xb, w2, dev, scratch, { dev: devB, out: scratchB });
    assert.deepEqual(inc, scratch, `${mapping}: incremental forward fold`);
    assert.deepEqual(incB, scratchB, `${mapping}: incremental second fold`);
    assert.notDeepEqual(scratch, Wf);
    // Without device state the folded matrix is the integer weights q.
    const q = new Float32Array(K * N);
    programFolded(xb, w, null, q);
    const nominal = referenceFold(xb, w, K, N, new Float32Array(p.A.length).fill(1), new Float32Array(p.B.length));
    assert.deepEqual(
      Array.from(q, (v) => v + 0),
      Array.from(nominal.Wf),
    );

    // Integer inputs with xrange = q_max: x is fed to the crossbar unchanged (s_X = 1).
    const qx = 127;
    const x = Float32Array.from({ length: B * K }, () => rng.int(2 * qx + 1) - qx);
    x[0] = qx;
    const dy = rng.fillNormal(new Float32Array(B * N));
    const ranges = { [sideName('L', 'xrange')]: scalarTensor(qx), [sideName('L', 'step')]: stepTensor() };
    const dims = p.dims;
    const fed = await runMvm(
      layerXb(xb, { fidelity: 'fast', variation: true, programming: 'fed' }),
      spec,
      { data: x, dims: [B, K] },
      { data: w, dims: [K, N] },
      {
        ...ranges,
        [sideName('L', 'Wf')]: new ort.Tensor('float32', Wf, [K, N]),
        [sideName('L', 'sW')]: scalarTensor(sW),
        [sideName('L.b', 'Wf')]: new ort.Tensor('float32', Wf, [K, N]),
        [sideName('L.b', 'sW')]: scalarTensor(sW),
      },
      { data: dy, dims: [B, N] },
    );
    const graph = await runMvm(
      layerXb(xb, { fidelity: 'fast', variation: true }),
      spec,
      { data: x, dims: [B, K] },
      { data: w, dims: [K, N] },
      {
        ...ranges,
        [sideName('L', 'A')]: new ort.Tensor('float32', p.A, dims),
        [sideName('L', 'B')]: new ort.Tensor('float32', p.B, dims),
        [sideName('L.b', 'A')]: new ort.Tensor('float32', p.A, dims),
        [sideName('L.b', 'B')]: new ort.Tensor('float32', p.B, dims),
      },
      { data: dy, dims: [B, N] },
    );
    for (let b = 0; b < B; b++) {
      for (let n = 0; n < N; n++) {
        let yi = 0;
        for (let k = 0; k < K; k++) yi += x[b * K + k]! * ref.Wf[k * N + n]!;
        // One ADC code per level: the output is the product rounded to an integer, times s_W.
        const got = fed.y[b * N + n]!;
        assert.ok(Math.abs(got / sW - yi) <= 0.5 + 1e-5 * Math.abs(yi), `${mapping} y[${b}, ${n}] = ${got / sW}·s_W, reference ${yi}`);
        assert.ok(Math.abs(got - graph.y[b * N + n]!) <= sW * (1 + 1e-6 * Math.abs(yi)), `${mapping}: fed vs in-graph programming at [${b}, ${n}]`);
      }
    }
    // The backward product through the same arrays agrees with the in-graph programming.
    const scale = Math.max(...Array.from(graph.dx!, Math.abs));
    for (let i = 0; i < fed.dx!.length; i++)
      assert.ok(Math.abs(fed.dx![i]! - graph.dx![i]!) <= 1e-3 * scale, `${mapping} dx[${i}]: ${fed.dx![i]} vs ${graph.dx![i]}`);
  }

  // Conv: the folded matrix is fed as the kernel [O, C, kh, kw] (weight layout 'nk').
  const xb = xbConfig({ rows: 16, cols: 8, weightBits: 6, cellBits: 2, inputBits: 6, adc: adc(24, { kind: 'max' }) }, { d2dSigma: 0.05, pSa1: 0.02 });
  const conv: MvmSpec = { kind: 'conv2d', layer: 'L', C: 2, H: 7, W: 6, O: 5, kernel: [3, 3], stride: [1, 2], pads: [1, 1, 1, 1], Ho: 7, Wo: 3 };
  const Kc = 18,
    Nc = 5;
  const wc = rng.fillNormal(new Float32Array(Nc * Kc), 0, 0.3);
  const pc = programDevices(xb, 'L', Kc, Nc, 6);
  const Wfc = new Float32Array(Nc * Kc);
  const sWc = programFolded(xb, wc, foldDevices(xb, pc.A, pc.B, Kc, Nc, 'nk'), Wfc);
  const xc = Float32Array.from({ length: 2 * 2 * 7 * 6 }, () => rng.int(63) - 31);
  const cranges = { [sideName('L', 'xrange')]: scalarTensor(31), [sideName('L', 'step')]: stepTensor() };
  const cf = await runMvm(
    layerXb(xb, { fidelity: 'fast', variation: true, programming: 'fed' }),
    conv,
    { data: xc, dims: [2, 2, 7, 6] },
    { data: wc, dims: [5, 2, 3, 3] },
    { ...cranges, [sideName('L', 'Wf')]: new ort.Tensor('float32', Wfc, [5, 2, 3, 3]), [sideName('L', 'sW')]: scalarTensor(sWc) },
  );
  const cg = await runMvm(
    layerXb(xb, { fidelity: 'fast', variation: true }),
    conv,
    { data: xc, dims: [2, 2, 7, 6] },
    { data: wc, dims: [5, 2, 3, 3] },
    { ...cranges, [sideName('L', 'A')]: new ort.Tensor('float32', pc.A, pc.dims), [sideName('L', 'B')]: new ort.Tensor('float32', pc.B, pc.dims) },
  );
  let differ = 0;
  for (let i = 0; i < cf.y.length; i++) {
    assert.ok(Math.abs(cf.y[i]! - cg.y[i]!) <= sWc * 1.0001, `conv y[${i}]: ${cf.y[i]} vs ${cg.y[i]}`);
    if (cf.y[i] !== cg.y[i]) differ++;
  }
  assert.ok(differ <= cf.y.length / 100, `conv: ${differ} of ${cf.y.length} outputs differ by a code`);
  assert.ok(cf.y.some((v) => v !== 0));
});

test('fast fidelity with narrow top slices (8-bit weights on 3-bit cells, 5 on 2, 7 on 2): the runtime fold, the in-graph fold and an independent float64 fold agree', async () => {
  const rng = new Rng(13, 'test/fed-narrow');
  const B = 3,
    K = 40,
    N = 7;
  const spec: MvmSpec = { kind: 'dense', layer: 'L', K, N };
  for (const [wb, cb] of [
    [8, 3],
    [5, 2],
    [7, 2],
  ] as const) {
    for (const mapping of ['differential', 'offset'] as const) {
      const xb = xbConfig(
        {
          rows: 16,
          cols: 8,
          mapping,
          weightBits: wb,
          cellBits: cb,
          inputBits: 6,
          adc: adc(24, { kind: 'max' }),
          backward: { inputBits: 6, dacBits: 1, adc: adc(24, { kind: 'max' }) },
        },
        { d2dSigma: 0.05, pSa1: 0.02 },
      );
      const S = Math.ceil(wb / cb);
      assert.deepEqual(planeSliceWeights(xb), [
        ...Array.from({ length: S }, (_, k) => 2 ** (cb * k)),
        ...Array.from({ length: S }, (_, k) => -(2 ** (cb * k))),
      ]);
      const w = rng.fillNormal(new Float32Array(K * N), 0, 0.2);
      const p = programDevices(xb, 'L', K, N, 7);
      const ref = referenceFold(xb, w, K, N, p.A, p.B);
      const Wf = new Float32Array(K * N);
      const sW = programFolded(xb, w, foldDevices(xb, p.A, p.B, K, N, 'kn'), Wf);
      assert.equal(sW, ref.sW);
      for (let i = 0; i < K * N; i++)
        assert.ok(
          Math.abs(Wf[i]! - ref.Wf[i]!) <= 2 ** -23 * Math.abs(ref.Wf[i]!) + 1e-9,
          `${wb}/${cb} ${mapping} Wf[${i}] = ${Wf[i]}, reference ${ref.Wf[i]}`,
        );
      // The in-graph programming (sliceLevels) folds the same levels: same MVM within rounding.
      const qx = 31;
      const x = Float32Array.from({ length: B * K }, () => rng.int(2 * qx + 1) - qx);
      x[0] = qx;
      const ranges = { [sideName('L', 'xrange')]: scalarTensor(qx), [sideName('L', 'step')]: stepTensor() };
      const fed = await runMvm(
        layerXb(xb, { fidelity: 'fast', variation: true, programming: 'fed' }),
        spec,
        { data: x, dims: [B, K] },
        { data: w, dims: [K, N] },
        { ...ranges, [sideName('L', 'Wf')]: new ort.Tensor('float32', Wf, [K, N]), [sideName('L', 'sW')]: scalarTensor(sW) },
      );
      const graph = await runMvm(
        layerXb(xb, { fidelity: 'fast', variation: true }),
        spec,
        { data: x, dims: [B, K] },
        { data: w, dims: [K, N] },
        { ...ranges, [sideName('L', 'A')]: new ort.Tensor('float32', p.A, p.dims), [sideName('L', 'B')]: new ort.Tensor('float32', p.B, p.dims) },
      );
      for (let b = 0; b < B; b++) {
        for (let n = 0; n < N; n++) {
          let yi = 0;
          for (let k = 0; k < K; k++) yi += x[b * K + k]! * ref.Wf[k * N + n]!;
          assert.ok(Math.abs(fed.y[b * N + n]! / sW - yi) <= 0.5 + 1e-5 * Math.abs(yi), `${wb}/${cb} ${mapping}: fed y[${b}, ${n}]`);
          assert.ok(Math.abs(graph.y[b * N + n]! / sW - yi) <= 0.5 + 1e-5 * Math.abs(yi), `${wb}/${cb} ${mapping}: in-graph y[${b}, ${n}]`);
        }
      }
    }
  }
});

test('fast fidelity: training with runtime-programmed weights follows in-graph programming (D2D, forward and backward; evaluation with drift)', async () => {
  const exp = experiment('fast', ['forward', 'backward'], crossbar({}, { d2dSigma: 0.03, pSa0: 0.01, driftNu: 0.1, driftT0: 1 }));
  // Evaluation after 10^4 s of drift (conductances × 0.4): the evaluation graphs fold another device state.
  (exp.evaluate as { time?: number }).time = 1e4;
  const d = await data(exp);
  const weights: Record<string, Float32Array>[] = [];
  const evals: { lossSum: number; correct: number }[] = [];
  for (const programming of ['fed', 'graph'] as const) {
    const xb = CrossbarRuntime.create(exp, { threads: 1 }, { programming })!;
    const t = await Trainer.create(exp, { threads: 1, mvm: xb.trainSelector, evalMvm: xb.evalSelector, sideFeeds: xb.sideFeeds });
    xb.setWeightSource((layer) => t.peekState(`${layer}/weight`));
    try {
      const per = 28 * 28;
      for (let s = 0; s < 4; s++) await t.step(d.train.x.subarray(s * 32 * per, (s + 1) * 32 * per), d.train.y.subarray(s * 32, (s + 1) * 32), 0.05);
      weights.push(t.getWeights());
      await xb.calibrate(t, d.train.x.subarray(0, 128 * per), d.train.y.subarray(0, 128));
      evals.push(await t.evaluate(d.test.x.subarray(0, 100 * per), d.test.y.subarray(0, 100)));
    } finally {
      await t.release();
      await xb.release();
    }
  }
  for (const name of ['conv1/weight', 'fc1/weight']) {
    const [a, b] = [weights[0]![name]!, weights[1]![name]!];
    let num = 0,
      den = 0;
    for (let i = 0; i < a.length; i++) {
      num += (a[i]! - b[i]!) ** 2;
      den += b[i]! ** 2;
    }
    // Float32 rounding of the folded matrix may move an ADC code; four steps stay very close.
    assert.ok(Math.sqrt(num / den) < 1e-3, `${name}: relative difference ${Math.sqrt(num / den)}`);
  }
  assert.ok(Math.abs(evals[0]!.lossSum - evals[1]!.lossSum) < 1e-3 * evals[1]!.lossSum, `evaluation loss ${evals[0]!.lossSum} vs ${evals[1]!.lossSum}`);
  assert.ok(Math.abs(evals[0]!.correct - evals[1]!.correct) <= 1, `correct ${evals[0]!.correct} vs ${evals[1]!.correct}`);
  // A missing weight source is a clear error, not a silent in-graph fallback.
  const xb = CrossbarRuntime.create(exp, { threads: 1 })!;
  const t = await Trainer.create(exp, { threads: 1, mvm: xb.trainSelector, sideFeeds: xb.sideFeeds });
  try {
    await assert.rejects(t.step(d.train.x.subarray(0, 32 * 784), d.train.y.subarray(0, 32), 0.05), /needs the current weights/);
  } finally {
    await t.release();
  }
});
