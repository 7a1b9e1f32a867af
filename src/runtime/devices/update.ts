/**
 * Device update models (MODELS.md §3): how a requested conductance change ΔG lands on a cell.
 * Pure functions on conductance arrays (S); every random draw comes from the Rng passed in, so a
 * run is reproducible bit for bit.
 *
 *  - `ideal`:         G ← G + ΔG.
 *  - `txsim(v, γ, noise, nonlinearity, pulses)`: the CrossSim ASYM asymmetric nonlinearity with
 *                     exponent v·pulses over the range [G_min, G_max] (Chen et al.'s exponential pulse
 *                     curve with A = 1/v pulses on a device of `pulses` pulses, in the continuum limit), then TxSim write noise N(0, σ²). TxSim (MODELS.md §3) draws the
 *                     noise on the conductance gradient before the learning rate, ΔG_grad = ΔG/LR
 *                     (ΔG the requested step, LR the step's learning rate: UpdateOptions.lr), and writes
 *                     LR·ΔG_nonideal: σ = LR·γ·sqrt((G_max − G_min)·|ΔG/LR|) (noise = gradient). With
 *                     noise = step the formula is applied to the step itself, σ = γ·sqrt((G_max − G_min)·|ΔG|)
 *                     (xbarc's earlier form; ≈ 1/sqrt(LR) times stronger). The normals come from a
 *                     Philox4x32-10 / Box–Muller stream (philox.ts) keyed per call by two uint32 of the Rng.
 *  - `nonlinear(ltp, ltd, c2c, d2d)`: the NeuroSim pulse model. The state is a pulse number
 *                     P ∈ [0, P_max], P_max = levels − 1, on the curve
 *                     G(P) = G_min + B·(1 − e^(−P/A)), B = (G_max − G_min)/(1 − e^(−P_max/A)),
 *                     A = sign(α)·A_norm(|α|)·P_max. Potentiation uses A_LTP, depression A_LTD: the
 *                     current P is read back from G through the curve of the update's direction,
 *                     n = round(ΔG / ((G_max − G_min)/P_max)) pulses are added, and G is the curve at
 *                     P + n. A positive label gives the saturating (concave) curve, a negative one the
 *                     flipped (convex) curve — NeuroSim's convention, in which the usual saturating
 *                     depression carries a negative LTD label (Ag:a-Si: 2.4 / −4.88). MODELS.md's
 *                     G_LTD(P) = −B(1 − e^((P−P_max)/A)) + G_max with A = A_norm(|α|)·P_max is exactly
 *                     this curve for a negative label. α = 0 is linear. C2C: N(0, (c2c·(G_max−G_min))²·|n|)
 *                     added per update of n pulses (NeuroSim; one pulse: σ = c2c of the range). D2D:
 *                     each device's labels are α + N(0, d2d²), drawn once (deviceState).
 *  - `constant_step`, `soft_bounds`, `exp_step`, `pow_step`: aihwkit's pulsed devices, on a weight
 *                     w ∈ [w_min, w_max] mapped linearly onto [G_min, G_max]; the update is
 *                     n = round(|Δw| / dw_min) pulses, each Δw = scale·f(w)·(1 + dw_min_std·ξ), clipped.
 *                     Per-device scales (drawn once): gain = 1 + dw_min_dtod·ξ, up_down biases
 *                     scale_up = dw_min·gain·(up_down > 0 ? 1 : 1 + up_down),
 *                     scale_down = dw_min·gain·(up_down > 0 ? 1 − up_down : 1).
 *
 * Bounds: every model keeps G within [G_min, G_max]. Level grid: `ideal` and `txsim` snap the
 * result to the `levels` evenly spaced states G_min + k·(G_max − G_min)/(levels − 1) (nearest, or
 * stochastic rounding); the pulse models move on their own pulse grids (NeuroSim's curve points,
 * aihwkit's dw_min steps), which noise moves off the grid, as in the originals.
 */

import type { AihwkitStepParams, DeviceSpec, TxsimScope, UpdateModelSpec } from '../../model/crossbar.js';

import { fillNormalsJs } from '../philox.js';
import { fillNormalsWasm } from '../philox-wasm.js';
import { Rng } from '../rng.js';
import { drawNormals, drawUniforms, warmUpDraws } from './draws.js';

export interface ConductanceRange {
  gMin: number;
  gMax: number;
  /** Number of programmable states (≥ 2); absent or 0 for a continuum. */
  levels?: number | undefined;
}

/** The update models (plan contract, src/model/crossbar.ts). */
export type UpdateModel = UpdateModelSpec;
export type { AihwkitStepParams };

export interface UpdateOptions {
  /** Snapping to the level grid (ideal, txsim): nearest level (default) or stochastic rounding. */
  rounding?: 'nearest' | 'stochastic';
  /**
   * The learning rate the requested changes were scaled by (ΔG = LR·gradient, > 0): txsim's write
   * noise (noise = gradient) acts on ΔG/LR (MODELS.md §3). 1: the request is the gradient itself.
   */
  lr?: number;
}

/** Per-device parameters drawn once (device-to-device variation of the update); fixed once made (the kernels cache constants derived from aLtp / aLtd). */
export interface DeviceState {
  /** nonlinear: the per-device A of LTP and LTD (in pulses). */
  aLtp?: Float64Array;
  aLtd?: Float64Array;
  /** aihwkit models: per-device up and down step scales (weight units). */
  scaleUp?: Float64Array;
  scaleDown?: Float64Array;
}

// ---- NeuroSim nonlinearity labels ------------------------------------------------------------

/** NeuroSim's anchors α → A_norm (MODELS.md §3). */
export const A_NORM_ANCHORS: ReadonlyArray<readonly [number, number]> = [
  [0.01, 126.269],
  [0.04, 31.567],
  [0.1, 12.626],
  [0.5, 2.52],
  [0.61, 2.063],
  [0.63, 1.997],
  [1.0, 1.2517],
  [1.46, 0.8487],
  [1.75, 0.7021],
  [1.94, 0.6292],
  [2.4, 0.4992],
  [3.68, 0.3006],
  [4.88, 0.2003],
  [6.76, 0.1003],
  [9.0, 0.0228],
];

/**
 * A_norm(α) for α > 0: exact at the anchors, piecewise linear in log α – log A between them
 * (monotone decreasing), 1.26269/α below the first anchor, the last segment's slope beyond 9.
 */
export function aNorm(alpha: number): number {
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new RangeError(`nonlinearity label must be a positive finite number, got ${alpha}`);
  const a = A_NORM_ANCHORS;
  if (alpha <= a[0]![0]) return (a[0]![1] * a[0]![0]) / alpha;
  let k = 1;
  while (k < a.length - 1 && alpha > a[k]![0]) k++;
  const [x0, y0] = a[k - 1]!;
  const [x1, y1] = a[k]!;
  const t = (Math.log(alpha) - Math.log(x0)) / (Math.log(x1) - Math.log(x0));
  return Math.exp(Math.log(y0) + t * (Math.log(y1) - Math.log(y0)));
}

/** Signed A (in pulses) of a label: sign(α)·A_norm(|α|)·P_max; Infinity for α = 0 (linear). */
export function paramA(alpha: number, pMax: number): number {
  if (alpha === 0) return Infinity;
  return Math.sign(alpha) * aNorm(Math.abs(alpha)) * pMax;
}

/** NeuroSim curve: G(P) = G_min + (G_max − G_min)·(1 − e^(−P/A))/(1 − e^(−P_max/A)); linear for A = ±∞. */
export function pulseCurve(p: number, a: number, pMax: number, gMin: number, gMax: number): number {
  if (p <= 0) return gMin;
  if (p >= pMax) return gMax;
  if (!Number.isFinite(a)) return gMin + ((gMax - gMin) * p) / pMax;
  return gMin + ((gMax - gMin) * -Math.expm1(-p / a)) / -Math.expm1(-pMax / a);
}

/** Inverse of pulseCurve: the (real) pulse number of a conductance, clamped to [0, P_max]. */
export function pulseOf(g: number, a: number, pMax: number, gMin: number, gMax: number): number {
  const x = Math.min(1, Math.max(0, (g - gMin) / (gMax - gMin)));
  if (!Number.isFinite(a)) return x * pMax;
  // x = (1 − e^(−P/A)) / (1 − e^(−Pmax/A))  ⇒  P = −A·ln(1 − x·(1 − e^(−Pmax/A)))
  const p = -a * Math.log1p(x * Math.expm1(-pMax / a));
  return Math.min(pMax, Math.max(0, p));
}

// ---- TxSim / CrossSim ASYM -------------------------------------------------------------------

/**
 * CrossSim ASYM nonlinearity (MODELS.md §3) on w ∈ [w_min, w_max]: the applied change Δ' for a
 * requested Δ. w0 = (w_max−w_min)/(1−e^(−v)), d = Δ/(w_max−w_min);
 * Δ > 0: Δ' = (w0 + w_min − w)(1 − e^(−v·d));  Δ ≤ 0: Δ' = (w_max − w0 − w)(1 − e^(v·d)). v = 0: Δ' = Δ.
 */
export function asymDelta(w: number, delta: number, v: number, wMin: number, wMax: number): number {
  if (v === 0) return delta;
  const range = wMax - wMin;
  const w0 = range / -Math.expm1(-v);
  const d = delta / range;
  return delta > 0 ? (w0 + wMin - w) * -Math.expm1(-v * d) : (wMax - w0 - w) * -Math.expm1(v * d);
}

/**
 * TxSim write-noise σ of the applied change for a requested step ΔG made with learning rate LR
 * (MODELS.md §3): noise = gradient: LR·γ·sqrt((G_max − G_min)·|ΔG/LR|) (the noise of the gradient
 * ΔG/LR, scaled by LR as the step is); noise = step: γ·sqrt((G_max − G_min)·|ΔG|).
 */
export function writeNoiseSigma(gamma: number, dG: number, range: ConductanceRange, lr = 1, noise: TxsimScope = 'gradient'): number {
  const span = range.gMax - range.gMin;
  return noise === 'step' ? gamma * Math.sqrt(span * Math.abs(dG)) : lr * gamma * Math.sqrt(span * Math.abs(dG / lr));
}

/** The factor f of the txsim kernel's σ = f·sqrt(|ΔG|): γ·sqrt(LR·(G_max − G_min)) (gradient) or γ·sqrt(G_max − G_min) (step). */
function noiseFactor(gamma: number, span: number, lr: number, noise: TxsimScope): number {
  return gamma * Math.sqrt((noise === 'step' ? 1 : lr) * span);
}

// ---- device state ----------------------------------------------------------------------------

function checkRange(r: ConductanceRange): void {
  if (!(r.gMin >= 0 && r.gMax > r.gMin && Number.isFinite(r.gMax)))
    throw new RangeError(`conductance range must satisfy 0 ≤ G_min < G_max, got [${r.gMin}, ${r.gMax}]`);
  if (r.levels !== undefined && r.levels !== 0 && !(Number.isInteger(r.levels) && r.levels >= 2))
    throw new RangeError(`levels must be an integer ≥ 2 (or 0 for a continuum), got ${r.levels}`);
}

function pMaxOf(r: ConductanceRange): number {
  if (!r.levels || r.levels < 2) throw new RangeError('the nonlinear (NeuroSim) update model needs levels ≥ 2 (its pulse grid)');
  return r.levels - 1;
}

/** Draw the per-device parameters of `count` devices (device-to-device variation), once. */
export function createDeviceState(model: UpdateModel, range: ConductanceRange, count: number, rng: Rng): DeviceState {
  checkRange(range);
  switch (model.kind) {
    case 'ideal':
    case 'txsim':
      return {};
    case 'nonlinear': {
      const pMax = pMaxOf(range);
      const aLtp = new Float64Array(count);
      const aLtd = new Float64Array(count);
      for (let k = 0; k < count; k++) {
        // NeuroSim: the label (not A) varies device to device; a label that crosses 0 flips sign.
        const ltp = model.d2d > 0 ? model.ltp + model.d2d * rng.normal() : model.ltp;
        const ltd = model.d2d > 0 ? model.ltd + model.d2d * rng.normal() : model.ltd;
        aLtp[k] = paramA(ltp, pMax);
        aLtd[k] = paramA(ltd, pMax);
      }
      return { aLtp, aLtd };
    }
    default: {
      const upDown = model.up_down ?? 0;
      const dtod = model.dw_min_dtod ?? 0;
      const scaleUp = new Float64Array(count);
      const scaleDown = new Float64Array(count);
      for (let k = 0; k < count; k++) {
        const gain = Math.max(0, 1 + (dtod > 0 ? dtod * rng.normal() : 0));
        scaleUp[k] = model.dw_min * gain * (upDown > 0 ? 1 : 1 + upDown);
        scaleDown[k] = model.dw_min * gain * (upDown > 0 ? 1 - upDown : 1);
      }
      return { scaleUp, scaleDown };
    }
  }
}

// ---- the update ------------------------------------------------------------------------------
//
// Every model runs as one tight loop over typed arrays per call (no per-element dispatch, its
// constants computed once), on a list of the devices whose requested change is not zero: a zero
// request never changes a device nor draws a random number in any model, so the devices it skips
// are exactly the ones the element-by-element definition leaves alone. The random draws of a call
// (write noise, C2C noise, pulse noise, stochastic rounding) come from the stream in bulk
// (draws.ts), in the order of the definition: device by device, pulse by pulse.

type Conductances = Float64Array | Float32Array;

/**
 * Requested changes of some devices: entry i asks device `base + idx[i]` for sign·req[i] (S);
 * idx ascending (the order the random draws follow), entries 0 … count − 1.
 */
export interface UpdateList {
  idx: Int32Array;
  req: Float64Array;
  count: number;
}

/** Kernel scratch, grown on demand and kept (no allocation per step once warm). */
const scratch: {
  idx: Int32Array;
  req: Float64Array;
  active: Int32Array;
  pulses: Float64Array;
  draws: Float64Array;
  draws2: Float64Array;
  normals: Float32Array;
  gathered: Float64Array;
} = {
  idx: new Int32Array(0),
  req: new Float64Array(0),
  /** Active entries (a pulse model's devices with ≥ 1 pulse) and their signed pulse counts. */
  active: new Int32Array(0),
  pulses: new Float64Array(0),
  draws: new Float64Array(0),
  draws2: new Float64Array(0),
  /** txsim's write-noise normals (float32, from the Philox stream). */
  normals: new Float32Array(0),
  /** nonlinearLoop's per-device inputs (A, e, G), gathered in one pass before the arithmetic. */
  gathered: new Float64Array(0),
};

function grownF64(a: Float64Array, n: number): Float64Array {
  return a.length >= n ? a : new Float64Array(Math.max(n, 2 * a.length));
}

function grownF32(a: Float32Array, n: number): Float32Array {
  return a.length >= n ? a : new Float32Array(Math.max(n, 2 * a.length));
}

function grownI32(a: Int32Array, n: number): Int32Array {
  return a.length >= n ? a : new Int32Array(Math.max(n, 2 * a.length));
}

/** Per-device e^(−P_max/A) − 1 of the NeuroSim curves, filled as devices are first updated (NaN: not yet). */
const curveConstants = new WeakMap<Float64Array, { pMax: number; e: Float64Array }>();

function curveConstantsOf(a: Float64Array, pMax: number): Float64Array {
  let c = curveConstants.get(a);
  if (!c || c.pMax !== pMax) {
    c = { pMax, e: new Float64Array(a.length).fill(Number.NaN) };
    curveConstants.set(a, c);
  }
  return c.e;
}

type PulsedModel = Exclude<UpdateModel, { kind: 'ideal' } | { kind: 'txsim' } | { kind: 'nonlinear' }>;

/** The model's own parameter checks (before any device changes). */
function checkModel(model: UpdateModel, range: ConductanceRange): void {
  if (model.kind === 'nonlinear') pMaxOf(range);
  else if (model.kind === 'txsim') {
    if (!(model.pulses >= 1 && Number.isFinite(model.pulses))) throw new RangeError(`txsim: pulses must be a finite number ≥ 1, got ${model.pulses}`);
  } else if (model.kind !== 'ideal') {
    if (!(model.dw_min > 0) || !(model.w_max > model.w_min)) throw new RangeError(`${model.kind}: needs dw_min > 0 and w_min < w_max`);
  }
}

/**
 * The dead band of a model (S): a request with |ΔG| below it changes no device and draws nothing —
 * the pulse models round it to 0 pulses (|ΔG| < half NeuroSim's pulse step; |Δw| < dw_min/2) —
 * so a caller may drop it unseen. Conservative: 2 % inside the rounding threshold, so that the
 * rounding of a caller's own arithmetic on the way to |ΔG| cannot cross it. 0 where every non-zero
 * request acts (ideal, txsim).
 */
export function deadBand(model: UpdateModel, range: ConductanceRange): number {
  const span = range.gMax - range.gMin;
  const margin = 0.98;
  if (model.kind === 'ideal' || model.kind === 'txsim') return 0;
  if (model.kind === 'nonlinear') return range.levels && range.levels >= 2 ? (margin * span) / (range.levels - 1) / 2 : 0;
  return model.dw_min > 0 && model.w_max > model.w_min ? (margin * (model.dw_min / 2) * span) / (model.w_max - model.w_min) : 0;
}

/**
 * Apply requested changes dG to conductances g (both length n); writes the new conductances to
 * `out` (default: g itself, in place) and returns it. `state` holds per-device parameters
 * (createDeviceState); it is created without variation when absent and the model needs it.
 * A device whose request is 0 keeps its conductance and draws no random number.
 */
export function applyUpdate(
  g: Conductances,
  dG: ArrayLike<number>,
  model: UpdateModel,
  range: ConductanceRange,
  rng: Rng,
  state?: DeviceState,
  opts: UpdateOptions = {},
  out: Conductances = g,
): Conductances {
  checkRange(range);
  const n = g.length;
  if (dG.length !== n || out.length !== n) throw new RangeError(`applyUpdate: G has ${n} values, ΔG ${dG.length}, out ${out.length}`);
  checkModel(model, range);
  if (!warm) warmUp(); // before this call fills the shared scratch list
  let st = state ?? {};
  if (model.kind === 'nonlinear') {
    st = state?.aLtp ? state : createDeviceState({ ...model, d2d: 0 }, range, n, rng);
    if (st.aLtp!.length !== n) throw new RangeError(`device state holds ${st.aLtp!.length} devices, the update ${n}`);
  } else if (model.kind !== 'ideal' && model.kind !== 'txsim') {
    st = state?.scaleUp ? state : createDeviceState({ ...model, dw_min_dtod: 0 } as UpdateModel, range, n, rng);
    if (st.scaleUp!.length !== n) throw new RangeError(`device state holds ${st.scaleUp!.length} devices, the update ${n}`);
  }
  if (out !== g) for (let k = 0; k < n; k++) out[k] = g[k]!;
  const idx = (scratch.idx = grownI32(scratch.idx, n));
  const req = (scratch.req = grownF64(scratch.req, n));
  let count = 0;
  for (let k = 0; k < n; k++) {
    const d = dG[k]!;
    if (d === 0) continue;
    idx[count] = k;
    req[count] = d;
    count++;
  }
  applyUpdateList(g, out, 0, { idx, req, count }, 1, model, range, rng, st, opts.rounding ?? 'nearest', opts.lr ?? 1);
  return out;
}

/**
 * The update of a list of devices (UpdateList): device k = base + idx[i] of `src` gets the
 * request sign·req[i] and its new conductance goes to dst[k] (src and dst may be the same
 * array); devices not in the list are not touched. `state` must hold the per-device parameters the
 * model needs (createDeviceState over all devices of src), indexed like src. `lr` (> 0) is the
 * learning rate the requests were scaled by (UpdateOptions.lr).
 */
export function applyUpdateList(
  src: Conductances,
  dst: Conductances,
  base: number,
  list: UpdateList,
  sign: 1 | -1,
  model: UpdateModel,
  range: ConductanceRange,
  rng: Rng,
  state: DeviceState,
  rounding: 'nearest' | 'stochastic' = 'nearest',
  lr = 1,
): void {
  checkRange(range);
  checkModel(model, range);
  if (!(lr > 0 && Number.isFinite(lr))) throw new RangeError(`the learning rate of an update must be a positive finite number, got ${lr}`);
  if (!warm) warmUp();
  if (list.count === 0) return;
  const last = base + list.idx[list.count - 1]!;
  if (last >= src.length || last >= dst.length) throw new RangeError(`applyUpdateList: device ${last} beyond ${Math.min(src.length, dst.length)} devices`);
  const stochastic = rounding === 'stochastic' && (range.levels ?? 0) >= 2;
  switch (model.kind) {
    case 'ideal':
      if (stochastic) idealStochastic(src, dst, base, list, sign, range, rng);
      else idealNearest(src, dst, base, list, sign, range);
      return;
    case 'txsim':
      txsimUpdate(
        src,
        dst,
        base,
        list,
        sign,
        // the exponent over the whole range: v per pulse times the pulses (pulses = 1: v itself, exactly)
        model.v * model.pulses,
        model.nonlinearity === 'gradient' ? lr : 1,
        noiseFactor(model.gamma, range.gMax - range.gMin, lr, model.noise),
        range,
        rng,
        stochastic,
      );
      return;
    case 'nonlinear': {
      if (!state.aLtp || !state.aLtd || state.aLtp.length <= last || state.aLtd.length <= last)
        throw new RangeError(`device state holds ${state.aLtp?.length ?? 0} devices, the update reaches device ${last}`);
      nonlinearUpdate(src, dst, base, list, sign, model.c2c, range, rng, state.aLtp, state.aLtd);
      return;
    }
    default: {
      if (!state.scaleUp || !state.scaleDown || state.scaleUp.length <= last || state.scaleDown.length <= last)
        throw new RangeError(`device state holds ${state.scaleUp?.length ?? 0} devices, the update reaches device ${last}`);
      pulsedUpdate(src, dst, base, list, sign, model, range, rng, state.scaleUp, state.scaleDown);
    }
  }
}

// Each hot loop below sits alone in its function, with nothing after it but `return` (and the
// kernels run once on tiny inputs of every model before their first real call: warmUp). V8
// compiles a function's first long loop while it runs (OSR) from the type feedback gathered so
// far; code that has never run — after the loop, or a variant's branch — would bail out of that
// compiled loop on every later call.

/** Entries whose request sign·req[i] is not 0 (each draws one value in the models that draw per device). */
function countNonZero(list: UpdateList, sign: number): number {
  const { req, count } = list;
  let n = 0;
  for (let i = 0; i < count; i++) if (sign * req[i]! !== 0) n++;
  return n;
}

/** Whether some entry's request sign·req[i] is not 0 (usually the first). */
function hasNonZero(list: UpdateList, sign: number): boolean {
  const { req, count } = list;
  for (let i = 0; i < count; i++) if (sign * req[i]! !== 0) return true;
  return false;
}

/** `ideal`, nearest level: G ← snap(G + ΔG). */
function idealNearest(src: Conductances, dst: Conductances, base: number, list: UpdateList, sign: number, range: ConductanceRange): void {
  const { idx, req, count } = list;
  const { gMin, gMax } = range;
  const levels = range.levels && range.levels >= 2 ? range.levels : 0;
  const top = levels - 1;
  const step = levels ? (gMax - gMin) / (levels - 1) : 0;
  for (let i = 0; i < count; i++) {
    const k = base + idx[i]!;
    const d = sign * req[i]!;
    if (d === 0) continue;
    const c = Math.min(gMax, Math.max(gMin, src[k]! + d));
    if (!levels) {
      dst[k] = c;
      continue;
    }
    const q = Math.min(top, Math.max(0, Math.round((c - gMin) / step)));
    dst[k] = q === top ? gMax : gMin + q * step;
  }
}

/** `ideal`, stochastic rounding to the level grid: one uniform draw per changed device. */
function idealStochastic(src: Conductances, dst: Conductances, base: number, list: UpdateList, sign: number, range: ConductanceRange, rng: Rng): void {
  const draws = countNonZero(list, sign);
  const u = (scratch.draws = grownF64(scratch.draws, draws));
  drawUniforms(rng, u, draws);
  idealStochasticLoop(src, dst, base, list, sign, range, u);
}

function idealStochasticLoop(
  src: Conductances,
  dst: Conductances,
  base: number,
  list: UpdateList,
  sign: number,
  range: ConductanceRange,
  u: Float64Array,
): void {
  const { idx, req, count } = list;
  const { gMin, gMax } = range;
  const levels = range.levels!;
  const top = levels - 1;
  const step = (gMax - gMin) / (levels - 1);
  let j = 0;
  for (let i = 0; i < count; i++) {
    const k = base + idx[i]!;
    const d = sign * req[i]!;
    if (d === 0) continue;
    const c = Math.min(gMax, Math.max(gMin, src[k]! + d));
    const x = (c - gMin) / step;
    const q = Math.min(top, Math.max(0, Math.floor(x) + (u[j++]! < x - Math.floor(x) ? 1 : 0)));
    dst[k] = q === top ? gMax : gMin + q * step;
  }
}

/**
 * `txsim(v, γ, noise)`: G ← snap(G' + Δ'(G') + f·sqrt(|ΔG|)·ξ), G' = G clipped to the range, Δ' the
 * ASYM change (asymDelta), f = noiseFactor (so f·sqrt(|ΔG|) = writeNoiseSigma). Draws, when γ > 0
 * and some request is not 0: two uint32 of `rng` (the key k0, k1 of this call's Philox stream),
 * then element j of that stream (float32 Box–Muller, philox.ts) is ξ of the j-th changed device;
 * then, when rounding stochastically, one rng.uniform() per changed device.
 */
function txsimUpdate(
  src: Conductances,
  dst: Conductances,
  base: number,
  list: UpdateList,
  sign: number,
  v: number,
  lrNl: number,
  noise: number,
  range: ConductanceRange,
  rng: Rng,
  stochastic: boolean,
): void {
  const noisy = noise > 0;
  // Element j of a Philox stream does not depend on how many are drawn: without stochastic
  // rounding, one element per listed device (≥ the changed ones) spares counting them. The key is
  // drawn only when some request is not 0, as the definition has it.
  const draws = stochastic ? countNonZero(list, sign) : noisy && list.count > 0 && hasNonZero(list, sign) ? list.count : 0;
  const z = (scratch.normals = grownF32(scratch.normals, noisy ? draws : 0));
  const u = (scratch.draws2 = grownF64(scratch.draws2, stochastic ? draws : 0));
  if (noisy && draws > 0) writeNoiseNormals(rng, z, draws);
  if (stochastic) drawUniforms(rng, u, draws);
  // (the fast loop sees float64 conductances only, as training has them: one element kind per array keeps its accesses monomorphic)
  if (!stochastic && (range.levels ?? 0) >= 2 && src instanceof Float64Array && dst instanceof Float64Array)
    txsimNearestLoop(src, dst, base, list, sign, v, lrNl, noise, range, z);
  else txsimLoop(src, dst, base, list, sign, v, lrNl, noise, range, z, u, stochastic);
}

/** Elements 0 … count − 1 of the Philox normal stream keyed by the next two uint32 of rng (WebAssembly SIMD where available; the same bits in JS). */
function writeNoiseNormals(rng: Rng, z: Float32Array, count: number): void {
  const k0 = rng.nextUint32();
  const k1 = rng.nextUint32();
  const out = z.length === count ? z : z.subarray(0, count);
  if (!fillNormalsWasm(out, 0, k0, k1, 0, 1)) fillNormalsJs(out, 0, k0, k1, 0, 1);
}

/** txsimNearestLoop's per-direction constants: [ASYM constant down, up, exponent factor down (v), up (−v)]. */
const TXSIM_CONSTANTS = new Float64Array(4);

/**
 * The usual case (level grid, nearest rounding), without the branches of the general loop, and
 * with two cheaper evaluations of the same functions (the hot path of a TxSim step: every device):
 *  - e^x − 1 for |x| ≤ 2^−10 (every ordinary update: x = v·ΔG/R) by its Taylor polynomial to
 *    x⁶/720 (truncation < 2e−22 relative, below half an ulp; the evaluation's rounding can differ
 *    from Math.expm1 in the last bit), Math.expm1 beyond;
 *  - Math.round(x) of x ≥ 0 as ⌊x + ½⌋ with the one correction the rounded sum needs (x + ½ rounds
 *    up to the next integer only when x is within an ulp below a half-integer), exactly Math.round.
 * A last-bit difference of Δ′ changes the snapped conductance only when G' + Δ′ + noise lies within
 * that bit of the midpoint between two levels (probability ~1e−16 per device): the kernels' test
 * compares these numbers with the reference's (Math.expm1) bit for bit.
 */
function txsimNearestLoop(
  src: Float64Array,
  dst: Float64Array,
  base: number,
  list: UpdateList,
  sign: number,
  v: number,
  lrNl: number,
  noise: number,
  range: ConductanceRange,
  z: Float32Array,
): void {
  const { idx, req, count } = list;
  const { gMin, gMax } = range;
  const span = gMax - gMin;
  const top = range.levels! - 1;
  const step = span / top;
  // asymDelta's constants: w0 = R/(1 − e^(−v)); Δ > 0: (w0 + G_min − G)·(1 − e^(−v·Δ/R)), else (G_max − w0 − G)·(1 − e^(v·Δ/R)).
  const asym = v !== 0;
  const w0 = span / -Math.expm1(-v);
  const upC = w0 + gMin;
  const downC = gMax - w0;
  const nv = -v;
  const noisy = noise > 0;
  // (d/1/R = d/R exactly: one division fewer in the usual case)
  const byStep = lrNl === 1;
  // The direction's constants by index (+up), not by a branch: the sign of an update is a coin flip to the branch predictor.
  const cOf = TXSIM_CONSTANTS;
  cOf[0] = downC;
  cOf[1] = upC;
  cOf[2] = v;
  cOf[3] = nv;
  let j = 0;
  for (let i = 0; i < count; i++) {
    const k = base + idx[i]!;
    const d = sign * req[i]!;
    if (d === 0) continue;
    const gk = Math.min(gMax, Math.max(gMin, src[k]!));
    const up = +(d > 0);
    const c0 = cOf[up]!;
    let next = gk + d;
    if (asym) {
      // nonlinearity = gradient: LR·Δ'(G, ΔG/LR) (lrNl = LR), else Δ'(G, ΔG) (lrNl = 1, where both divisions and the product are exact)
      const x = cOf[2 + up]! * (byStep ? d / span : d / lrNl / span);
      const em1 = x <= 0.0009765625 && x >= -0.0009765625 ? x * (1 + x * (0.5 + x * (1 / 6 + x * (1 / 24 + x * (1 / 120 + x * (1 / 720)))))) : Math.expm1(x);
      next = gk + lrNl * ((c0 - gk) * -em1);
    }
    if (noisy) next += noise * Math.sqrt(Math.abs(d)) * z[j]!;
    j++;
    const x = (Math.min(gMax, Math.max(gMin, next)) - gMin) / step;
    let q = Math.floor(x + 0.5);
    if (q - 0.5 > x) q--;
    if (q > top) q = top;
    dst[k] = q === top ? gMax : gMin + q * step;
  }
}

function txsimLoop(
  src: Conductances,
  dst: Conductances,
  base: number,
  list: UpdateList,
  sign: number,
  v: number,
  lrNl: number,
  noise: number,
  range: ConductanceRange,
  z: Float32Array,
  u: Float64Array,
  stochastic: boolean,
): void {
  const { idx, req, count } = list;
  const { gMin, gMax } = range;
  const span = gMax - gMin;
  const levels = range.levels && range.levels >= 2 ? range.levels : 0;
  const top = levels - 1;
  const step = levels ? (gMax - gMin) / (levels - 1) : 0;
  const asym = v !== 0;
  const w0 = span / -Math.expm1(-v);
  const upC = w0 + gMin;
  const downC = gMax - w0;
  const nv = -v;
  const noisy = noise > 0;
  let j = 0;
  for (let i = 0; i < count; i++) {
    const k = base + idx[i]!;
    const d = sign * req[i]!;
    if (d === 0) continue;
    const gk = Math.min(gMax, Math.max(gMin, src[k]!));
    const up = d > 0;
    const c0 = up ? upC : downC;
    // nonlinearity = gradient: LR·Δ'(G, ΔG/LR) (lrNl = LR), else Δ'(G, ΔG) (lrNl = 1, where both divisions and the product are exact)
    let next = gk + (asym ? lrNl * ((c0 - gk) * -Math.expm1((up ? nv : v) * (d / lrNl / span))) : d);
    if (noisy) next += noise * Math.sqrt(Math.abs(d)) * z[j]!;
    const c = Math.min(gMax, Math.max(gMin, next));
    if (!levels) dst[k] = c;
    else {
      const x = (c - gMin) / step;
      const q = Math.min(top, Math.max(0, stochastic ? Math.floor(x) + (u[j]! < x - Math.floor(x) ? 1 : 0) : Math.round(x)));
      dst[k] = q === top ? gMax : gMin + q * step;
    }
    j++;
  }
}

/**
 * `nonlinear` (NeuroSim pulses): n = round(ΔG / ((G_max − G_min)/P_max)) pulses from the pulse
 * number read back through the curve of the update's direction (pulseOf, pulseCurve), then C2C
 * noise N(0, (c2c·(G_max − G_min))²·|n|): one normal draw per device with n ≠ 0 when c2c > 0.
 */
function nonlinearUpdate(
  src: Conductances,
  dst: Conductances,
  base: number,
  list: UpdateList,
  sign: number,
  c2c: number,
  range: ConductanceRange,
  rng: Rng,
  aLtp: Float64Array,
  aLtd: Float64Array,
): void {
  const span = range.gMax - range.gMin;
  const pMax = pMaxOf(range);
  const active = (scratch.active = grownI32(scratch.active, list.count));
  const pulses = (scratch.pulses = grownF64(scratch.pulses, list.count));
  const m = nonlinearPulses(list, sign, base, span / pMax, active, pulses);
  const sigma = c2c * span;
  const z = (scratch.draws = grownF64(scratch.draws, sigma > 0 ? m : 0));
  if (sigma > 0) drawNormals(rng, z, m);
  nonlinearLoop(src, dst, active, pulses, m, sigma, range, pMax, aLtp, aLtd, curveConstantsOf(aLtp, pMax), curveConstantsOf(aLtd, pMax), z);
}

/** The devices with n = round(ΔG/step) ≠ 0 pulses (into active, pulses); returns their count. */
function nonlinearPulses(list: UpdateList, sign: number, base: number, step: number, active: Int32Array, pulsesOf: Float64Array): number {
  const { idx, req, count } = list;
  let m = 0;
  for (let i = 0; i < count; i++) {
    const pulses = Math.round((sign * req[i]!) / step);
    if (pulses === 0) continue;
    active[m] = base + idx[i]!;
    pulsesOf[m] = pulses;
    m++;
  }
  return m;
}

/**
 * The NeuroSim curve step of each active device. Its inputs (the curve's A and cached e, the
 * conductance) are first gathered in a loop of loads alone: the devices of a sparse step are
 * scattered over arrays of megabytes, and a loop without the log/exp calls keeps many of those
 * cache misses in flight at once. The arithmetic is unchanged.
 */
function nonlinearLoop(
  src: Conductances,
  dst: Conductances,
  active: Int32Array,
  pulsesOf: Float64Array,
  m: number,
  sigma: number,
  range: ConductanceRange,
  pMax: number,
  aLtp: Float64Array,
  aLtd: Float64Array,
  eLtp: Float64Array,
  eLtd: Float64Array,
  z: Float64Array,
): void {
  const gathered = (scratch.gathered = grownF64(scratch.gathered, 3 * m));
  gatherCurves(src, active, pulsesOf, m, aLtp, aLtd, eLtp, eLtd, gathered);
  const { gMin, gMax } = range;
  const span = gMax - gMin;
  for (let j = 0; j < m; j++) {
    const k = active[j]!;
    const pulses = pulsesOf[j]!;
    const up = pulses > 0;
    const a = gathered[3 * j]!;
    const linear = !Number.isFinite(a);
    let e = gathered[3 * j + 1]!;
    if (e !== e) {
      e = Math.expm1(-pMax / a);
      if (up) eLtp[k] = e;
      else eLtd[k] = e;
    }
    // pulseOf: the (real) pulse number of G on this curve
    const x = Math.min(1, Math.max(0, (gathered[3 * j + 2]! - gMin) / span));
    let p = linear ? x * pMax : Math.min(pMax, Math.max(0, -a * Math.log1p(x * e)));
    // on the curve's grid (no noise so far), keep the pulse number an exact integer
    if (Math.abs(p - Math.round(p)) < 1e-9) p = Math.round(p);
    const pNew = Math.min(pMax, Math.max(0, p + pulses));
    // pulseCurve at the new pulse number
    let next = pNew <= 0 ? gMin : pNew >= pMax ? gMax : linear ? gMin + (span * pNew) / pMax : gMin + (span * -Math.expm1(-pNew / a)) / -e;
    if (sigma > 0) next += sigma * Math.sqrt(Math.abs(pulses)) * z[j]!;
    dst[k] = Math.min(gMax, Math.max(gMin, next));
  }
}

/** nonlinearLoop's gather: per active device j, [A, e, G] of its direction at 3j. (The devices are distinct: no later write changes what is read here.) */
function gatherCurves(
  src: Conductances,
  active: Int32Array,
  pulsesOf: Float64Array,
  m: number,
  aLtp: Float64Array,
  aLtd: Float64Array,
  eLtp: Float64Array,
  eLtd: Float64Array,
  out: Float64Array,
): void {
  for (let j = 0; j < m; j++) {
    const k = active[j]!;
    const up = pulsesOf[j]! > 0;
    out[3 * j] = up ? aLtp[k]! : aLtd[k]!;
    out[3 * j + 1] = up ? eLtp[k]! : eLtd[k]!;
    out[3 * j + 2] = src[k]!;
  }
}

/** Pulse-noise draws come in chunks of whole devices, at most this many (unless one device needs more). */
const CHUNK = 1 << 16;

/** The noise of devices j, j + 1, … that fits a chunk, drawn into scratch.draws; returns the count. */
function refill(rng: Rng, pulsesOf: Float64Array, j: number, m: number): number {
  let total = 0;
  for (let i = j; i < m; i++) {
    const n = Math.abs(pulsesOf[i]!);
    const add = n > 0 ? n : 0;
    if (i > j && total + add > CHUNK) break;
    total += add;
  }
  scratch.draws = grownF64(scratch.draws, total);
  drawNormals(rng, scratch.draws, total);
  return total;
}

/** The parameters of one pulsed update, for the per-shape loops. */
interface PulseRun {
  src: Conductances;
  dst: Conductances;
  active: Int32Array;
  /** Signed pulse counts (up > 0). */
  pulses: Float64Array;
  count: number;
  scaleUp: Float64Array;
  scaleDown: Float64Array;
  gMin: number;
  gMax: number;
  span: number;
  wMin: number;
  wMax: number;
  wSpan: number;
  std: number;
  rng: Rng;
}

/**
 * aihwkit's pulsed devices on w ∈ [w_min, w_max] (G mapped linearly): n = round(|Δw| / dw_min)
 * pulses (capped), each Δw = ±scale·f(w)·(1 + dw_min_std·ξ), clipped after each pulse; one normal
 * draw per pulse when dw_min_std > 0. One loop per step shape f (stepShape).
 */
function pulsedUpdate(
  src: Conductances,
  dst: Conductances,
  base: number,
  list: UpdateList,
  sign: number,
  m: PulsedModel,
  range: ConductanceRange,
  rng: Rng,
  scaleUp: Float64Array,
  scaleDown: Float64Array,
): void {
  const { gMin, gMax } = range;
  const span = gMax - gMin;
  const wSpan = m.w_max - m.w_min;
  // More pulses than it takes to sweep the whole range (at the smallest step) change nothing but noise.
  const cap = Math.ceil(wSpan / m.dw_min) * 4 + 16;
  const active = (scratch.active = grownI32(scratch.active, list.count));
  const pulses = (scratch.pulses = grownF64(scratch.pulses, list.count));
  const count = pulsedPulses(list, sign, base, span, wSpan, m.dw_min, cap, active, pulses);
  const run: PulseRun = { src, dst, active, pulses, count, scaleUp, scaleDown, gMin, gMax, span, wMin: m.w_min, wMax: m.w_max, wSpan, std: m.dw_min_std, rng };
  switch (m.kind) {
    case 'constant_step':
      return constantStepLoop(run);
    case 'soft_bounds':
      return softBoundsLoop(run);
    case 'exp_step':
      return expStepLoop(run, 2 * m.a, m.b, m.A_up, m.A_down, m.gamma_up, -m.gamma_down);
    case 'pow_step':
      return powStepLoop(run, m.pow_gamma * (m.pow_up_down > 0 ? 1 : 1 + m.pow_up_down), m.pow_gamma * (m.pow_up_down > 0 ? 1 - m.pow_up_down : 1));
  }
}

/** The devices with n = round(|Δw| / dw_min) ≠ 0 pulses and their signed, capped counts; returns their count. */
function pulsedPulses(
  list: UpdateList,
  sign: number,
  base: number,
  span: number,
  wSpan: number,
  dwMin: number,
  cap: number,
  active: Int32Array,
  pulsesOf: Float64Array,
): number {
  const { idx, req, count } = list;
  let m = 0;
  for (let i = 0; i < count; i++) {
    const dw = ((sign * req[i]!) / span) * wSpan;
    const pulses = Math.round(Math.abs(dw) / dwMin);
    if (pulses === 0) continue;
    active[m] = base + idx[i]!;
    // signed pulse count: up (dw > 0) positive; NaN stays NaN (no pulse, as `p < NaN` never holds)
    pulsesOf[m] = dw > 0 ? Math.min(pulses, cap) : -Math.min(pulses, cap);
    m++;
  }
  return m;
}

// The per-shape loops: w += ±scale·f(w)·noise per pulse, clipped; noise = 1 + σξ (σ > 0) or 1.
// (s·f·noise is evaluated as (s·f)·noise, the order of the definition; f = 1 drops out exactly.)

function constantStepLoop(r: PulseRun): void {
  const { src, dst, active, pulses: pulsesOf, count, scaleUp, scaleDown, gMin, gMax, span, wMin, wMax, wSpan, std, rng } = r;
  const noisy = std > 0;
  let z = scratch.draws;
  let at = 0;
  let filled = 0;
  for (let j = 0; j < count; j++) {
    const k = active[j]!;
    const pv = pulsesOf[j]!;
    const up = pv > 0;
    const pulses = Math.abs(pv);
    if (noisy && at + pulses > filled) {
      filled = refill(rng, pulsesOf, j, count);
      z = scratch.draws;
      at = 0;
    }
    const sUp = scaleUp[k]!;
    const sDown = -scaleDown[k]!;
    const s = up ? sUp : sDown;
    let w = wMin + ((Math.min(gMax, Math.max(gMin, src[k]!)) - gMin) / span) * wSpan;
    for (let p = 0; p < pulses; p++) {
      w += noisy ? s * (1 + std * z[at++]!) : s;
      if (w > wMax) w = wMax;
      else if (w < wMin) w = wMin;
    }
    dst[k] = gMin + ((w - wMin) / wSpan) * span;
  }
}

function softBoundsLoop(r: PulseRun): void {
  const { src, dst, active, pulses: pulsesOf, count, scaleUp, scaleDown, gMin, gMax, span, wMin, wMax, wSpan, std, rng } = r;
  const noisy = std > 0;
  let z = scratch.draws;
  let at = 0;
  let filled = 0;
  for (let j = 0; j < count; j++) {
    const k = active[j]!;
    const pv = pulsesOf[j]!;
    const up = pv > 0;
    const pulses = Math.abs(pv);
    if (noisy && at + pulses > filled) {
      filled = refill(rng, pulsesOf, j, count);
      z = scratch.draws;
      at = 0;
    }
    const s = up ? scaleUp[k]! : -scaleDown[k]!;
    // aihwkit SoftBounds: f = 1 − w/w_max up, 1 − w/w_min down (≥ 0)
    const bound = up ? wMax : wMin;
    let w = wMin + ((Math.min(gMax, Math.max(gMin, src[k]!)) - gMin) / span) * wSpan;
    for (let p = 0; p < pulses; p++) {
      const f = Math.max(0, 1 - w / bound);
      w += noisy ? s * f * (1 + std * z[at++]!) : s * f;
      if (w > wMax) w = wMax;
      else if (w < wMin) w = wMin;
    }
    dst[k] = gMin + ((w - wMin) / wSpan) * span;
  }
}

function expStepLoop(r: PulseRun, twoA: number, b: number, aUp: number, aDown: number, gammaUp: number, negGammaDown: number): void {
  const { src, dst, active, pulses: pulsesOf, count, scaleUp, scaleDown, gMin, gMax, span, wMin, wMax, wSpan, std, rng } = r;
  const noisy = std > 0;
  let z = scratch.draws;
  let at = 0;
  let filled = 0;
  for (let j = 0; j < count; j++) {
    const k = active[j]!;
    const pv = pulsesOf[j]!;
    const up = pv > 0;
    const pulses = Math.abs(pv);
    if (noisy && at + pulses > filled) {
      filled = refill(rng, pulsesOf, j, count);
      z = scratch.draws;
      at = 0;
    }
    const s = up ? scaleUp[k]! : -scaleDown[k]!;
    // aihwkit ExpStep: z = 2a·w/(w_max − w_min) + b; f = 1 − A_up·e^(γ_up·z) up, 1 − A_down·e^(−γ_down·z) down
    const amp = up ? aUp : aDown;
    const gamma = up ? gammaUp : negGammaDown;
    let w = wMin + ((Math.min(gMax, Math.max(gMin, src[k]!)) - gMin) / span) * wSpan;
    for (let p = 0; p < pulses; p++) {
      const f = Math.max(0, 1 - amp * Math.exp(gamma * ((twoA * w) / wSpan + b)));
      w += noisy ? s * f * (1 + std * z[at++]!) : s * f;
      if (w > wMax) w = wMax;
      else if (w < wMin) w = wMin;
    }
    dst[k] = gMin + ((w - wMin) / wSpan) * span;
  }
}

function powStepLoop(r: PulseRun, gammaUp: number, gammaDown: number): void {
  const { src, dst, active, pulses: pulsesOf, count, scaleUp, scaleDown, gMin, gMax, span, wMin, wMax, wSpan, std, rng } = r;
  const noisy = std > 0;
  let z = scratch.draws;
  let at = 0;
  let filled = 0;
  for (let j = 0; j < count; j++) {
    const k = active[j]!;
    const pv = pulsesOf[j]!;
    const up = pv > 0;
    const pulses = Math.abs(pv);
    if (noisy && at + pulses > filled) {
      filled = refill(rng, pulsesOf, j, count);
      z = scratch.draws;
      at = 0;
    }
    const s = up ? scaleUp[k]! : -scaleDown[k]!;
    // aihwkit PowStep: f = ((w_max − w)/(w_max − w_min))^γ_up up, ((w − w_min)/(w_max − w_min))^γ_down down
    let w = wMin + ((Math.min(gMax, Math.max(gMin, src[k]!)) - gMin) / span) * wSpan;
    for (let p = 0; p < pulses; p++) {
      const f = up ? Math.max(0, (wMax - w) / wSpan) ** gammaUp : Math.max(0, (w - wMin) / wSpan) ** gammaDown;
      w += noisy ? s * f * (1 + std * z[at++]!) : s * f;
      if (w > wMax) w = wMax;
      else if (w < wMin) w = wMin;
    }
    dst[k] = gMin + ((w - wMin) / wSpan) * span;
  }
}

// ---- warm-up -----------------------------------------------------------------------------------

let warm = false;

/**
 * Run every kernel once on 24 devices of every model variant (both directions, zero, sub-step,
 * multi-step and saturating requests; level grid and continuum; noise on and off) with a scratch
 * stream, before the first real update (see the note above the kernels). About a millisecond;
 * it touches no caller's stream or device.
 */
function warmUp(): void {
  warm = true;
  const rng = new Rng(0, 'update/warm-up');
  warmUpDraws(rng);
  const n = 24;
  const step = { dw_min: 0.05, up_down: 0.1, dw_min_dtod: 0.2, w_min: -0.6, w_max: 0.6 };
  const models: UpdateModel[] = [{ kind: 'ideal' }];
  for (const v of [0, 0.5])
    for (const gamma of [0, 2])
      for (const noise of ['gradient', 'step'] as const)
        for (const nonlinearity of ['gradient', 'step'] as const) models.push({ kind: 'txsim', v, gamma, noise, nonlinearity, pulses: 1 });
  for (const c2c of [0, 0.03]) models.push({ kind: 'nonlinear', ltp: 2.4, ltd: -4.88, c2c, d2d: 0.1 }, { kind: 'nonlinear', ltp: 0, ltd: 0, c2c, d2d: 0 });
  for (const dw_min_std of [0, 0.3]) {
    models.push(
      { kind: 'constant_step', ...step, dw_min_std },
      { kind: 'soft_bounds', ...step, dw_min_std },
      { kind: 'pow_step', ...step, dw_min_std, pow_gamma: 1.5, pow_up_down: 0.1 },
    );
    models.push({ kind: 'exp_step', ...step, dw_min_std, A_up: 0.00081, A_down: 0.36833, gamma_up: 12.4462, gamma_down: 12.7879, a: 0.244, b: 0.2425 });
  }
  for (const levels of [16, 0]) {
    const range: ConductanceRange = { gMin: 1e-6, gMax: 1e-5, levels };
    const span = range.gMax - range.gMin;
    const g = new Float64Array(n);
    const dG = new Float64Array(n);
    for (const model of models) {
      if (model.kind === 'nonlinear' && !levels) continue;
      const state = createDeviceState(model, range, n, rng);
      for (const rounding of ['nearest', 'stochastic'] as const) {
        for (let k = 0; k < n; k++) {
          g[k] = range.gMin + span * rng.uniform();
          const mag = [0, 0.01, 0.3, 1, 3, 0.2][k % 6]! * span * rng.uniform();
          dG[k] = k % 6 === 0 ? 0 : k & 1 ? mag : -mag;
        }
        applyUpdate(g, dG, model, range, rng, state, { rounding });
      }
    }
  }
}

/** f(w) of an aihwkit pulsed device: the step of one pulse relative to its scale. */
export function stepShape(m: Exclude<UpdateModel, { kind: 'ideal' } | { kind: 'txsim' } | { kind: 'nonlinear' }>, w: number, up: boolean): number {
  switch (m.kind) {
    case 'constant_step':
      return 1;
    case 'soft_bounds':
      // aihwkit SoftBounds: Δw_up ∝ (1 − w/w_max), Δw_down ∝ (1 − w/w_min) (w_min < 0 < w_max).
      return Math.max(0, up ? 1 - w / m.w_max : 1 - w / m.w_min);
    case 'exp_step': {
      // aihwkit ExpStep: z = 2a·w/(w_max − w_min) + b; up: 1 − A_up·e^(γ_up·z); down: 1 − A_down·e^(−γ_down·z).
      const z = (2 * m.a * w) / (m.w_max - m.w_min) + m.b;
      return Math.max(0, up ? 1 - m.A_up * Math.exp(m.gamma_up * z) : 1 - m.A_down * Math.exp(-m.gamma_down * z));
    }
    case 'pow_step': {
      // aihwkit PowStep: up ∝ ((w_max − w)/(w_max − w_min))^γ, down ∝ ((w − w_min)/(w_max − w_min))^γ, γ biased by pow_up_down.
      const span = m.w_max - m.w_min;
      const gUp = m.pow_gamma * (m.pow_up_down > 0 ? 1 : 1 + m.pow_up_down);
      const gDown = m.pow_gamma * (m.pow_up_down > 0 ? 1 - m.pow_up_down : 1);
      return up ? Math.max(0, (m.w_max - w) / span) ** gUp : Math.max(0, (w - m.w_min) / span) ** gDown;
    }
  }
}

// ---- from a plan -----------------------------------------------------------------------------

/** The update model and conductance range of a plan device: [G_off, G_on] with its `levels`. */
export function updateOf(device: DeviceSpec): { model: UpdateModel; range: ConductanceRange } {
  return { model: device.update, range: { gMin: device.gOff, gMax: device.gOn, levels: device.levels } };
}
