/**
 * Crossbar execution of an experiment: per-layer MVM selection from the plan (fidelity, mapping,
 * `train.nonideal`), the programmed device state, side-input feeds (device state, calibrated
 * ranges, read noise), the calibration pass and per-layer statistics.
 *
 * Semantics (TxSim): the evaluation graph always runs crossbar layers on the crossbar model at
 * the experiment's fidelity. The training graph runs the forward MVM on the crossbar when
 * `forward` ∈ train.nonideal and the input-gradient MVM when `backward` ∈ train.nonideal; with
 * `update` ∈ train.nonideal the weight update goes through the device update model
 * (devices/training.ts, noted per layer in the results). `train.nonideal = []` therefore trains
 * in software and evaluates on the crossbar.
 */

import ort from 'onnxruntime-node';
import type { PlanExperiment, PlanLayer } from '../../model/plan.js';
import type { Dataset } from '../data/index.js';
import { buildEvalGraph, INPUT_LABELS, INPUT_X, type BuiltGraph } from '../engine/graphs.js';
import { idealMvm, type MvmEmitter, type MvmSelector } from '../engine/mvm.js';
import type { Trainer } from '../engine/trainer.js';
import { openSession, resolveEngine, type EngineOptions, type EngineSettings } from '../engine/session.js';
import { XbarcRuntimeError } from '../../model/errors.js';
import { NormalStream } from '../normal-stream.js';
import { foldDevices, programDevices, programFolded, type FoldedDevices, type Programming } from './config.js';
import { adcMaxCode, adcStep, columnMaxCode, hasVariation, inputSigned, unitCurrent, weightQmax } from '../../model/crossbar-math.js';
import type { CrossbarSpec } from '../../model/crossbar.js';
import { calName, CrossbarMvm, sideName, statName, type CrossbarSideKind, type LayerCrossbar } from './emitter.js';
import { fedStep } from './exact-int.js';
import { parasiticsOf, type ParasiticsConfig } from '../parasitics/plan.js';
import { effectiveProgramming, weightKN, type EffectiveProgramming } from '../parasitics/tiles.js';

export interface LayerStats {
  name: string;
  crossbar: string;
  fidelity: 'exact' | 'fast';
  /** Fraction of ADC conversions that clipped at full scale (evaluation, first test batch). */
  adcSaturation: number;
  /** 10·log10(Σ y_ideal² / Σ (y − y_ideal)²) of the MVM output (before bias). */
  snrDb: number | null;
  /** Calibrated forward input range (max |x|) and ADC step (amperes). */
  inputRange?: number;
  adcLsbAmps?: number;
  update: string;
  [k: string]: unknown;
}

/** Throws a clear error for crossbar features this version cannot execute. */
export function assertCrossbarSupported(exp: PlanExperiment): void {
  if (exp.fidelity === 'ideal') return;
  for (const layer of exp.network.layers) {
    if (layer.mapping?.target !== 'crossbar') continue;
    const pc = exp.crossbars[layer.mapping.crossbar ?? ''];
    if (!pc)
      throw new XbarcRuntimeError('crossbar/missing', `layer "${layer.name}" maps to crossbar "${layer.mapping.crossbar}", which the plan does not define`);
    assertConfigSupported(pc, exp.fidelity);
  }
}

export function assertConfigSupported(c: CrossbarSpec, fidelity: 'fast' | 'exact'): void {
  if (c.mapping === 'offset' && c.weightBits < 2)
    throw new XbarcRuntimeError('crossbar/bad-settings', `crossbar ${c.name}: offset mapping needs weight_bits ≥ 2 (one bit is the sign)`);
  if (c.subtract === 'analog' && c.mapping === 'offset')
    throw new XbarcRuntimeError('crossbar/bad-settings', `crossbar ${c.name}: subtract = analog needs mapping = differential (offset mapping has no − plane)`);
  if (c.subtract === 'analog' && Math.min(c.adc.bits, c.backward.adc.bits) < 2)
    throw new XbarcRuntimeError(
      'crossbar/bad-settings',
      `crossbar ${c.name}: subtract = analog needs signed ADCs of at least 2 bits (codes ±(2^(bits−1) − 1))`,
    );
  if (fidelity === 'exact' && c.device.readNoise > 0) {
    throw new XbarcRuntimeError(
      'run/unsupported-fidelity',
      `crossbar ${c.name}: read noise at fidelity exact is not supported yet (fidelity fast applies it to the layer-level output)`,
    );
  }
}

interface LayerEntry {
  layer: PlanLayer;
  xb: CrossbarSpec;
  signed: boolean;
  K: number;
  N: number;
  outShape: number[];
  kind: 'dense' | 'conv';
  /** Dims of the layer's weight tensor (dense [K, N], conv [O, C, kh, kw]): the fed Wf's. */
  weightDims: number[];
  /** Parasitics (fcm/aam) of the layer's crossbar, or null. */
  par: ParasiticsConfig | null;
}

/** Fidelity fast: the folded device state of one programming (forward, and the backward arrays' when they differ). */
interface FoldedState {
  fwd: FoldedDevices | null;
  back: FoldedDevices | null;
}

/** A reusable feed buffer (one per layer, purpose and input: runs are sequential). */
interface FeedBuffer {
  data: Float32Array;
  tensor: ort.Tensor;
  /** What the buffer holds: the weights and folded state it was programmed from. */
  from?: { w: Float32Array; dev: FoldedDevices | null };
  /** Fed Wf: the integer weights it holds the fold of (incremental re-programming, `programFolded`)… */
  q?: Int32Array;
  /** …together with this backward buffer (Wfb folded in the same passes), or alone. */
  qBack?: FeedBuffer | null;
}

/** Parasitic state of a layer: the kept effective programming per purpose and the solve counts. */
interface ParasiticState {
  train?: EffectiveProgramming;
  trainRuns: number;
  eval?: EffectiveProgramming;
  evalWeights?: Float32Array;
  /** Refreshes (one solve of every array of the layer) and array solves, in all. */
  refreshes: number;
  trainRefreshes?: number;
  arraySolves: number;
  ms: number;
}

export class CrossbarRuntime {
  private readonly layers = new Map<string, LayerEntry>();
  private readonly parasitic = new Map<string, ParasiticState>();
  private weightSource: ((layer: string) => Float32Array | undefined) | null = null;
  /** Reusable feed buffers, by key (layer, purpose, input). */
  private readonly buffers = new Map<string, FeedBuffer>();
  /** Folded device state per programming (fidelity fast), and per parasitics solve. */
  private readonly folds = new Map<string, FoldedState>();
  private readonly parFolds = new WeakMap<EffectiveProgramming, FoldedState>();
  /** The weight scale s_W last programmed per layer and purpose. */
  private readonly scales = new Map<string, number>();
  private readonly programs = new Map<string, Programming>();
  /** Read noise: one counter-based stream per layer and graph purpose (`read/<layer>/<purpose>`). */
  private readonly noise = new Map<string, NormalStream>();
  /** Read-noise factor buffers per layer (`noiseBuffer`). */
  private readonly noiseBuffers = new Map<string, Float32Array>();
  /** Calibrated per layer: forward input range, ADC full scale and step (level units). */
  private readonly ranges = new Map<string, CalibratedRanges>();
  /** The calibration graph, built once; its session is opened per calibration and released after it. */
  private calGraph: BuiltGraph | null = null;
  readonly trainSelector: MvmSelector;
  readonly evalSelector: MvmSelector;
  readonly evalTime: number;

  private constructor(
    readonly exp: PlanExperiment,
    private readonly engine: EngineSettings,
    private readonly mergeLossless: boolean,
    programming: 'graph' | 'fed',
  ) {
    const fidelity = exp.fidelity as 'exact' | 'fast';
    this.evalTime = exp.evaluate.time;
    for (const layer of exp.network.layers) {
      if (layer.mapping?.target !== 'crossbar') continue;
      const pc = exp.crossbars[layer.mapping.crossbar!]!;
      const xb = pc;
      const p = parasiticsOf(pc);
      const par = p.kind === 'none' ? null : p;
      const K = layer.mapping.matrix.rows;
      const N = layer.mapping.matrix.cols;
      const weightDims = layer.op.kind === 'conv2d' ? [N, K / (layer.op.kernel[0] * layer.op.kernel[1]), ...layer.op.kernel] : [K, N];
      this.layers.set(layer.name, {
        layer,
        xb,
        signed: inputSigned(exp.network, layer),
        K,
        N,
        outShape: layer.outputShape,
        kind: layer.op.kind === 'dense' ? 'dense' : 'conv',
        weightDims,
        par,
      });
      if (par) this.parasitic.set(layer.name, { trainRuns: 0, refreshes: 0, arraySolves: 0, ms: 0 });
    }
    const stages = exp.train?.nonideal ?? [];
    const make = (over: Partial<LayerCrossbar>): MvmSelector => {
      const cache = new Map<string, MvmEmitter>();
      if (over.forward === false && over.backward === false) return () => idealMvm;
      return (name) => {
        const e = this.layers.get(name);
        if (!e) return idealMvm;
        let m = cache.get(name);
        if (!m) {
          m = new CrossbarMvm({
            layer: name,
            xb: e.xb,
            fidelity,
            forward: true,
            backward: false,
            ranges: 'static',
            outputs: 'none',
            variation: hasVariation(e.xb, this.evalTime) || e.par !== null,
            backwardSides: e.par?.backward === 'transposed',
            readNoise: e.xb.device.readNoise > 0,
            signedInput: e.signed,
            merges: e.layer.mapping?.merges,
            mergeLossless: this.mergeLossless,
            // Fidelity fast: weights programmed here in JS (config.ts programFolded), not in-graph.
            programming: fidelity === 'fast' ? programming : 'graph',
            ...over,
          });
          cache.set(name, m);
        }
        return m;
      };
    };
    this.trainSelector = make({ forward: stages.includes('forward'), backward: stages.includes('backward'), ranges: 'dynamic' });
    this.evalSelector = make({});
    this.calSelector = make({ ranges: 'dynamic', outputs: 'calibrate' });
    this.statsSelector = make({ outputs: 'stats' });
  }

  /** Where the parasitic models read a layer's current weights (the trainer's live state). */
  setWeightSource(fn: (layer: string) => Float32Array | undefined): void {
    this.weightSource = fn;
  }

  /** Per layer with parasitics: refreshes (solves of all its arrays), array solves, solve time. */
  parasiticSolves(): Record<string, { refreshes: number; arraySolves: number; ms: number; meanD: number | null }> {
    const out: Record<string, { refreshes: number; arraySolves: number; ms: number; meanD: number | null }> = {};
    for (const [name, st] of this.parasitic)
      out[name] = { refreshes: st.refreshes, arraySolves: st.arraySolves, ms: st.ms, meanD: (st.eval ?? st.train)?.meanD ?? null };
    return out;
  }

  /** Training-graph refreshes so far per layer (solves of all the layer's arrays). */
  trainRefreshes(layer: string): number {
    return this.parasitic.get(layer)?.trainRefreshes ?? 0;
  }

  /**
   * The effective programming of a layer under parasitics for one graph run. Training graphs
   * re-solve every `refresh` runs (interpolated FCM in between: the kept D on the current levels);
   * evaluation graphs solve once per set of weights.
   */
  private effective(layer: string, evaluation: boolean, backward: boolean): EffectiveProgramming {
    const e = this.layers.get(layer)!;
    const st = this.parasitic.get(layer)!;
    const w = this.weightSource?.(layer);
    if (!w) throw new XbarcRuntimeError('crossbar/internal', `layer "${layer}": parasitics need the current weights (no weight source)`);
    const solve = (): EffectiveProgramming => {
      const t0 = performance.now();
      const p = this.program(layer, evaluation);
      const r = effectiveProgramming(e.xb, e.par!, weightKN(w, e.kind, e.K, e.N), e.K, e.N, p.A, p.B, backward);
      st.refreshes++;
      st.arraySolves += r.solves;
      st.ms += performance.now() - t0;
      return r;
    };
    if (evaluation) {
      if (!st.eval || st.evalWeights !== w) {
        st.eval = solve();
        st.evalWeights = w;
      }
      return st.eval;
    }
    if (!st.train || st.trainRuns % e.par!.refresh === 0) {
      st.train = solve();
      st.trainRefreshes = (st.trainRefreshes ?? 0) + 1;
    }
    st.trainRuns++;
    return st.train;
  }

  private readonly calSelector: MvmSelector;
  private readonly statsSelector: MvmSelector;

  /**
   * A runtime for the experiment's crossbar layers, or null when it runs all-digital.
   * `programming` (fidelity fast): `fed` (default) programs the weights here in JS every run and
   * feeds the folded matrices; `graph` programs them in-graph from the fed device state (the
   * reference the tests compare against). Exact fidelity always programs in-graph. `engine`: the
   * threads and spinning of its calibration and statistics sessions (the trainer's, in a run).
   */
  static create(
    exp: PlanExperiment,
    engine: EngineOptions = {},
    opts: { mergeLossless?: boolean; programming?: 'graph' | 'fed' } = {},
  ): CrossbarRuntime | null {
    if (exp.fidelity === 'ideal') return null;
    if (!exp.network.layers.some((l) => l.mapping?.target === 'crossbar')) return null;
    assertCrossbarSupported(exp);
    return new CrossbarRuntime(exp, resolveEngine(engine), opts.mergeLossless ?? true, opts.programming ?? 'fed');
  }

  /** Exact merges applied per layer (forward evaluation), with the reason; null where none applies. */
  merges(): Record<string, string | null> {
    const out: Record<string, string | null> = {};
    for (const [name, e] of this.layers) {
      const m = this.evalSelector(name, { kind: 'dense', layer: name, K: e.K, N: e.N });
      out[name] = m instanceof CrossbarMvm ? m.mergeReason('forward', e.K, e.N) : null;
    }
    return out;
  }

  get layerNames(): string[] {
    return [...this.layers.keys()];
  }

  /** Programmed device state (A, B) of a layer: D2D and faults; drift only in evaluation graphs. */
  private program(name: string, evaluation: boolean): Programming {
    const key = `${name}|${evaluation ? 'eval' : 'train'}`;
    let p = this.programs.get(key);
    if (!p) {
      const e = this.layers.get(name)!;
      p = programDevices(e.xb, name, e.K, e.N, this.exp.seed, evaluation ? this.evalTime : 0);
      this.programs.set(key, p);
    }
    return p;
  }

  /** Side-input values for one run of `graph` on a batch of `batch` samples. */
  sideFeeds = (graph: BuiltGraph, batch: number): Record<string, ort.Tensor> => {
    const feeds: Record<string, ort.Tensor> = {};
    const evaluation = graph.evaluation;
    // Inputs by layer: the device state of a layer is computed once per run (one parasitics step).
    const byLayer = new Map<string, Set<string>>();
    for (const input of graph.sideInputs) {
      if (input.owner !== 'crossbar') continue; // not ours (e.g. a transform's mask, fed by the caller)
      if (!this.layers.has(input.layer))
        throw new XbarcRuntimeError(
          'crossbar/side-input',
          `graph input "${input.name}" belongs to layer "${input.layer}", which is not a crossbar layer of this experiment`,
        );
      const kinds = byLayer.get(input.layer) ?? new Set<string>();
      kinds.add(input.kind);
      byLayer.set(input.layer, kinds);
    }
    for (const [layer, kinds] of byLayer) {
      const e = this.layers.get(layer)!;
      const device = ['A', 'B', 'Ab', 'Bb', 'Wf', 'Wfb', 'sW'].filter((k) => kinds.has(k));
      if (device.length > 0) this.deviceFeeds(layer, e, kinds, evaluation, feeds);
      for (const kind of kinds) {
        if (device.includes(kind)) continue;
        const input = sideName(layer, kind as CrossbarSideKind);
        if (kind === 'xrange' || kind === 'step') {
          const r = this.ranges.get(layer);
          if (!r) throw new XbarcRuntimeError('crossbar/uncalibrated', `layer "${layer}": the crossbar ranges are not calibrated yet (run calibrate() first)`);
          // The step as [a, b, s] (LSB = b/a level units, exact float32 values; s the integer core's exact multiplier or 0).
          feeds[input] =
            kind === 'xrange' ? new ort.Tensor('float32', Float32Array.of(r.xrange), []) : new ort.Tensor('float32', Float32Array.from(r.step), [3]);
        } else if (kind === 'noise') {
          const data = this.noiseBuffer(layer, batch * e.outShape.reduce((a, b) => a * b, 1));
          feeds[input] = new ort.Tensor('float32', data, [batch, ...e.outShape]);
          // The factor 1 + σ·ξ of the next batch·outputs elements of the stream (emitter.ts `fastForward`).
          const key = `${layer}|${graph.purpose}`;
          if (!this.noise.has(key)) this.noise.set(key, new NormalStream(this.exp.seed, `read/${layer}/${graph.purpose}`));
          this.noise.get(key)!.next(data, 1, e.xb.device.readNoise);
        } else throw new XbarcRuntimeError('crossbar/side-input', `unknown crossbar graph input "${input}"`);
      }
    }
    return feeds;
  };

  /**
   * The read-noise factors of one layer for one run, `size` values: a view of one buffer per
   * layer, grown to the largest run, shared by every graph (training, evaluation, calibration,
   * statistics). Runs are sequential and each refills its view from its own stream before it
   * runs, so sharing changes no number; one buffer per graph and batch size held ResNet-20's
   * layer outputs four times over (+390 MiB at batch 128).
   */
  private noiseBuffer(layer: string, size: number): Float32Array {
    let b = this.noiseBuffers.get(layer);
    if (!b || b.length < size) {
      b = new Float32Array(size);
      this.noiseBuffers.set(layer, b);
    }
    return b.length === size ? b : b.subarray(0, size);
  }

  private buffer(key: string, size: number, dims: number[]): FeedBuffer {
    let b = this.buffers.get(key);
    if (!b) {
      const data = new Float32Array(size);
      b = { data, tensor: new ort.Tensor('float32', data, dims) };
      this.buffers.set(key, b);
    }
    return b;
  }

  private foldedState(layer: string, e: LayerEntry, evaluation: boolean, par: EffectiveProgramming | null): FoldedState {
    const layout = e.kind === 'dense' ? 'kn' : 'nk';
    if (par) {
      let f = this.parFolds.get(par);
      if (!f) {
        f = { fwd: foldDevices(e.xb, par.A, par.B, e.K, e.N, layout), back: par.Ab && par.Bb ? foldDevices(e.xb, par.Ab, par.Bb, e.K, e.N, layout) : null };
        this.parFolds.set(par, f);
      }
      return f;
    }
    const key = `${layer}|${evaluation ? 'eval' : 'train'}`;
    let f = this.folds.get(key);
    if (!f) {
      const variation = hasVariation(e.xb, evaluation ? this.evalTime : 0);
      const p = variation ? this.program(layer, evaluation) : null;
      f = { fwd: p ? foldDevices(e.xb, p.A, p.B, e.K, e.N, layout) : null, back: null };
      this.folds.set(key, f);
    }
    return f;
  }

  /**
   * Device-state feeds of one layer for one run: the level model A, B (Ab, Bb) of in-graph
   * programming, or the folded matrix Wf (Wfb) and scale sW of fed programming.
   */
  private deviceFeeds(layer: string, e: LayerEntry, kinds: Set<string>, evaluation: boolean, feeds: Record<string, ort.Tensor>): void {
    // Parasitics: one solve (or the kept D) per layer and run.
    const par = e.par ? this.effective(layer, evaluation, kinds.has('Ab') || kinds.has('Wfb')) : null;
    if (kinds.has('A') || kinds.has('B') || kinds.has('Ab') || kinds.has('Bb')) {
      if ((kinds.has('Ab') || kinds.has('Bb')) && !par)
        throw new XbarcRuntimeError('crossbar/side-input', `graph input "${sideName(layer, 'Ab')}" without parasitics`);
      const p = par ?? this.program(layer, evaluation);
      const dims = this.program(layer, evaluation).dims;
      if (kinds.has('A')) feeds[sideName(layer, 'A')] = new ort.Tensor('float32', p.A, dims);
      if (kinds.has('B')) feeds[sideName(layer, 'B')] = new ort.Tensor('float32', p.B, dims);
      if (par && kinds.has('Ab')) feeds[sideName(layer, 'Ab')] = new ort.Tensor('float32', par.Ab ?? par.A, dims);
      if (par && kinds.has('Bb')) feeds[sideName(layer, 'Bb')] = new ort.Tensor('float32', par.Bb ?? par.B, dims);
    }
    if (!kinds.has('Wf') && !kinds.has('Wfb') && !kinds.has('sW')) return;
    const w = this.weightSource?.(layer);
    if (!w)
      throw new XbarcRuntimeError(
        'crossbar/internal',
        `layer "${layer}": fidelity fast programs the weights in the runtime and needs the current weights (no weight source: call setWeightSource)`,
      );
    const f = this.foldedState(layer, e, evaluation, par);
    const purpose = evaluation ? 'eval' : 'train';
    const size = e.K * e.N;
    const wf = this.buffer(`${layer}|${purpose}|Wf`, size, e.weightDims);
    const wfb = kinds.has('Wfb') ? this.buffer(`${layer}|${purpose}|Wfb`, size, e.weightDims) : null;
    const backDev = f.back ?? f.fwd;
    // Evaluation graphs run many batches on one set of weights: program once per set.
    const fresh = evaluation && wf.from?.w === w && wf.from.dev === f.fwd && (!wfb || (wfb.from?.w === w && wfb.from.dev === backDev));
    if (!fresh) {
      const key = `${layer}|${purpose}`;
      // The backward arrays' own device state (parasitics, transposed drive): the same levels, folded in the same pass.
      const back = wfb && f.back ? { dev: f.back, out: wfb.data } : undefined;
      // Re-fold only the weights whose integer value moved, while the device states stay (no refresh).
      const withBack = back ? wfb : null;
      const same = wf.from?.dev === f.fwd && wf.qBack === withBack && (!withBack || withBack.from?.dev === backDev);
      if (!wf.q || !same) wf.q = new Int32Array(size).fill(-1 - weightQmax(e.xb));
      wf.qBack = withBack;
      this.scales.set(key, programFolded(e.xb, w, f.fwd, wf.data, back, f.fwd ? wf.q : undefined));
      if (wfb && !back) wfb.data.set(wf.data);
      wf.from = { w, dev: f.fwd };
      if (wfb) wfb.from = { w, dev: backDev };
    }
    if (kinds.has('Wf')) feeds[sideName(layer, 'Wf')] = wf.tensor;
    if (wfb) feeds[sideName(layer, 'Wfb')] = wfb.tensor;
    if (kinds.has('sW')) feeds[sideName(layer, 'sW')] = new ort.Tensor('float32', Float32Array.of(this.scales.get(`${layer}|${purpose}`)!), []);
  }

  /** Set the static ranges directly (tests): the input range and the ADC full scale in level units. */
  setRanges(layer: string, r: { xrange: number; fullScale: number }): void {
    const e = this.layers.get(layer);
    if (!e) throw new XbarcRuntimeError('crossbar/missing', `no crossbar layer "${layer}"`);
    this.ranges.set(layer, this.calibrated(e, r.xrange, r.fullScale));
  }

  getRanges(layer: string): CalibratedRanges | undefined {
    return this.ranges.get(layer);
  }

  private calibrated(e: LayerEntry, xrange: number, fullScale: number): CalibratedRanges {
    const fast = this.exp.fidelity === 'fast';
    // Exact: the column ADC's codes (signed on an analog plane difference); fast: the layer-level signed ADC's.
    const M = fast ? adcMaxCode(e.xb.adc, true) : columnMaxCode(e.xb, e.xb.adc);
    // Exact fidelity: the integer core's multiplier for the layer's row tiles (fast: unused, 0).
    const { a, b } = adcStep(fullScale, M);
    const step: [number, number, number] = fast ? [a, b, 0] : fedStep(e.xb, fullScale, M, Math.min(e.xb.rows, e.K));
    return { xrange, fullScale, step, lsb: Math.fround(step[1] / step[0]) };
  }

  /**
   * Calibration pass: one eval-mode forward on a calibration batch with ranges computed in-graph
   * (input range = max |x|; ADC full scale = the `calibrate` percentile of observed partial sums),
   * whose values the evaluation graphs then use as constants.
   */
  async calibrate(trainer: Trainer, x: Float32Array, y: Int32Array): Promise<void> {
    // A session per calibration, released at once: its arena would otherwise keep the
    // calibration's peak (128 samples, in-graph ranges: at fidelity exact every partial sum, GiBs)
    // through the training and evaluation that follow. Opening one costs milliseconds.
    this.calGraph ??= buildEvalGraph(this.exp.network, this.calSelector);
    const session = await openGraphSession(this.calGraph, this.engine);
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await runGraph(session, trainer, this.exp, x, y, this.sideFeeds);
    } finally {
      await session.session.release();
    }
    for (const [name, e] of this.layers) {
      const xrange = scalar(out, calName(name, 'xrange'));
      const q = out[calName(name, 'adcq')] ? scalar(out, calName(name, 'adcq')) : 0;
      this.ranges.set(name, this.calibrated(e, xrange > 0 ? xrange : 1, q > 0 ? q : 1));
    }
  }

  /** Per-layer statistics of the evaluation graph on a batch (saturation, SNR vs the ideal MVM). */
  async stats(
    trainer: Trainer,
    x: Float32Array,
    y: Int32Array,
    chunk = 100,
    updates?: Record<string, { update: string; [k: string]: unknown }>,
  ): Promise<LayerStats[]> {
    const s = await openGraphSession(buildEvalGraph(this.exp.network, this.statsSelector), this.engine);
    const per = this.exp.network.inputShape.reduce((a, b) => a * b, 1);
    const acc = new Map<string, { sig: number; err: number; sat: number; conv: number }>();
    try {
      for (let start = 0; start < y.length; start += chunk) {
        const n = Math.min(chunk, y.length - start);
        const out = await runGraph(s, trainer, this.exp, x.subarray(start * per, (start + n) * per), y.subarray(start, start + n), this.sideFeeds);
        for (const name of this.layers.keys()) {
          const a = acc.get(name) ?? { sig: 0, err: 0, sat: 0, conv: 0 };
          a.sig += scalar(out, statName(name, 'sig'));
          a.err += scalar(out, statName(name, 'err'));
          a.sat += scalar(out, statName(name, 'sat'));
          a.conv += scalar(out, statName(name, 'conv'));
          acc.set(name, a);
        }
      }
    } finally {
      await s.session.release();
    }
    const digitalUpdate = this.exp.train?.nonideal.includes('update') ?? false;
    const merges = this.merges();
    return [...this.layers].map(([name, e]) => {
      const a = acc.get(name)!;
      const r = this.ranges.get(name);
      const stats: LayerStats = {
        name,
        crossbar: e.xb.name,
        fidelity: this.exp.fidelity as 'exact' | 'fast',
        adcSaturation: a.conv > 0 ? a.sat / a.conv : 0,
        snrDb: a.err > 0 ? 10 * Math.log10(a.sig / a.err) : null,
        update: updates?.[name]?.update ?? (digitalUpdate ? `digital: no device update model applies to this layer` : 'digital'),
      };
      const u = updates?.[name];
      if (u)
        stats.deviceUpdate = {
          scale: u['scale'],
          levels: u['levels'],
          saturated: u['saturated'],
          updates: u['updates'],
          updateMsPerStep: u['updateMsPerStep'],
        };
      const par = this.parasitic.get(name);
      if (par && e.par)
        stats.parasitics = {
          model: e.par.kind,
          refresh: e.par.refresh,
          backward: e.par.backward,
          trainRefreshes: par.trainRefreshes ?? 0,
          refreshes: par.refreshes,
          arraySolves: par.arraySolves,
          solveSeconds: par.ms / 1000,
          meanDistortion: (par.eval ?? par.train)?.meanD ?? null,
        };
      const merged = merges[name];
      stats.mergedExact = merged ?? null;
      if (r) {
        stats.inputRange = r.xrange;
        stats.adcLsbAmps = r.lsb * unitCurrent(e.xb, e.xb.dacBits);
      }
      return stats;
    });
  }

  async release(): Promise<void> {
    this.calGraph = null;
  }
}

/** Calibrated ranges of a layer: input range, ADC full scale F, the fed step [a, b, s] (exact-int.ts `fedStep`) and LSB = b/a in float32. */
export interface CalibratedRanges {
  xrange: number;
  fullScale: number;
  step: [number, number, number];
  lsb: number;
}

async function openGraphSession(graph: BuiltGraph, engine: EngineSettings): Promise<{ session: ort.InferenceSession; graph: BuiltGraph }> {
  const session = await openSession(graph.bytes, engine);
  return { session, graph };
}

async function runGraph(
  s: { session: ort.InferenceSession; graph: BuiltGraph },
  trainer: Trainer,
  exp: PlanExperiment,
  x: Float32Array,
  y: Int32Array,
  side: (g: BuiltGraph, batch: number) => Record<string, ort.Tensor>,
): Promise<ort.InferenceSession.OnnxValueMapType> {
  const state = trainer.getWeights();
  const decl = trainer.describeState();
  const dims = new Map([...decl.params, ...decl.buffers].map((e) => [e.name, e.dims]));
  const feeds: Record<string, ort.Tensor> = {
    [INPUT_X]: new ort.Tensor('float32', x, [y.length, ...exp.network.inputShape]),
    [INPUT_LABELS]: new ort.Tensor('int32', y, [y.length]),
  };
  for (const name of s.graph.stateInputs) feeds[name] = new ort.Tensor('float32', state[name]!, dims.get(name)!);
  Object.assign(feeds, side(s.graph, y.length));
  return s.session.run(feeds);
}

function scalar(out: ort.InferenceSession.OnnxValueMapType, name: string): number {
  const t = out[name];
  if (!t) throw new XbarcRuntimeError('crossbar/internal', `graph output "${name}" missing`);
  return (t.data as Float32Array)[0]!;
}

/** The calibration batch: the first `n` training samples (test samples for inference-only runs). */
export function calibrationBatch(data: Dataset, n = 128): { x: Float32Array; y: Int32Array } {
  const split = data.train.count > 0 ? data.train : data.test;
  const count = Math.min(n, split.count);
  const per = split.count === 0 ? 0 : split.x.length / split.count;
  return { x: split.x.subarray(0, count * per), y: split.y.subarray(0, count) };
}
