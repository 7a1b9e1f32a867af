/**
 * Crossbar benchmarks (issue 4): the fast-fidelity (TxSim) LeNet-5 train step with forward and
 * backward on 64×64 crossbars (D2D variation fed as inputs) against the ideal step; exact-fidelity
 * inference (8 input streams × 4 weight slices, one 8-bit ADC per tile × stream × slice) in
 * images/s, and its effective GFLOP/s (the MatMul work of all conversions) against the plain
 * GEMM throughput measured in the same run. Issue 5: the interpolated-FCM training step
 * (parasitics `fcm(refresh = L)`: a circuit solve every L batches, the kept distortion in between)
 * against the same fast step without parasitics. Read noise: the fast step with 6 % read noise
 * against the same step without, and the draws of one step (counter-based stream vs `Rng`).
 * Issue 17: exact every-conversion inference with the ± planes subtracted in analog before one
 * signed ADC (`subtract = analog`, half the conversions) against per-plane conversion, interleaved.
 */

import { withMerges } from '../src/compiler/merges.js';
import type { PlanCrossbar, PlanExperiment, NonidealStage } from '../src/model/plan.js';
import type { ParasiticsSpec, PlaneSubtraction } from '../src/model/crossbar.js';
import { adc, xbConfig } from '../test/runtime/crossbar-helpers.js';
import ort from 'onnxruntime-node';
import { columnMaxCode, weightSlices, inputEncoding, inputSigned } from '../src/model/crossbar-math.js';
import { CrossbarMvm, sideName } from '../src/runtime/crossbar/emitter.js';
import { fedStep } from '../src/runtime/crossbar/exact-int.js';
import { GraphBuilder } from '../src/runtime/engine/onnx.js';
import { CrossbarRuntime } from '../src/runtime/crossbar/runtime.js';
import { lenet5, mnistExperiment, sgd } from '../test/support/plan-builder.js';
import { Trainer } from '../src/runtime/engine/trainer.js';
import { Rng } from '../src/runtime/rng.js';
import { NormalStream } from '../src/runtime/normal-stream.js';
import { benchGemmGflops } from './engine.bench.js';
import { interleavedMedians, timeIt, type Row, type Section } from './harness.js';

const THREADS = 2;

/** TxSim's wires: 1 Ω per row segment, 4.6 Ω per column segment, no driver/sense resistance. */
const TXSIM_WIRES = { row: 1, col: 4.6, source: 0, sense: 0 };

function xb64(d2d: number, parasitics: ParasiticsSpec = { kind: 'none' }, readNoise = 0, subtract: PlaneSubtraction = 'digital'): PlanCrossbar {
  const calibrated = adc(8, { kind: 'calibrate', percentile: 0.999 });
  return xbConfig(
    { name: 'xb64', subtract, adc: calibrated, backward: { inputBits: 8, dacBits: 1, adc: calibrated }, wires: TXSIM_WIRES, parasitics },
    { name: 'rram', d2dSigma: d2d, readNoise },
  );
}

function crossbarLenet(
  fidelity: 'fast' | 'exact',
  nonideal: NonidealStage[],
  d2d: number,
  batch: number,
  parasitics?: ParasiticsSpec,
  readNoise = 0,
  subtract: PlaneSubtraction = 'digital',
): PlanExperiment {
  const exp = mnistExperiment({ network: lenet5(), train: { epochs: 1, batch, optimizer: sgd(0.01, 0.9) } });
  for (const l of exp.network.layers) if (l.mapping) Object.assign(l.mapping, { target: 'crossbar', crossbar: 'xb64' });
  exp.fidelity = fidelity;
  exp.crossbars = { xb64: xb64(d2d, parasitics, readNoise, subtract) };
  exp.train!.nonideal = nonideal;
  return withMerges(exp);
}

async function trainer(exp: PlanExperiment, mergeLossless = true): Promise<{ trainer: Trainer; xb: CrossbarRuntime }> {
  const xb = CrossbarRuntime.create(exp, { threads: THREADS }, { mergeLossless })!;
  const t = await Trainer.create(exp, { threads: THREADS, mvm: xb.trainSelector, evalMvm: xb.evalSelector, sideFeeds: xb.sideFeeds });
  // Fidelity fast programs the weights in the runtime (and parasitics solve on them): it reads the live state.
  xb.setWeightSource((layer) => t.peekState(`${layer}/weight`));
  return { trainer: t, xb };
}

function batchOf(n: number): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(1, 'bench/lenet-batch');
  return { x: rng.fillNormal(new Float32Array(n * 784)), y: Int32Array.from({ length: n }, () => rng.int(10)) };
}

/**
 * Median ms of one fast-fidelity LeNet-5 SGD step (forward + backward on the crossbar) and of the
 * ideal step, measured interleaved (`interleavedMedians`).
 */
export async function benchFastVsIdealStep(batch = 64, reps = 60): Promise<{ fastMs: number; idealMs: number }> {
  const { trainer: fast, xb } = await trainer(crossbarLenet('fast', ['forward', 'backward', 'update'], 0.03, batch));
  const idealExp = crossbarLenet('fast', [], 0, batch);
  idealExp.fidelity = 'ideal';
  const ideal = await Trainer.create(idealExp, { threads: THREADS });
  try {
    const { x, y } = batchOf(batch);
    for (let i = 0; i < 10; i++) {
      await ideal.step(x, y, 0.01);
      await fast.step(x, y, 0.01);
    }
    const [idealMs, fastMs] = await interleavedMedians([() => ideal.step(x, y, 0.01), () => fast.step(x, y, 0.01)], reps);
    return { fastMs: fastMs!, idealMs: idealMs! };
  } finally {
    await fast.release();
    await ideal.release();
    await xb.release();
  }
}

/**
 * Read noise at memory speed: the fast LeNet-5 step of `benchFastVsIdealStep` (D2D 3 %) with
 * 6 % read noise on every crossbar layer (a fresh N(0, 1) per MVM output element per run, drawn by
 * the runtime and fed) against the same step without read noise, interleaved.
 */
export async function benchReadNoiseStep(readNoise = 0.06, batch = 64, reps = 60): Promise<{ plainMs: number; noisyMs: number; readNoise: number }> {
  const plain = await trainer(crossbarLenet('fast', ['forward', 'backward', 'update'], 0.03, batch));
  const noisy = await trainer(crossbarLenet('fast', ['forward', 'backward', 'update'], 0.03, batch, undefined, readNoise));
  try {
    const { x, y } = batchOf(batch);
    for (let i = 0; i < 10; i++) {
      await plain.trainer.step(x, y, 0.01);
      await noisy.trainer.step(x, y, 0.01);
    }
    const [plainMs, noisyMs] = await interleavedMedians([() => plain.trainer.step(x, y, 0.01), () => noisy.trainer.step(x, y, 0.01)], reps);
    return { plainMs: plainMs!, noisyMs: noisyMs!, readNoise };
  } finally {
    await plain.trainer.release();
    await noisy.trainer.release();
    await plain.xb.release();
    await noisy.xb.release();
  }
}

/**
 * The read-noise draws of one LeNet-5 training step (batch 64: conv1 6×28×28, conv2 16×10×10,
 * fc1 120, fc2 84, fc3 10 outputs per sample, 417 k elements) as the runtime makes them: the
 * counter-based stream (WebAssembly kernel, and its JS reference) against `Rng.fillNormal`, the
 * per-element JS generator read noise used before. Medians in ms.
 */
export async function benchReadNoiseDraws(batch = 64): Promise<{ elements: number; wasmMs: number; jsMs: number; rngMs: number }> {
  const sizes = [6 * 28 * 28, 16 * 10 * 10, 120, 84, 10].map((p) => batch * p);
  const bufs = sizes.map((n) => new Float32Array(n));
  const streams = sizes.map((_, i) => new NormalStream(1, `bench/read/${i}`));
  const rngs = sizes.map((_, i) => new Rng(1, `bench/read/${i}`));
  const draw = (kernel: 'wasm' | 'js') => () => bufs.forEach((b, i) => streams[i]!.fill(b, 0, 1, 0.06, kernel));
  const wasm = await timeIt(draw('wasm'), { warmup: 20, reps: 100 });
  const js = await timeIt(draw('js'), { warmup: 2, reps: 10 });
  const rng = await timeIt(() => bufs.forEach((b, i) => rngs[i]!.fillNormal(b, 1, 0.06)), { warmup: 2, reps: 20 });
  return { elements: sizes.reduce((a, n) => a + n, 0), wasmMs: wasm.medianMs, jsMs: js.medianMs, rngMs: rng.medianMs };
}

/**
 * Interpolated FCM (issue 5): the fast LeNet-5 step of `benchFastVsIdealStep` with parasitics
 * `fcm(refresh = L, backward = transposed)` on TxSim's wires, against the same step without
 * parasitics, interleaved. Between refreshes a step feeds the kept distortion (`steadyMs`); every
 * L-th step also solves every array of every layer (forward and transposed drive), measured by
 * the runtime (`solveMs`, one refresh). `amortizedMs` = steady + solve / L is the cost per step
 * over a whole refresh period.
 */
export async function benchInterpolatedFcmStep(
  refresh = 500,
  batch = 64,
  reps = 60,
): Promise<{ plainMs: number; steadyMs: number; solveMs: number; amortizedMs: number; refresh: number }> {
  const plain = await trainer(crossbarLenet('fast', ['forward', 'backward', 'update'], 0.03, batch));
  const par = await trainer(crossbarLenet('fast', ['forward', 'backward', 'update'], 0.03, batch, { kind: 'fcm', refresh, backward: 'transposed' }));
  try {
    const { x, y } = batchOf(batch);
    for (let i = 0; i < 10; i++) {
      await plain.trainer.step(x, y, 0.01);
      await par.trainer.step(x, y, 0.01);
    }
    const [plainMs, steadyMs] = await interleavedMedians([() => plain.trainer.step(x, y, 0.01), () => par.trainer.step(x, y, 0.01)], reps);
    const solves = Object.values(par.xb.parasiticSolves());
    const refreshes = par.xb.trainRefreshes(par.xb.layerNames[0]!);
    if (refreshes < 1) throw new Error('benchInterpolatedFcmStep: no FCM solve happened');
    // Training graphs only (no evaluation ran): the solve time of one refresh, all layers.
    const solveMs = solves.reduce((a, s) => a + s.ms, 0) / refreshes;
    return { plainMs: plainMs!, steadyMs: steadyMs!, solveMs, amortizedMs: steadyMs! + solveMs / refresh, refresh };
  } finally {
    await plain.trainer.release();
    await par.trainer.release();
    await plain.xb.release();
    await par.xb.release();
  }
}

/** Multiply–accumulates of all exact conversions for one image (padded tiles, every stream, plane and slice). */
function exactMacsPerImage(exp: PlanExperiment): number {
  let macs = 0;
  for (const l of exp.network.layers) {
    if (l.mapping?.target !== 'crossbar') continue;
    const c = exp.crossbars['xb64']!;
    const { rows: K, cols: N } = l.mapping.matrix;
    const R = Math.min(c.rows, K);
    const J = inputEncoding(c.inputBits, c.dacBits, inputSigned(exp.network, l)).streams;
    const L = l.op.kind === 'conv2d' ? l.outputShape[1]! * l.outputShape[2]! : 1;
    macs += J * 2 * weightSlices(c) * Math.ceil(K / R) * R * N * L;
  }
  return macs;
}

/** Exact-fidelity inference: images/s and effective GFLOP/s on batches of `batch`. */
export async function benchExactInference(
  batch = 64,
  mergeLossless = false,
): Promise<{ imagesPerSecond: number; gflops: number; streams: number; slices: number }> {
  const exp = crossbarLenet('exact', [], 0, batch);
  const { trainer: t, xb } = await trainer(exp, mergeLossless);
  try {
    const { x, y } = batchOf(batch);
    await xb.calibrate(t, x, y);
    const timing = await timeIt(() => t.evaluate(x, y), { warmup: 2, reps: 10 });
    const imagesPerSecond = batch / (timing.medianMs / 1000);
    const c = exp.crossbars['xb64']!;
    return { imagesPerSecond, gflops: (2 * exactMacsPerImage(exp) * imagesPerSecond) / 1e9, streams: c.inputBits / c.dacBits, slices: weightSlices(c) };
  } finally {
    await t.release();
    await xb.release();
  }
}

/**
 * Exact every-conversion inference (no merge), per-plane conversion (`subtract = digital`: 2 unsigned
 * 8-bit ADC conversions per slice) against analog subtraction (`analog`: 1 signed 8-bit conversion
 * of I⁺ − I⁻), evaluation graphs on the 8-bit integer core, interleaved; images/s.
 */
export async function benchExactAnalogSubtraction(batch = 64, reps = 12): Promise<{ digital: number; analog: number }> {
  const digital = await trainer(crossbarLenet('exact', [], 0, batch), false);
  const analog = await trainer(crossbarLenet('exact', [], 0, batch, undefined, 0, 'analog'), false);
  try {
    const { x, y } = batchOf(batch);
    for (const r of [digital, analog]) {
      await r.xb.calibrate(r.trainer, x, y);
      await r.trainer.evaluate(x, y);
    }
    const [dMs, aMs] = await interleavedMedians([() => digital.trainer.evaluate(x, y), () => analog.trainer.evaluate(x, y)], reps);
    return { digital: batch / (dMs! / 1000), analog: batch / (aMs! / 1000) };
  } finally {
    for (const r of [digital, analog]) {
      await r.trainer.release();
      await r.xb.release();
    }
  }
}

/**
 * One exact dense MVM (LeNet-5's fc1: 400 × 120 on 64×64 tiles, 8 streams × 4 slices, batch 64,
 * a calibrated 8-bit ADC fed as a static step), per conversion, through the 8-bit integer core and
 * the float core (the training graphs' and statistics' core), per plane and with analog
 * subtraction; median ms per MVM, the four graphs interleaved.
 */
export async function benchExactMvmCores(reps = 30): Promise<{ name: string; ms: number }[]> {
  const K = 400,
    N = 120,
    B = 64;
  const rng = new Rng(2, 'bench/exact-mvm');
  const x = Float32Array.from({ length: B * K }, () => rng.int(256));
  const w = rng.fillNormal(new Float32Array(K * N), 0, 0.1);
  const variants: { name: string; subtract: PlaneSubtraction; integer: boolean }[] = [
    { name: 'digital, integer core', subtract: 'digital', integer: true },
    { name: 'analog, integer core', subtract: 'analog', integer: true },
    { name: 'digital, float core', subtract: 'digital', integer: false },
    { name: 'analog, float core', subtract: 'analog', integer: false },
  ];
  const runs = await Promise.all(
    variants.map(async (v) => {
      const xb = xbConfig({ subtract: v.subtract, adc: adc(8, { kind: 'calibrate', percentile: 0.999 }) });
      const m = new CrossbarMvm({
        layer: 'L',
        xb,
        fidelity: 'exact',
        forward: true,
        backward: false,
        ranges: 'static',
        outputs: 'none',
        variation: false,
        readNoise: false,
        signedInput: false,
        integerConversions: v.integer,
      });
      const g = new GraphBuilder('bench-mvm');
      g.input('x', 'float', [B, K]);
      g.input('w', 'float', [K, N]);
      g.output('y', m.forward(g, { kind: 'dense', layer: 'L', K, N }, 'x', 'w').y);
      const session = await ort.InferenceSession.create(g.toBytes(), { intraOpNumThreads: THREADS });
      const M = columnMaxCode(xb, xb.adc);
      const feeds: Record<string, ort.Tensor> = {
        x: new ort.Tensor('float32', x, [B, K]),
        w: new ort.Tensor('float32', w, [K, N]),
        [sideName('L', 'xrange')]: new ort.Tensor('float32', Float32Array.of(255), []),
        [sideName('L', 'step')]: new ort.Tensor('float32', Float32Array.from(fedStep(xb, 150, M, 64)), [3]),
      };
      const wanted = new Set(session.inputNames);
      const run = () => session.run(Object.fromEntries(Object.entries(feeds).filter(([k]) => wanted.has(k))));
      await run();
      return { session, run };
    }),
  );
  try {
    const ms = await interleavedMedians(
      runs.map((r) => r.run),
      reps,
    );
    return variants.map((v, i) => ({ name: v.name, ms: ms[i]! }));
  } finally {
    for (const r of runs) await r.session.release();
  }
}

export const section: Section = {
  name: 'crossbar (fast / exact fidelity, 2 threads)',
  async run(): Promise<Row[]> {
    const gemm = await benchGemmGflops({ threads: THREADS });
    const steps = await benchFastVsIdealStep();
    const fcm = await benchInterpolatedFcmStep();
    const noise = await benchReadNoiseStep();
    const draws = await benchReadNoiseDraws();
    const exact = await benchExactInference();
    const merged = await benchExactInference(64, true);
    const sub = await benchExactAnalogSubtraction();
    const cores = await benchExactMvmCores();
    const idealRow: Row = { name: 'LeNet-5 step, ideal (median, interleaved in blocks)', value: steps.idealMs, unit: 'ms' };
    const gemmRow: Row = { name: 'MatMul 1024² throughput', value: gemm, unit: 'GFLOP/s' };
    return [
      gemmRow,
      idealRow,
      {
        name: 'LeNet-5 step, fast crossbar fwd+bwd, D2D 3 % (median)',
        value: steps.fastMs,
        unit: 'ms',
        baseline: { name: idealRow.name, value: idealRow.value },
        note: 'goal ≤ 1.3× ideal',
      },
      ...fcmRows(fcm),
      ...readNoiseRows(noise, draws),
      {
        name: `LeNet-5 exact inference (${exact.streams} streams × ${exact.slices} slices, every conversion, batch 64)`,
        value: exact.imagesPerSecond,
        unit: 'images/s',
      },
      {
        name: 'LeNet-5 exact inference, lossless merge applied (one GEMM per MVM)',
        value: merged.imagesPerSecond,
        unit: 'images/s',
        note: 'the same numbers as per-conversion exact (8-bit ADC on 64-row tiles is lossless)',
      },
      {
        name: 'LeNet-5 exact inference, effective throughput',
        value: exact.gflops,
        unit: 'GFLOP/s',
        baseline: { name: gemmRow.name, value: gemmRow.value },
        note: 'MatMul work of every conversion; goal ≥ 0.5× GEMM',
      },
      ...analogRows(sub),
      ...coreRows(cores),
    ];
  },
};

function fcmRows(r: Awaited<ReturnType<typeof benchInterpolatedFcmStep>>): Row[] {
  const plain: Row = { name: 'LeNet-5 step, fast crossbar fwd+bwd, D2D 3 %, no parasitics (median, interleaved in blocks)', value: r.plainMs, unit: 'ms' };
  const base = { name: plain.name, value: plain.value };
  return [
    plain,
    { name: `LeNet-5 step, interpolated FCM (refresh ${r.refresh}), between refreshes (median)`, value: r.steadyMs, unit: 'ms', baseline: base },
    { name: 'LeNet-5 FCM refresh: solve every array (forward + transposed), all layers', value: r.solveMs, unit: 'ms' },
    {
      name: `LeNet-5 step, interpolated FCM (refresh ${r.refresh}), amortized over the refresh period`,
      value: r.amortizedMs,
      unit: 'ms',
      baseline: base,
      note: 'goal ≤ 1.5× the step without parasitics',
    },
  ];
}

function readNoiseRows(r: Awaited<ReturnType<typeof benchReadNoiseStep>>, d: Awaited<ReturnType<typeof benchReadNoiseDraws>>): Row[] {
  const plain: Row = { name: 'LeNet-5 step, fast crossbar fwd+bwd, D2D 3 %, no read noise (median, interleaved in blocks)', value: r.plainMs, unit: 'ms' };
  const rng: Row = {
    name: `read-noise draws of one LeNet-5 step (${Math.round(d.elements / 1000)} k elements), Rng.fillNormal (before)`,
    value: d.rngMs,
    unit: 'ms',
  };
  const base = { name: rng.name, value: rng.value };
  return [
    plain,
    {
      name: `LeNet-5 step, fast crossbar fwd+bwd, D2D 3 %, read noise ${Math.round(r.readNoise * 100)} % (median)`,
      value: r.noisyMs,
      unit: 'ms',
      baseline: { name: plain.name, value: plain.value },
      note: 'goal ≤ 1.2× the step without read noise',
    },
    rng,
    { name: 'same draws, counter-based stream (Philox + Box–Muller, WebAssembly SIMD)', value: d.wasmMs, unit: 'ms', baseline: base },
    { name: 'same draws, counter-based stream, JS reference (no WebAssembly SIMD)', value: d.jsMs, unit: 'ms', baseline: base },
  ];
}

function analogRows(r: Awaited<ReturnType<typeof benchExactAnalogSubtraction>>): Row[] {
  const digital: Row = {
    name: 'LeNet-5 exact inference, every conversion, subtract = digital (2 planes × 4 slices, interleaved)',
    value: r.digital,
    unit: 'images/s',
  };
  return [
    digital,
    {
      name: 'LeNet-5 exact inference, every conversion, subtract = analog (I⁺ − I⁻, 1 signed conversion × 4 slices)',
      value: r.analog,
      unit: 'images/s',
      baseline: { name: digital.name, value: digital.value },
      note: 'half the conversions and half the GEMM rows',
    },
  ];
}

function coreRows(r: Awaited<ReturnType<typeof benchExactMvmCores>>): Row[] {
  const base = (name: string) => r.find((v) => v.name === name)!;
  return r.map((v) => {
    const row: Row = { name: `exact MVM 400×120, batch 64, every conversion: ${v.name} (median, interleaved)`, value: v.ms, unit: 'ms' };
    if (!v.name.startsWith('analog')) return row;
    const d = base(v.name.replace('analog', 'digital'));
    return { ...row, baseline: { name: `exact MVM 400×120, batch 64, every conversion: ${d.name} (median, interleaved)`, value: d.ms } };
  });
}
