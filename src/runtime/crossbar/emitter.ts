/**
 * Crossbar MVMs as ONNX subgraphs (the `MvmEmitter` of a crossbar-mapped layer).
 *
 * Programming (every run, so training sees each weight update): W → per-layer scale
 * s_W = max|W|/q_max → integers q → planes (differential: |q⁺|, |q⁻|; offset: q + Z and the
 * reference Z) → MSB-first slices of cell_bits → levels ℓ, and with device non-idealities
 * L = ℓ·A + B (A, B sampled once at programming and fed as graph inputs, see config.ts). In-graph
 * at exact fidelity; at fast fidelity (`programming: 'fed'`) the runtime does it in TypeScript and
 * feeds the folded matrix (config.ts `programFolded`).
 *
 *   exact  every row tile × input stream × (plane, slice) partial sum n = Σ_rows d·L is converted
 *          by its own ADC (code = clip(round(n / LSB), 0, 2^bits − 1), the real quotient rounded
 *          half to even: `adcRound`); codes are shift-added digitally over streams, slices and
 *          planes and summed over row tiles. With `subtract = analog` the converted sum is the
 *          planes' difference n⁺ − n⁻ = Σ_rows d·(L⁺ − L⁻), one signed ADC per slice (codes
 *          ±(2^(bits−1) − 1)): P = 1 converted plane instead of 2. Layout (ENGINE.md
 *          rule 2, tiles as one batched MatMul): inputs as columns [K, M] (M = B, or B·L after a
 *          one-hot-Conv im2col), stream digits on a trailing axis → [T, R, M·J];
 *          levels [T, P·S·N, R]; n = [T, P·S·N, R] × [T, R, M·J]; the shift-add is two small MatMuls.
 *          Evaluation graphs of ideal devices with an ideal ≤ 8-bit ADC run the same conversions
 *          on bytes (exact-int.ts: integer GEMMs whose requantization is the same exact conversion).
 *   fast   (TxSim) slices, planes and tiles folded into one effective integer matrix per weight
 *          update, one GEMM (or Conv) per MVM on the input_bits-quantized input, and one signed
 *          ADC (±(2^(bits−1) − 1)) on the layer-level result.
 *
 * Backward: dx = dy·Wᵀ through the same programmed arrays driven from the columns, with its own
 * DAC/ADC (`settings.backward`), row sums split into column tiles. The ADC/DAC rounding is
 * straight-through; outputs whose ADC saturated get no gradient (the clip mask). The weight
 * gradient is digital (xᵀ·dy on float values).
 *
 * Ranges. `static`: the input range (max |x|) and the ADC step of `calibrate` ranges are graph
 * inputs set by a calibration pass (evaluation graphs); `dynamic`: both are computed from the
 * current batch in-graph (training graphs; calibration graphs, which also output them). `max`
 * and `fixed` ADC ranges are constants.
 */

import { XbarcRuntimeError } from '../../model/errors.js';
import {
  CONV_FORWARDS,
  CONV_INPUT_GRADS,
  convOutputPadding,
  forwardForm,
  idealMvm,
  inputGradForm,
  unfoldPatches,
  type ConvMvmSpec,
  type MvmEmitter,
  type MvmForward,
  type MvmSpec,
} from '../engine/mvm.js';
import { DataType, f, type GraphBuilder } from '../engine/onnx.js';
import type { LayerMerge } from '../../model/plan.js';
import {
  adcMaxCode,
  adcStep,
  analogSubtraction,
  columnMaxCode,
  conversionWeights,
  convertedPlanes,
  exactInFloat32,
  inputEncoding,
  offsetZ,
  planeSliceWeights,
  unitCurrent,
  weightQmax,
  weightSlices,
  widestSliceLevel,
  type InputEncoding,
} from '../../model/crossbar-math.js';
import type { AdcSpec, CrossbarSpec } from '../../model/crossbar.js';
import { integerForwardCore, requantPlan, streamDigits, sumStreamsAndTiles, type Requantization, type RequantPlan } from './exact-int.js';

export interface LayerCrossbar {
  layer: string;
  xb: CrossbarSpec;
  fidelity: 'exact' | 'fast';
  /** Forward MVM on the crossbar (else the ideal float product). */
  forward: boolean;
  /** Input-gradient MVM on the crossbar (else ideal). */
  backward: boolean;
  ranges: 'static' | 'dynamic';
  /** Extra graph outputs: calibration values (dynamic) or statistics (static). */
  outputs: 'none' | 'calibrate' | 'stats';
  /** Feed the programmed device state A, B (variation, faults, drift). */
  variation: boolean;
  /** Feed per-run read noise (fast only): the factor 1 + σ·ξ per output, `xb/<layer>/noise`. */
  readNoise: boolean;
  signedInput: boolean;
  /**
   * Exact only: the plan's merge decisions for this layer (`LayerMapping.merges`, computed by the
   * compiler, src/compiler/merges.ts). A direction whose merge is applied runs as one GEMM;
   * absent or not applied: every conversion separately.
   */
  merges?: readonly LayerMerge[] | undefined;
  /** `false` forces the per-conversion path even where the plan merges (tests, comparisons). */
  mergeLossless?: boolean;
  /** `false` keeps the float conversion core where the 8-bit integer one applies (tests, comparisons). */
  integerConversions?: boolean;
  /**
   * Parasitics with `backward = transposed`: the backward MVM reads its own level model
   * (xb/<layer>/Ab, Bb: the transposed-drive circuit's distortion) instead of the forward one.
   */
  backwardSides?: boolean;
  /**
   * Fidelity fast only. `graph` (default): the weights are programmed in-graph every run (device
   * state fed as xb/<layer>/A, B). `fed`: the runtime programs them in JS (config.ts
   * `programFolded`) and feeds the folded matrix xb/<layer>/Wf in the weight's own layout (dense
   * [K, N], conv [O, C, kh, kw]), its scale xb/<layer>/sW, and with `backwardSides` the backward
   * arrays' folded matrix xb/<layer>/Wfb.
   */
  programming?: 'graph' | 'fed';
}

/** Names of the side inputs and extra outputs of a layer. */
/**
 * `step`: a static ADC step, fed as [a, b, s] (LSB = b/a level units, exact-int.ts `fedStep` of
 * the calibrated full scale).
 */
export const sideName = (layer: string, kind: CrossbarSideKind): string => `xb/${layer}/${kind}`;
export const calName = (layer: string, kind: 'xrange' | 'adcq'): string => `cal/${layer}/${kind}`;
export const statName = (layer: string, kind: 'sig' | 'err' | 'sat' | 'conv'): string => `stat/${layer}/${kind}`;

/** The crossbar's side inputs, by kind: device state, folded matrices, ranges, steps, noise. */
export type CrossbarSideKind = 'A' | 'B' | 'Ab' | 'Bb' | 'Wf' | 'Wfb' | 'sW' | 'step' | 'xrange' | 'noise';

/**
 * Per-graph state of the crossbar emitters, owned by the graph (`GraphBuilder.context`): the folded
 * matrix of each programmed level tensor (fast forward and backward share it), the
 * straight-through masked gradient of each (dy, mask) pair (input and weight gradients share it),
 * and tensors tests may fetch.
 */
class CrossbarEmission {
  readonly folded = new Map<string, string>();
  readonly masked = new Map<string, string>();
  readonly debug: Record<string, string> = {};
}

/** Tensors of interest inside a built graph: `acc:<layer>` / `bacc:<layer>` (integer shift-add results), `lsb:<layer>`, `blsb:<layer>`. */
export function debugTensors(g: GraphBuilder): Record<string, string> {
  return g.context(CrossbarEmission).debug;
}

function note(g: GraphBuilder, key: string, t: string): void {
  g.context(CrossbarEmission).debug[key] = t;
}

/** Declare (once per graph) the side input `kind` of `layer` as a typed record the runtime feeds by. */
function side(g: GraphBuilder, layer: string, kind: CrossbarSideKind, dims: (number | string)[]): string {
  return g.sideInput({ name: sideName(layer, kind), owner: 'crossbar', layer, kind, dims });
}

const TINY = 1e-30;

export class CrossbarMvm implements MvmEmitter {
  readonly name: string;
  private readonly S: number;

  constructor(readonly cfg: LayerCrossbar) {
    this.name = `crossbar-${cfg.fidelity}`;
    this.S = weightSlices(cfg.xb);
    if (cfg.readNoise && cfg.fidelity === 'exact') {
      throw new XbarcRuntimeError(
        'crossbar/unsupported',
        `layer "${cfg.layer}": read noise at fidelity exact is not supported yet (use fidelity fast, or read_noise = 0)`,
      );
    }
  }

  // ---- programming -----------------------------------------------------------------------------

  /** The layer's weights as a matrix [K, N]. */
  private weightKN(g: GraphBuilder, spec: MvmSpec, w: string): string {
    if (spec.kind === 'dense') return w;
    const K = spec.C * spec.kernel[0] * spec.kernel[1];
    return g.op('Transpose', [g.op('Reshape', [w, g.constInt64([spec.O, K])])], { perm: [1, 0] });
  }

  /** Programmed levels L [2, S, K, N] and the weight scale s_W (a scalar); `q` the integer weights [K, N]. */
  program(g: GraphBuilder, spec: MvmSpec, w: string): { L: string; sW: string; q: string; levels: string } {
    const xb = this.cfg.xb;
    if (this.cfg.programming === 'fed') {
      if (this.cfg.fidelity !== 'fast')
        throw new XbarcRuntimeError('crossbar/internal', `layer "${this.cfg.layer}": fed programming is for fidelity fast only`);
      // Programmed by the runtime: the folded matrix (weight layout) and its scale are inputs.
      const Wf = side(g, this.cfg.layer, 'Wf', this.weightDims(spec));
      return { L: Wf, sW: side(g, this.cfg.layer, 'sW', []), q: Wf, levels: Wf };
    }
    const qmax = weightQmax(xb);
    const Wk = this.weightKN(g, spec, w);
    const m = g.op('ReduceMax', [g.op('Abs', [Wk])], { keepdims: 0 });
    const sW = g.op('Max', [g.op('Div', [m, g.scalar(qmax)]), g.scalar(TINY)]);
    const q = g.op('Clip', [g.op('Round', [g.op('Div', [Wk, sW])]), g.scalar(-qmax), g.scalar(qmax)]);
    const axis0 = g.constInt64([0]);
    let planes: [string, string];
    if (xb.mapping === 'differential') {
      planes = [g.op('Relu', [q]), g.op('Relu', [g.op('Neg', [q])])];
    } else {
      const Z = g.scalar(offsetZ(xb));
      planes = [g.op('Add', [q, Z]), g.op('Expand', [Z, g.op('Shape', [q])])];
    }
    const U = g.op(
      'Concat',
      planes.map((p) => g.op('Unsqueeze', [p, axis0])),
      { axis: 0 },
    ); // [2, K, N]
    const levels = sliceLevels(g, U, xb.cellBits, this.S); // [2, S, K, N]
    if (!this.cfg.variation) return { L: levels, sW, q, levels };
    const A = side(g, this.cfg.layer, 'A', this.levelDims(spec));
    const B = side(g, this.cfg.layer, 'B', this.levelDims(spec));
    return { L: g.op('Add', [g.op('Mul', [levels, A]), B]), sW, q, levels };
  }

  private levelDims(spec: MvmSpec): number[] {
    return [2, this.S, spec.kind === 'dense' ? spec.K : spec.C * spec.kernel[0] * spec.kernel[1], spec.kind === 'dense' ? spec.N : spec.O];
  }

  /** Dims of the layer's weight tensor: dense [K, N], conv [O, C, kh, kw]. */
  private weightDims(spec: MvmSpec): number[] {
    return spec.kind === 'dense' ? [spec.K, spec.N] : [spec.O, spec.C, spec.kernel[0], spec.kernel[1]];
  }

  /** The folded matrix as a conv kernel [O, C, kh, kw] (fed programming: already in that layout). */
  private kernel(g: GraphBuilder, spec: ConvMvmSpec, Wf: string): string {
    return this.cfg.programming === 'fed' ? Wf : foldedKernel(g, spec, Wf);
  }

  /** Fast mode: the folded integer matrix Σ_p,s sign_p·2^(cb·s)·L[p,s], [K, N]. */
  private fold(g: GraphBuilder, L: string, q?: string): string {
    // Fed programming: L is the folded matrix already.
    if (this.cfg.programming === 'fed') return L;
    // Without device non-idealities the planes and slices recombine to q exactly.
    if (!this.cfg.variation && q) return q;
    const cache = g.context(CrossbarEmission).folded;
    const hit = cache.get(L);
    if (hit) return hit;
    const cw = g.constFloat(planeSliceWeights(this.cfg.xb), [2, this.S, 1, 1]);
    const Wf = g.op('ReduceSum', [g.op('Mul', [L, cw]), g.constInt64([0, 1])], { keepdims: 0 });
    cache.set(L, Wf);
    return Wf;
  }

  // ---- forward -----------------------------------------------------------------------------------

  forward(g: GraphBuilder, spec: MvmSpec, x: string, w: string): MvmForward {
    const c = this.cfg;
    if (!c.forward) {
      const fwd = idealMvm.forward(g, spec, x, w);
      return { y: fwd.y, saved: { ...fwd.saved } };
    }
    const prog = this.program(g, spec, w);
    const enc = inputEncoding(c.xb.inputBits, c.xb.dacBits, c.signedInput);
    const range =
      c.ranges === 'static'
        ? side(g, c.layer, 'xrange', [])
        : // Unsigned inputs (after a ReLU) are non-negative: their max is max |x|, no Abs pass.
          g.op('Max', [g.op('ReduceMax', [enc.kind === 'unsigned' ? x : g.op('Abs', [x])], { keepdims: 0 }), g.scalar(TINY)]);
    const sX = g.op('Div', [range, g.scalar(enc.qmax)]);
    const scaled = g.op('Round', [g.op('Mul', [x, g.op('Reciprocal', [sX])])]);
    // A fed (static) range can be exceeded; the batch's own range cannot (|x|·q_max/max|x| rounds
    // to at most q_max), so dynamic ranges need no Clip.
    const xq = c.ranges === 'static' ? g.op('Clip', [scaled, g.scalar(enc.kind === 'unsigned' ? 0 : -enc.qmax), g.scalar(enc.qmax)]) : scaled;
    const r = c.fidelity === 'exact' ? this.exactForward(g, spec, xq, prog.L, enc, prog.q) : this.fastForward(g, spec, xq, this.fold(g, prog.L, prog.q), enc);
    note(g, `acc:${c.layer}`, r.acc);
    note(g, `lsb:${c.layer}`, r.lsb);
    const y = g.op('Mul', [r.acc, g.op('Mul', [g.op('Mul', [r.lsb, sX]), prog.sW])]);
    if (c.outputs === 'calibrate') {
      g.output(calName(c.layer, 'xrange'), range, 'float', []);
      if (r.fullScale) g.output(calName(c.layer, 'adcq'), r.fullScale, 'float', []);
    } else if (c.outputs === 'stats') {
      // A side branch: runs right after this layer, not after the network (`sideBranch`).
      g.sideBranch(() => {
        const ideal = idealMvm.forward(g, spec, x, w).y;
        const err = g.op('Sub', [y, ideal]);
        g.output(statName(c.layer, 'sig'), g.op('ReduceSum', [g.op('Mul', [ideal, ideal])], { keepdims: 0 }), 'float', []);
        g.output(statName(c.layer, 'err'), g.op('ReduceSum', [g.op('Mul', [err, err])], { keepdims: 0 }), 'float', []);
        g.output(statName(c.layer, 'sat'), g.op('ReduceSum', [r.sat], { keepdims: 0 }), 'float', []);
        g.output(statName(c.layer, 'conv'), g.op('Cast', [g.op('Size', [r.sat])], { to: DataType.FLOAT }), 'float', []);
      });
    }
    const saved: Record<string, string> = { L: prog.L, sW: prog.sW, q: prog.q, levels: prog.levels };
    if (r.mask) saved['mask'] = r.mask;
    if (r.keep) saved['keep'] = r.keep;
    return { y, saved };
  }

  /**
   * The ADC step of one converter as the exact ratio LSB = b/a level units (config.ts `adcStep`),
   * so that code = round_half_even(n·a/b): constant for `max` (full scale = `worst`, the largest
   * partial sum) and `fixed`; for `calibrate` fed as [a, b, s] (the side input `step` of `fedStepLayer`) or measured in-graph
   * (a = M, b = max(F, M) with F the percentile of the observed sums). In float32 the caller
   * multiplies the sums by `a` (folded into a small operand) and `finish` observes those products;
   * `f64` (where float32 cannot be shown exact for every step the converter can take,
   * `exactInFloat32`, but the sums themselves are exact integers below 2^24) leaves them unscaled
   * and `convert` divides in float64. `allowF64` false keeps float32 (fidelity fast: its
   * layer-level sums are rarely exact in float32 anyway).
   */
  private step(g: GraphBuilder, adc: AdcSpec, maxCode: number, worst: number, dacBits: number, fedStepLayer: string | null, allowF64: boolean): StepPlan {
    const canF64 = allowF64 && worst < 2 ** 24;
    if (adc.range.kind === 'max' || adc.range.kind === 'fixed') {
      const { a, b } = adcStep(adc.range.kind === 'max' ? worst : adc.range.current / unitCurrent(this.cfg.xb, dacBits), maxCode);
      return { a, f64: canF64 && !exactInFloat32(b, maxCode), finish: () => ({ b, lsb: g.scalar(Math.fround(b / a)) }) };
    }
    if (fedStepLayer) {
      const { a, b } = fedStepInputs(g, fedStepLayer);
      // A calibrated full scale is an observed partial sum (≤ worst): b ≤ max(worst, M), and 1 when worst ≤ M.
      return { a, f64: canF64 && worst > maxCode && !exactInFloat32(worst, maxCode), finish: () => ({ b, lsb: g.op('Div', [b, a]) }) };
    }
    // In-graph: a = M unreduced (the sums are scaled before their percentile is known); n·M/M = n exactly at a one-level step.
    const f64 = canF64 && (worst <= maxCode ? worst * maxCode >= 2 ** 24 : !exactInFloat32(worst, maxCode));
    return {
      a: maxCode,
      f64,
      finish: (observed) => {
        const q = quantile(g, observed!(), adc.range.kind === 'calibrate' ? adc.range.percentile : 1);
        // float32 observes n·M (exact), so q/M is the observed sum itself.
        const F = f64 ? q : g.op('Div', [q, g.scalar(maxCode)]);
        const b = g.op('Max', [F, g.scalar(maxCode)]);
        return { b, lsb: g.op('Div', [b, g.scalar(maxCode)]), fullScale: F };
      },
    };
  }

  /**
   * Why the exact conversions of one direction are merged into one GEMM (the plan's reason), or
   * null. The decision is the compiler's (src/compiler/merges.ts: no device non-idealities, ideal
   * ADC transfer, largest partial sum within the ADC's codes at a one-level step); the emitter
   * only looks it up. K and N are the caller's view of the matrix, kept for the call sites.
   */
  mergeReason(direction: 'forward' | 'backward', _K?: number, _N?: number): string | null {
    const { merges, mergeLossless, fidelity } = this.cfg;
    if (mergeLossless === false || fidelity !== 'exact') return null;
    const m = merges?.find((e) => e.direction === direction);
    if (!m?.applied) return null;
    if (this.cfg.variation || this.cfg.readNoise) {
      throw new XbarcRuntimeError(
        'crossbar/bad-plan',
        `layer "${this.cfg.layer}": the plan merges its ${direction} conversions, but its devices vary (variation, faults, drift or read noise); recompile the plan`,
      );
    }
    return m.reason;
  }

  /**
   * The levels whose partial sums the column ADCs convert, [P, S, K, N]: both planes (P = 2), or
   * with analog subtraction their difference L⁺ − L⁻ (P = 1): by linearity Σ d·(L⁺ − L⁻) is the
   * current difference I⁺ − I⁻ in level units (exactly, for the integer levels of ideal devices).
   */
  private convertedLevels(g: GraphBuilder, L: string): string {
    if (!analogSubtraction(this.cfg.xb)) return L;
    const plane = (p: number): string => g.op('Slice', [L, g.constInt64([p]), g.constInt64([p + 1]), g.constInt64([0])]);
    return g.op('Sub', [plane(0), plane(1)]);
  }

  /** The merged (provably exact) product of integer inputs and integer weights q [K, N]. */
  private mergedProduct(g: GraphBuilder, spec: MvmSpec, xq: string, q: string): Conversion {
    const acc = spec.kind === 'dense' ? g.op('MatMul', [xq, q]) : g.op('Conv', [xq, foldedKernel(g, spec, q)], convAttrs(spec));
    return { acc, lsb: g.scalar(1), sat: g.constFloat([0]) };
  }

  private exactForward(g: GraphBuilder, spec: MvmSpec, xq: string, L: string, enc: InputEncoding, q?: string): Conversion {
    const c = this.cfg;
    const K = spec.kind === 'dense' ? spec.K : spec.C * spec.kernel[0] * spec.kernel[1];
    const N = spec.kind === 'dense' ? spec.N : spec.O;
    if (q && this.mergeReason('forward', K, N)) return this.mergedProduct(g, spec, xq, q);
    const R = Math.min(c.xb.rows, K);
    const T = Math.ceil(K / R);
    const S = this.S;
    const P = convertedPlanes(c.xb);
    // Levels as [T, (plane, slice, column), R].
    const Lm = g.op('Reshape', [
      g.op('Transpose', [g.op('Reshape', [pad(g, this.convertedLevels(g, L), 4, 2, T * R - K), g.constInt64([P, S, T, R, N])])], { perm: [2, 0, 1, 4, 3] }),
      g.constInt64([T, P * S * N, R]),
    ]);
    const requant = this.integerConversions(enc, R);
    if (requant) return this.integerForward(g, spec, xq, Lm, enc, { T, R, S }, requant);
    // Inputs as columns [K, M] (M = B, or B·L for conv: im2col of the quantized image).
    const cols = spec.kind === 'dense' ? g.op('Transpose', [xq], { perm: [1, 0] }) : g.op('Transpose', [unfoldPatches(g, spec, xq)], { perm: [1, 0, 2] });
    const U = g.op('Reshape', [pad(g, cols, spec.kind === 'dense' ? 2 : 3, 0, T * R - K), g.constInt64([T, R, -1])]);
    const L1 = spec.kind === 'dense' ? 1 : spec.Ho * spec.Wo;
    const core = this.exactCore(g, U, Lm, enc, { T, R, N, L: L1 }, c.xb.adc, c.xb.dacBits, c.ranges === 'static' ? c.layer : null);
    // [N, M] → the layer's output layout.
    const toOutput = (t: string): string => {
      if (spec.kind === 'dense') return g.op('Transpose', [t], { perm: [1, 0] });
      const bnl = g.op('Transpose', [g.op('Reshape', [t, g.constInt64([N, -1, L1])])], { perm: [1, 0, 2] });
      return g.op('Reshape', [bnl, g.constInt64([-1, spec.O, spec.Ho, spec.Wo])]);
    };
    return { ...core, acc: toOutput(core.acc), mask: toOutput(core.mask) };
  }

  /**
   * How this graph's forward conversions run on 8-bit integers (exact-int.ts `requantPlan`), or
   * null: evaluation with static ranges and no statistics, ideal devices, an ideal ADC of ≤ 8
   * bits, and a requantization that is exact for every partial sum of `rows`-row tiles.
   */
  private integerConversions(enc: InputEncoding, rows: number): RequantPlan | null {
    const c = this.cfg;
    if (c.integerConversions === false || c.ranges !== 'static' || c.outputs !== 'none' || c.variation || c.readNoise) return null;
    return requantPlan(c.xb, enc, rows);
  }

  private integerForward(
    g: GraphBuilder,
    spec: MvmSpec,
    xq: string,
    Lm: string,
    enc: InputEncoding,
    tiles: { T: number; R: number; S: number },
    plan: RequantPlan,
  ): Conversion {
    const c = this.cfg;
    // Static ranges: the step is a constant or the fed calibration, never observed in-graph.
    let lsb: string;
    let requant: Requantization;
    if (plan.kind === 'choose') {
      const fed = fedStepInputs(g, c.layer);
      lsb = g.op('Div', [fed.b, fed.a]);
      requant = { kind: 'choose', ...fed };
    } else {
      lsb = g.scalar(Math.fround(plan.b / plan.a));
      requant = plan.kind === 'scale' ? { kind: 'scale', s: g.scalar(plan.s) } : { kind: 'divide', a: g.scalar(plan.a), b: g.scalar(plan.b) };
    }
    const core = integerForwardCore(g, spec, xq, Lm, enc, c.xb, tiles, requant); // [N, M]
    if (spec.kind === 'dense') return { acc: g.op('Transpose', [core], { perm: [1, 0] }), lsb, sat: g.constFloat([0]) };
    // Columns (pixel, sample) → [B, O, Ho, Wo].
    const bnl = g.op('Transpose', [g.op('Reshape', [core, g.constInt64([spec.O, spec.Ho * spec.Wo, -1])])], { perm: [2, 0, 1] });
    return { acc: g.op('Reshape', [bnl, g.constInt64([-1, spec.O, spec.Ho, spec.Wo])]), lsb, sat: g.constFloat([0]) };
  }

  /**
   * The exact conversion core shared by forward and backward. U [T, R, M]: quantized inputs per
   * row tile; Lm [T, P·S·N, R]: programmed levels (P = 2 planes, or 1 analog difference). Every
   * (tile, plane, slice, column, input column, stream) partial sum is one element of a single
   * batched MatMul [T, PSN, R] × [T, R, M·J]; its ADC codes (signed for the analog difference) are
   * shift-added over (plane, slice) and streams by two small MatMuls and summed over tiles.
   * Returns acc [N, M] and the saturation mask [N, M].
   */
  private exactCore(
    g: GraphBuilder,
    U: string,
    Lm: string,
    enc: InputEncoding,
    d: { T: number; R: number; N: number; L: number },
    adc: AdcSpec,
    dacBits: number,
    fedStepLayer: string | null,
  ): Conversion & { mask: string } {
    const xb = this.cfg.xb;
    const S = this.S;
    const J = enc.streams;
    const P = convertedPlanes(xb);
    const signed = P === 1;
    const D = g.op('Reshape', [streamDigits(g, U, enc), g.constInt64([d.T, d.R, -1])]); // [T, R, M·J]
    const maxCode = columnMaxCode(xb, adc);
    const worst = d.R * (2 ** dacBits - 1) * widestSliceLevel(xb);
    const step = this.step(g, adc, maxCode, worst, dacBits, fedStepLayer, true);
    // float32: the GEMM gives n·a directly (levels × a; exact integers below the saturation point, see `step`).
    const La = step.f64 || step.a === 1 ? Lm : g.op('Mul', [Lm, scalarOf(g, step.a)]);
    // Grouped by (tile, plane·slice) for the shift-add; the Reshape between GEMM and division also
    // keeps ORT from folding a constant divisor into the GEMM (see `adcRound`).
    const n = g.op('Reshape', [g.op('MatMul', [La, D]), g.constInt64([d.T, P * S, -1])]); // [T, PS, N·M·J]
    // A signed difference's range is calibrated on |n|.
    const { b, lsb, fullScale } = step.finish(() => {
      const seen = subsample(g, n, d.T * P * S * d.N * d.L * J);
      return signed ? g.op('Abs', [seen]) : seen;
    });
    const { code, sat } = convert(g, n, step, b, adc, maxCode, signed, false);
    const ps = g.op('MatMul', [g.constFloat(conversionWeights(xb), [1, P * S]), code]); // [T, 1, N·M·J]
    const acc = sumStreamsAndTiles(g, ps, enc, d.T, d.N);
    // Pruned unless a backward pass or the statistics read it.
    const any = g.op('ReduceMax', [g.op('Reshape', [sat, g.constInt64([d.T, P * S, d.N, -1, J])]), g.constInt64([0, 1, 4])], { keepdims: 0 });
    return { acc, lsb, sat, mask: g.op('Sub', [g.scalar(1), any]), ...(fullScale ? { fullScale } : {}) };
  }

  private fastForward(g: GraphBuilder, spec: MvmSpec, xq: string, Wf: string, enc: InputEncoding): Conversion {
    const c = this.cfg;
    const K = spec.kind === 'dense' ? spec.K : spec.C * spec.kernel[0] * spec.kernel[1];
    const maxCode = adcMaxCode(c.xb.adc, true);
    const worst = K * enc.qmax * weightQmax(c.xb);
    const step = this.step(g, c.xb.adc, maxCode, worst, c.xb.dacBits, c.ranges === 'static' ? c.layer : null, false);
    const a = step.a === 1 ? null : scalarOf(g, step.a);
    let yi: string;
    if (spec.kind === 'dense') {
      // The output carries `a` (ORT folds a constant into the GEMM).
      yi = g.op('MatMul', [xq, Wf]);
      if (a) yi = g.op('Mul', [yi, a]);
    } else {
      // The kernel is the small operand: it carries `a`. The conv runs in the ideal engine's form
      // for the shape (engine/mvm.ts: NCHWc where it fits), the sum being the same.
      const k = this.kernel(g, spec, Wf);
      yi = CONV_FORWARDS[forwardForm(spec)](g, spec, xq, a ? g.op('Mul', [k, a]) : k);
    }
    if (c.readNoise) {
      // Read noise I ← I·(1 + σ·ξ), the factor fed per output and run: the law of I + σ·|I|·ξ
      // (given I, sign(I)·ξ is N(0, 1) as ξ is) in one pass over the output instead of four.
      const dims: (number | string)[] = spec.kind === 'dense' ? ['N', spec.N] : ['N', spec.O, spec.Ho, spec.Wo];
      yi = g.op('Mul', [yi, side(g, c.layer, 'noise', dims)]);
    }
    const { b, lsb, fullScale } = step.finish(() => g.op('Abs', [subsample(g, yi, spec.kind === 'dense' ? spec.N : spec.O * spec.Ho * spec.Wo)]));
    const adc = c.xb.adc;
    if (adc.gainError === 0 && adc.inl === 0 && adc.offset === 0) {
      // Ideal transfer: `convert` without its saturation test. An output is not clipped exactly
      // when its code equals the rounded value, so the straight-through mask takes two passes
      // over the output (Equal, Cast) instead of four (Abs, Greater, Cast, Sub).
      const r = adcRound(g, yi, step, b, adc, maxCode, true, spec.kind === 'dense');
      const code = g.op('Clip', [r, g.scalar(-maxCode), g.scalar(maxCode)]);
      const keep = g.op('Equal', [code, r]);
      return { acc: code, lsb, sat: g.op('Cast', [g.op('Not', [keep])], { to: DataType.FLOAT }), keep, ...(fullScale ? { fullScale } : {}) };
    }
    const { code, sat } = convert(g, yi, step, b, adc, maxCode, true, spec.kind === 'dense');
    return { acc: code, lsb, sat, mask: g.op('Sub', [g.scalar(1), sat]), ...(fullScale ? { fullScale } : {}) };
  }

  // ---- backward ------------------------------------------------------------------------------------

  backwardInput(g: GraphBuilder, spec: MvmSpec, dy: string, w: string, fwd: MvmForward): string {
    const c = this.cfg;
    const masked = straightThrough(g, dy, fwd);
    if (!c.backward) return idealMvm.backwardInput(g, spec, masked, w, fwd);
    const prog =
      fwd.saved['L'] && fwd.saved['sW'] && fwd.saved['q'] && fwd.saved['levels']
        ? { L: fwd.saved['L'], sW: fwd.saved['sW'], q: fwd.saved['q'], levels: fwd.saved['levels'] }
        : this.program(g, spec, w);
    if (c.backwardSides && c.variation && c.programming === 'fed') {
      // Transposed-drive parasitics, programmed by the runtime: the backward arrays' folded matrix.
      prog.L = side(g, c.layer, 'Wfb', this.weightDims(spec));
    } else if (c.backwardSides && c.variation) {
      // Transposed-drive parasitics: the backward arrays' own level model.
      prog.L = g.op('Add', [g.op('Mul', [prog.levels, side(g, c.layer, 'Ab', this.levelDims(spec))]), side(g, c.layer, 'Bb', this.levelDims(spec))]);
    }
    const b = c.xb.backward;
    const enc = inputEncoding(b.inputBits, b.dacBits, true);
    const range = g.op('Max', [g.op('ReduceMax', [g.op('Abs', [masked])], { keepdims: 0 }), g.scalar(TINY)]);
    const sD = g.op('Div', [range, g.scalar(enc.qmax)]);
    // No Clip: the range is this tensor's own max |dy|, so |dy|·(q_max/range) rounds to at most q_max.
    const dq = g.op('Round', [g.op('Mul', [masked, g.op('Reciprocal', [sD])])]);
    const r: Conversion & { image?: boolean } =
      c.fidelity === 'exact' ? this.exactBackward(g, spec, dq, prog.L, enc, prog.q) : this.fastBackward(g, spec, dq, this.fold(g, prog.L, prog.q), enc);
    note(g, `bacc:${c.layer}`, r.acc);
    note(g, `blsb:${c.layer}`, r.lsb);
    const scaled = g.op('Mul', [r.acc, g.op('Mul', [g.op('Mul', [r.lsb, sD]), prog.sW])]);
    if (spec.kind === 'dense' || c.fidelity === 'fast' || r.image) return scaled;
    return g.op('Col2Im', [scaled, g.constInt64([spec.H, spec.W]), g.constInt64([...spec.kernel])], { strides: [...spec.stride], pads: [...spec.pads] });
  }

  private exactBackward(g: GraphBuilder, spec: MvmSpec, dq: string, L: string, enc: InputEncoding, q?: string): Conversion & { image?: boolean } {
    const xb = this.cfg.xb;
    const S = this.S;
    const K = spec.kind === 'dense' ? spec.K : spec.C * spec.kernel[0] * spec.kernel[1];
    const N = spec.kind === 'dense' ? spec.N : spec.O;
    if (q && this.mergeReason('backward', K, N)) {
      if (spec.kind === 'dense') return { acc: g.op('Gemm', [dq, q], { transB: 1 }), lsb: g.scalar(1), sat: g.constFloat([0]) };
      const acc = g.op('ConvTranspose', [dq, foldedKernel(g, spec, q)], { ...convAttrs(spec), output_padding: convOutputPadding(spec) });
      return { acc, lsb: g.scalar(1), sat: g.constFloat([0]), image: true };
    }
    const Rc = Math.min(xb.cols, N);
    const C = Math.ceil(N / Rc);
    const L1 = spec.kind === 'dense' ? 1 : spec.Ho * spec.Wo;
    // dy as columns [N, M] driven into the column tiles.
    const cols =
      spec.kind === 'dense'
        ? g.op('Transpose', [dq], { perm: [1, 0] })
        : g.op('Transpose', [g.op('Reshape', [dq, g.constInt64([-1, N, L1])])], { perm: [1, 0, 2] });
    const U = g.op('Reshape', [pad(g, cols, spec.kind === 'dense' ? 2 : 3, 0, C * Rc - N), g.constInt64([C, Rc, -1])]);
    const P = convertedPlanes(xb);
    const Lm = g.op('Reshape', [
      g.op('Transpose', [g.op('Reshape', [pad(g, this.convertedLevels(g, L), 4, 3, C * Rc - N), g.constInt64([P, S, K, C, Rc])])], { perm: [3, 0, 1, 2, 4] }),
      g.constInt64([C, P * S * K, Rc]),
    ]);
    const core = this.exactCore(g, U, Lm, enc, { T: C, R: Rc, N: K, L: L1 }, xb.backward.adc, xb.backward.dacBits, null);
    // [K, M] → dense [B, K]; conv [B, K, L] (folded back by Col2Im).
    const acc =
      spec.kind === 'dense'
        ? g.op('Transpose', [core.acc], { perm: [1, 0] })
        : g.op('Transpose', [g.op('Reshape', [core.acc, g.constInt64([K, -1, L1])])], { perm: [1, 0, 2] });
    return { acc, lsb: core.lsb, sat: core.sat };
  }

  private fastBackward(g: GraphBuilder, spec: MvmSpec, dq: string, Wf: string, enc: InputEncoding): Conversion {
    const xb = this.cfg.xb;
    const N = spec.kind === 'dense' ? spec.N : spec.O;
    const maxCode = adcMaxCode(xb.backward.adc, true);
    const worst = N * enc.qmax * weightQmax(xb);
    // Backward ranges are never fed: `a` is a constant.
    const step = this.step(g, xb.backward.adc, maxCode, worst, xb.backward.dacBits, null, false);
    const a = step.a as number;
    let di: string;
    if (spec.kind === 'dense') {
      di = g.op('Gemm', [dq, Wf], a === 1 ? { transB: 1 } : { transB: 1, alpha: f(a) });
    } else {
      const k = this.kernel(g, spec, Wf);
      // The input gradient's form for the shape, as the ideal engine's (engine/mvm.ts).
      di = CONV_INPUT_GRADS[inputGradForm(spec)](g, spec, dq, a === 1 ? k : g.op('Mul', [k, g.scalar(a)]));
    }
    const { b, lsb } = step.finish(() => g.op('Abs', [subsample(g, di, spec.kind === 'dense' ? spec.K : spec.C * spec.H * spec.W)]));
    const { code, sat } = convert(g, di, step, b, xb.backward.adc, maxCode, true, false);
    return { acc: code, lsb, sat };
  }

  backwardWeight(g: GraphBuilder, spec: MvmSpec, dy: string, x: string, fwd: MvmForward): string {
    // Digital: xᵀ·dy on float values (through the forward's saturation mask).
    const masked = straightThrough(g, dy, fwd);
    return idealMvm.backwardWeight(g, spec, masked, x, { y: fwd.y, saved: {} });
  }
}

interface Conversion {
  /** Integer-domain result (ADC codes shift-added), to be multiplied by lsb × scales. */
  acc: string;
  lsb: string;
  /** 1 where a conversion saturated. */
  sat: string;
  /** Straight-through mask on the layer output (0 where an ADC saturated). */
  mask?: string;
  /** The same as a bool tensor (true where no ADC saturated), where that is cheaper to produce. */
  keep?: string;
  /** In-graph full-scale estimate (dynamic calibrate ranges). */
  fullScale?: string;
}

// ---- helpers ---------------------------------------------------------------------------------

function convAttrs(s: ConvMvmSpec): Record<string, number[]> {
  return { kernel_shape: [...s.kernel], strides: [...s.stride], pads: [...s.pads] };
}

/** Folded [K, N] matrix as a conv kernel [O, C, kh, kw]. */
function foldedKernel(g: GraphBuilder, s: ConvMvmSpec, Wf: string): string {
  return g.op('Reshape', [g.op('Transpose', [Wf], { perm: [1, 0] }), g.constInt64([s.O, s.C, s.kernel[0], s.kernel[1]])]);
}

/** Zero-pad `extra` entries at the end of `axis` of a rank-`rank` tensor. */
function pad(g: GraphBuilder, t: string, rank: number, axis: number, extra: number): string {
  if (extra <= 0) return t;
  const pads = new Array<number>(2 * rank).fill(0);
  pads[rank + axis] = extra;
  return g.op('Pad', [t, g.constInt64(pads)]);
}

/** Slice levels [2, S, K, N] of the stored unsigned integers U [2, K, N] (cell_bits each, LSB slice first), by integer bit operations. */
function sliceLevels(g: GraphBuilder, U: string, cellBits: number, S: number): string {
  const u32 = g.op('Unsqueeze', [g.op('Cast', [U], { to: DataType.UINT32 }), g.constInt64([1])]); // [2, 1, K, N]
  const shifts = g.constUint32(
    Array.from({ length: S }, (_, s) => s * cellBits),
    [1, S, 1, 1],
  );
  const level = g.op('BitwiseAnd', [g.op('BitShift', [u32, shifts], { direction: 'RIGHT' }), g.constUint32([2 ** cellBits - 1], [])]);
  return g.op('Cast', [level], { to: DataType.FLOAT });
}

/** An ADC step being built (CrossbarMvm `step`): LSB = b/a level units. */
interface StepPlan {
  /** Multiplier of the partial sums: a constant or a scalar tensor. */
  a: number | string;
  /** Divide in float64 (`x` unscaled) rather than float32 (`x` already n·a). */
  f64: boolean;
  /** The divisor b, the float32 step b/a and (in-graph ranges) the full scale, from the observed (scaled) sums. */
  finish(observed?: () => string): { b: number | string; lsb: string; fullScale?: string };
}

const scalarOf = (g: GraphBuilder, v: number | string): string => (typeof v === 'number' ? g.scalar(v) : v);

/** A fed step [a, b, s] (`sideName(…, 'step')`, exact-int.ts `fedStep`) as three scalar tensors. */
function fedStepInputs(g: GraphBuilder, layer: string): { a: string; b: string; s: string } {
  const t = side(g, layer, 'step', [3]);
  const at = (i: number): string => g.op('Gather', [t, g.constInt64([i], [])], { axis: 0 });
  return { a: at(0), b: at(1), s: at(2) };
}

/**
 * The ADC's rounded, unclipped code: round_half_even(n·a/b · (1 + gain) + offset + INL). With an
 * ideal transfer this is the real quotient rounded ties to even (the conditions of `step`):
 * float32 divides `x` = n·a by b with a Div (IEEE: correctly rounded), float64 computes n·a/b from
 * `x` = n. Never a product with a float32 reciprocal of the step: 1/LSB is inexact (LSB = 8/7,
 * n = 4: 4·float32(1/float32(8/7)) = 3.4999998, so the tie 3.5 fell to 3). ORT folds a Div by a
 * constant scalar that directly follows a MatMul into the GEMM as a product with 1/b
 * (MatMulScaleFusion); `guard` (for `x` straight from a MatMul) divides a flattened view, which it
 * cannot fold. `adc.rounding = truncate` takes the code toward zero instead (Floor of a
 * non-negative value, Sign·Floor(|·|) of a signed one): ⌊I/LSB⌋ for a current.
 */
function adcRound(g: GraphBuilder, x: string, step: StepPlan, b: number | string, adc: AdcSpec, maxCode: number, signed: boolean, guard: boolean): string {
  const ideal = adc.gainError === 0 && adc.inl === 0 && adc.offset === 0;
  const toCode = (v: string): string => codeOf(g, v, adc.rounding, signed);
  let pre: string;
  let shaped: string | null = null;
  if (step.f64) {
    const d = (v: number | string): string => g.op('Cast', [scalarOf(g, v)], { to: DataType.DOUBLE });
    let q = g.op('Cast', [x], { to: DataType.DOUBLE });
    if (step.a !== 1) q = g.op('Mul', [q, d(step.a)]);
    if (b !== 1) q = g.op('Div', [q, d(b)]);
    if (ideal) return g.op('Cast', [toCode(q)], { to: DataType.FLOAT });
    pre = g.op('Cast', [q], { to: DataType.FLOAT });
  } else if (b === 1) {
    pre = x;
  } else {
    shaped = guard && typeof b === 'number' ? x : null;
    pre = g.op('Div', [shaped ? g.op('Reshape', [x, g.constInt64([-1])]) : x, scalarOf(g, b)]);
  }
  if (adc.gainError !== 0) pre = g.op('Mul', [pre, g.scalar(1 + adc.gainError)]);
  if (adc.inl !== 0) {
    // Parabolic INL, peak `inl` LSB at mid-scale: inl · 4·t·(1 − t), t = |pre| / full scale.
    const t = g.op('Div', [g.op('Abs', [pre]), g.scalar(maxCode)]);
    const bow = g.op('Mul', [g.op('Mul', [t, g.op('Sub', [g.scalar(1), t])]), g.scalar(4 * adc.inl)]);
    pre = g.op('Add', [pre, signed ? g.op('Mul', [bow, g.op('Sign', [pre])]) : bow]);
  }
  if (adc.offset !== 0) pre = g.op('Add', [pre, g.scalar(adc.offset)]);
  const r = toCode(pre);
  return shaped ? g.op('Reshape', [r, g.op('Shape', [shaped])]) : r;
}

/** The integer code of a real quotient: nearest (ties to even), or truncated toward zero. */
function codeOf(g: GraphBuilder, v: string, rounding: AdcSpec['rounding'], signed: boolean): string {
  if (rounding === 'nearest') return g.op('Round', [v]);
  if (!signed) return g.op('Floor', [v]);
  return g.op('Mul', [g.op('Sign', [v]), g.op('Floor', [g.op('Abs', [v])])]);
}

/** ADC: code = clip(`adcRound`, lo, maxCode); sat = 1 where it clipped high. */
function convert(
  g: GraphBuilder,
  x: string,
  step: StepPlan,
  b: number | string,
  adc: AdcSpec,
  maxCode: number,
  signed: boolean,
  guard: boolean,
): { code: string; sat: string } {
  const r = adcRound(g, x, step, b, adc, maxCode, signed, guard);
  const code = g.op('Clip', [r, g.scalar(signed ? -maxCode : 0), g.scalar(maxCode)]);
  const sat = g.op('Cast', [g.op('Greater', [signed ? g.op('Abs', [r]) : r, g.scalar(maxCode)])], { to: DataType.FLOAT });
  return { code, sat };
}

/** dy through the forward's straight-through saturation mask (once per graph), or dy. */
function straightThrough(g: GraphBuilder, dy: string, fwd: MvmForward): string {
  const keep = fwd.saved['keep'];
  const mask = fwd.saved['mask'];
  if (!keep && !mask) return dy;
  const memo = g.context(CrossbarEmission).masked;
  const key = `${dy}|${keep ?? mask}`;
  let out = memo.get(key);
  if (!out) {
    // The mask is made in the forward pass (`early`), not when backward first reads it.
    g.early(keep ?? mask!);
    out = keep ? g.op('Where', [keep, dy, g.scalar(0)]) : g.op('Mul', [dy, mask!]);
    memo.set(key, out);
  }
  return out;
}

/**
 * A strided subsample (≤ about 1024 values per sample) of a tensor, flattened: where `calibrate`
 * ranges are measured in-graph, the percentile is estimated on it (TopK over every partial sum of
 * a large batch would cost more than the layer's GEMM).
 */
function subsample(g: GraphBuilder, t: string, perSample: number): string {
  const flat = g.op('Reshape', [t, g.constInt64([-1])]);
  const stride = Math.max(1, Math.floor(perSample / 1024));
  if (stride === 1) return flat;
  // An odd stride avoids aliasing with power-of-two strides of the layout.
  const s = stride % 2 === 0 ? stride + 1 : stride;
  return g.op('Slice', [flat, g.constInt64([0]), g.constInt64([Number.MAX_SAFE_INTEGER]), g.constInt64([0]), g.constInt64([s])]);
}

/** The p-quantile of a flat tensor: the smallest of its top ⌈n·(1 − p)⌉ values (TopK). */
function quantile(g: GraphBuilder, flat: string, p: number): string {
  const len = g.op('Cast', [g.op('Shape', [flat])], { to: DataType.FLOAT });
  const k = g.op('Cast', [g.op('Max', [g.op('Ceil', [g.op('Mul', [len, g.scalar(1 - p)])]), g.constFloat([1])])], { to: DataType.INT64 });
  const [top] = g.node('TopK', [flat, k], { axis: 0 }, 2);
  return g.op('ReduceMin', [top!], { keepdims: 0 });
}
