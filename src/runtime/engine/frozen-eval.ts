/**
 * Evaluation with the weights frozen into the graph. The trainer's evaluation graph is fed its
 * weights as inputs, so onnxruntime cannot use its constant-weight kernels: the NCHWc convolution
 * layout, Conv + BatchNormalization folding and the Conv(+Add)+Relu fusions of optimization level
 * 'all' need the weights as initializers. An evaluation runs many batches on one set of weights,
 * so it pays to build a graph with them frozen in, once per set: ResNet-20 evaluated 2.2–2.8×
 * faster for ≈ 20–35 ms of building and session creation (bench/RESULTS.md, 2026-12-06).
 *
 * What is frozen: the parameters and batchnorm statistics, and the side inputs without a batch
 * dimension (a crossbar's programmed devices, folded weights, calibrated ranges): all fixed while
 * an evaluation runs. Side inputs with one (read noise) stay inputs, fed per run from the same
 * streams as the unfrozen graph's. The frozen graph is rebuilt when any frozen value changed
 * (compared by content: the state is replaced per step, crossbar feed buffers are refilled in
 * place), so repeated evaluations of one trained network share it.
 *
 * Numbers: folding the batchnorm into the convolution and the NCHWc kernels sum in another order,
 * so the results differ from the unfrozen graph's in the last float32 bits (a crossbar ADC can
 * then round a partial sum lying on a level boundary to the neighbouring level). They are as
 * reproducible: the same spec, seed and thread count give the same bits (docs/running.md).
 */

import ort from 'onnxruntime-node';
import type { PlanNetwork } from '../../model/plan.js';
import { XbarcRuntimeError } from '../../model/errors.js';
import { buildGraph, evalGraphSpec, OUT_CORRECT, OUT_LOSS_SUM, type BuiltGraph, type HeadLoss } from './graphs.js';
import { idealMvmWith, type MvmSelector } from './mvm.js';
import type { SideInput } from './onnx.js';
import { openSession, type EngineOptions } from './session.js';
import type { EvalResult, Trainer, TrainerOptions } from './trainer.js';

/** Evaluates batches at the weights the evaluator was made for. */
export interface BatchEvaluator {
  evaluate(x: Float32Array, y: Int32Array): Promise<EvalResult>;
}

export interface FrozenEvalOptions {
  /** The evaluation MVMs (the trainer's `evalMvm ?? mvm`; default: ideal, with plain Conv forwards). */
  mvm?: MvmSelector | undefined;
  /** train.loss (the head loss of the evaluation graph). */
  loss?: HeadLoss | undefined;
  /** The trainer's side-input feeder (crossbar device state, ranges, read noise). */
  sideFeeds?: TrainerOptions['sideFeeds'];
  /** The engine settings of the run (threads, spinning, profiling). */
  engine?: EngineOptions;
  /** When to freeze: where it pays (`freezingPays`, the default), always or never. */
  when?: 'auto' | 'always' | 'never';
}

/**
 * Below this many floating-point operations of forward passes (samples × the network's
 * `flopsPerSample`), an evaluation keeps the trainer's graph. Measured (2-core AMD EPYC,
 * 2026-12-06): freezing costs ≈ 5 ms (LeNet-5, MLP) to 35 ms (ResNet-20) of building, session
 * creation and a slower first run; it saves ≈ 55 % of ResNet-20's evaluation time (1.1 ms per
 * sample, 82 MFLOP each: pays from ≈ 30 samples), ≈ 33 % of LeNet-5's (0.01–0.03 ms per sample)
 * and next to nothing on an MLP. 2 GFLOP: ResNet-20 from 25 samples, LeNet-5 from ≈ 2,000.
 */
export const FREEZE_MIN_FLOPS = 2e9;

/** Whether evaluating `samples` samples of `net` pays for building a frozen graph. */
export function freezingPays(net: PlanNetwork, samples: number): boolean {
  const flops = net.layers.reduce((s, l) => s + l.flopsPerSample, 0);
  return samples * flops >= FREEZE_MIN_FLOPS;
}

interface Frozen {
  session: ort.InferenceSession;
  graph: BuiltGraph;
  /** The frozen values, by input name (copies: the sources are replaced or refilled later). */
  values: Map<string, Float32Array>;
}

/** Frozen evaluation graphs of one trainer's network, one kept at a time. */
export class FrozenEvaluation {
  /** Frozen graphs built so far (one per set of weights evaluated). */
  builds = 0;
  private current: Frozen | null = null;
  /** The unfrozen graph's declaration (state inputs, side inputs): built once. */
  private declared: BuiltGraph | null = null;

  constructor(
    private readonly trainer: Trainer,
    private readonly opts: FrozenEvalOptions = {},
  ) {}

  /**
   * The evaluator of `samples` samples at the trainer's current state: a frozen graph where
   * `freezingPays`, else the trainer's own evaluation graph.
   */
  async begin(samples: number): Promise<BatchEvaluator> {
    const when = this.opts.when ?? 'auto';
    if (when === 'never' || (when === 'auto' && !freezingPays(this.trainer.network, samples))) return this.trainer;
    const values = this.valuesNow();
    if (!this.current || !sameValues(this.current.values, values)) {
      await this.release();
      this.current = await this.freeze(values);
      this.builds++;
    }
    const frozen = this.current;
    return { evaluate: (x, y) => this.run(frozen, x, y) };
  }

  /** The inputs the current frozen graph is still fed (x, labels, per-run side inputs); none before the first. */
  inputNames(): readonly string[] {
    return this.current?.session.inputNames ?? [];
  }

  async release(): Promise<void> {
    const c = this.current;
    this.current = null;
    await c?.session.release();
  }

  private select(): MvmSelector {
    return this.opts.mvm ?? frozenIdeal;
  }

  /** The current values of everything an evaluation holds fixed: the state and the batch-free side inputs. */
  private valuesNow(): Map<string, Float32Array> {
    this.declared ??= buildGraph(this.trainer.network, evalGraphSpec(false, this.opts.loss), this.select());
    const g = this.declared;
    const values = new Map<string, Float32Array>();
    for (const name of g.stateInputs) {
      const v = this.trainer.peekState(name);
      if (!v) throw new XbarcRuntimeError('engine/internal', `frozen evaluation: no state tensor "${name}"`);
      values.set(name, v);
    }
    const fixed = g.sideInputs.filter(batchFree);
    if (fixed.length > 0) {
      if (!this.opts.sideFeeds)
        throw new XbarcRuntimeError('engine/side-inputs', `graph eval needs side inputs that nothing feeds: ${fixed.map((s) => s.name).join(', ')}`);
      // Only the batch-free inputs: asking for the per-run ones would advance their streams.
      const feeds = this.opts.sideFeeds({ ...g, sideInputs: fixed }, 1);
      for (const s of fixed) {
        const t = feeds[s.name];
        if (!t) throw new XbarcRuntimeError('engine/side-inputs', `graph eval needs side inputs that nothing feeds: ${s.name}`);
        values.set(s.name, t.data as Float32Array);
      }
    }
    return values;
  }

  private async freeze(values: Map<string, Float32Array>): Promise<Frozen> {
    const dims = new Map(this.declared!.sideInputs.map((s) => [s.name, s.dims as number[]]));
    const state = this.trainer.describeState();
    for (const e of [...state.params, ...state.buffers]) dims.set(e.name, e.dims);
    const copies = new Map([...values].map(([name, v]) => [name, Float32Array.from(v)]));
    const freeze = Object.fromEntries([...copies].map(([name, data]) => [name, { data, dims: dims.get(name)! }]));
    const graph = buildGraph(this.trainer.network, { ...evalGraphSpec(false, this.opts.loss), freeze }, this.select());
    const session = await openSession(graph.bytes, this.opts.engine ?? {}, { constantWeights: true });
    return { session, graph, values: copies };
  }

  private async run(frozen: Frozen, x: Float32Array, y: Int32Array): Promise<EvalResult> {
    // The frozen graph declares no state inputs and only the per-run side inputs: the trainer's feeds.
    const out = await frozen.session.run(this.trainer.feeds(frozen.graph, x, y));
    return { lossSum: (out[OUT_LOSS_SUM]!.data as Float32Array)[0]!, correct: (out[OUT_CORRECT]!.data as Float32Array)[0]!, count: y.length };
  }
}

/**
 * The ideal MVMs of a frozen graph: plain Conv forwards, which level 'all' turns into NCHWc
 * convolutions itself — with the batchnorm folded in, the ReLU and residual Add fused and the
 * blocked layout kept from one convolution to the next — rather than the explicit NCHWc form
 * of the graphs fed their weights, which reorders around every convolution.
 */
const frozenIdealMvm = idealMvmWith({ forward: 'conv' });
const frozenIdeal: MvmSelector = () => frozenIdealMvm;

/** A side input without the batch dimension: state that an evaluation holds fixed. */
const batchFree = (s: SideInput): boolean => s.dims.every((d) => typeof d === 'number');

/** Bit-for-bit equal (−0 is not 0, a NaN equals itself): the frozen graph computes exactly what a new one would. */
function sameValues(a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, v] of b) {
    const w = a.get(name);
    if (!w || w.length !== v.length) return false;
    const vb = new Uint32Array(v.buffer, v.byteOffset, v.length);
    const wb = new Uint32Array(w.buffer, w.byteOffset, w.length);
    for (let i = 0; i < vb.length; i++) if (wb[i] !== vb[i]) return false;
  }
  return true;
}
