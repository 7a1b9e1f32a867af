/**
 * Reference copy of the device update models and of the pair update as they were before the
 * typed-array kernels (src/runtime/devices/update.ts, training.ts at 05061ce): one loop over every
 * device with per-element helper calls, every weight read back each step. update-kernels.test.ts runs
 * both on the same seeds and asserts identical conductances (every bit), so the kernels keep the
 * numbers and the random-draw order of this code. It shares no code with src/ but the types, the
 * Rng and the JS Philox stream (src/runtime/philox.ts, itself checked against Random123's
 * known-answer vectors; the kernels draw txsim's write noise with the WebAssembly copy).
 *
 * Changed since 05061ce, with the models: txsim's write noise acts on the pre-learning-rate
 * gradient ΔG/LR (MODELS.md §3; noise = step keeps the old formula), its normals are element j
 * of a Philox stream keyed per call by two uint32 of the Rng, and nonlinearity = gradient applies
 * the ASYM change to ΔG/LR (then scaled by LR).
 */

import type { UpdateModelSpec } from '../../src/model/crossbar.js';
import { fillNormalsJs } from '../../src/runtime/philox.js';
import type { Rng } from '../../src/runtime/rng.js';

type UpdateModel = UpdateModelSpec;

export interface ConductanceRange {
  gMin: number;
  gMax: number;
  levels?: number | undefined;
}

export interface DeviceState {
  aLtp?: Float64Array;
  aLtd?: Float64Array;
  scaleUp?: Float64Array;
  scaleDown?: Float64Array;
}

export interface UpdateOptions {
  rounding?: 'nearest' | 'stochastic';
  lr?: number;
}

const A_NORM_ANCHORS: ReadonlyArray<readonly [number, number]> = [
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

function aNorm(alpha: number): number {
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

function paramA(alpha: number, pMax: number): number {
  if (alpha === 0) return Infinity;
  return Math.sign(alpha) * aNorm(Math.abs(alpha)) * pMax;
}

function pulseCurve(p: number, a: number, pMax: number, gMin: number, gMax: number): number {
  if (p <= 0) return gMin;
  if (p >= pMax) return gMax;
  if (!Number.isFinite(a)) return gMin + ((gMax - gMin) * p) / pMax;
  return gMin + ((gMax - gMin) * -Math.expm1(-p / a)) / -Math.expm1(-pMax / a);
}

function pulseOf(g: number, a: number, pMax: number, gMin: number, gMax: number): number {
  const x = Math.min(1, Math.max(0, (g - gMin) / (gMax - gMin)));
  if (!Number.isFinite(a)) return x * pMax;
  // x = (1 − e^(−P/A)) / (1 − e^(−Pmax/A))  ⇒  P = −A·ln(1 − x·(1 − e^(−Pmax/A)))
  const p = -a * Math.log1p(x * Math.expm1(-pMax / a));
  return Math.min(pMax, Math.max(0, p));
}

function asymDelta(w: number, delta: number, v: number, wMin: number, wMax: number): number {
  if (v === 0) return delta;
  const range = wMax - wMin;
  const w0 = range / -Math.expm1(-v);
  const d = delta / range;
  return delta > 0 ? (w0 + wMin - w) * -Math.expm1(-v * d) : (wMax - w0 - w) * -Math.expm1(v * d);
}

/** σ of the applied change: γ·sqrt(LR·range)·sqrt(|ΔG|) = LR·γ·sqrt(range·|ΔG/LR|) (gradient), γ·sqrt(range)·sqrt(|ΔG|) (step). */
function writeNoiseSigma(gamma: number, dG: number, range: ConductanceRange, lr: number, noise: 'gradient' | 'step'): number {
  return gamma * Math.sqrt((noise === 'step' ? 1 : lr) * (range.gMax - range.gMin)) * Math.sqrt(Math.abs(dG));
}

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

type Conductances = Float64Array | Float32Array;

function nonZero(dG: ArrayLike<number>): number {
  let c = 0;
  for (let k = 0; k < dG.length; k++) if (dG[k]! !== 0) c++;
  return c;
}

function philoxNormals(rng: Rng, count: number): Float32Array {
  const k0 = rng.nextUint32();
  const k1 = rng.nextUint32();
  const z = new Float32Array(count);
  fillNormalsJs(z, 0, k0, k1, 0, 1);
  return z;
}

function snap(g: number, r: ConductanceRange, rounding: 'nearest' | 'stochastic', rng: Rng): number {
  const clipped = Math.min(r.gMax, Math.max(r.gMin, g));
  if (!r.levels || r.levels < 2) return clipped;
  const step = (r.gMax - r.gMin) / (r.levels - 1);
  const x = (clipped - r.gMin) / step;
  let k = rounding === 'stochastic' ? Math.floor(x) + (rng.uniform() < x - Math.floor(x) ? 1 : 0) : Math.round(x);
  k = Math.min(r.levels - 1, Math.max(0, k));
  return k === r.levels - 1 ? r.gMax : r.gMin + k * step;
}

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
  const rounding = opts.rounding ?? 'nearest';
  const { gMin, gMax } = range;
  const span = gMax - gMin;
  switch (model.kind) {
    case 'ideal': {
      for (let k = 0; k < n; k++) out[k] = dG[k]! === 0 ? g[k]! : snap(g[k]! + dG[k]!, range, rounding, rng);
      return out;
    }
    case 'txsim': {
      const lr = opts.lr ?? 1;
      if (!(lr > 0 && Number.isFinite(lr))) throw new RangeError(`the learning rate of an update must be a positive finite number, got ${lr}`);
      // The write noise of the j-th changed device: element j of the stream keyed by the call's first two uint32.
      let z: Float32Array | null = null;
      let j = 0;
      for (let k = 0; k < n; k++) {
        const d = dG[k]!;
        if (d === 0) {
          out[k] = g[k]!;
          continue;
        }
        const gk = Math.min(gMax, Math.max(gMin, g[k]!));
        // nonlinearity = gradient: the ASYM change of the gradient ΔG/LR, scaled by LR.
        // ASYM with exponent v·pulses over the range (Chen et al.'s A = 1/v pulses on `pulses` pulses)
        const vRange = model.v * model.pulses;
        let next = gk + (model.nonlinearity === 'gradient' ? lr * asymDelta(gk, d / lr, vRange, gMin, gMax) : asymDelta(gk, d, vRange, gMin, gMax));
        if (model.gamma > 0) {
          z ??= philoxNormals(rng, nonZero(dG));
          next += writeNoiseSigma(model.gamma, d, range, lr, model.noise) * z[j++]!;
        }
        out[k] = snap(next, range, rounding, rng);
      }
      return out;
    }
    case 'nonlinear': {
      const pMax = pMaxOf(range);
      const st = state?.aLtp ? state : createDeviceState({ ...model, d2d: 0 }, range, n, rng);
      if (st.aLtp!.length !== n) throw new RangeError(`device state holds ${st.aLtp!.length} devices, the update ${n}`);
      const step = span / pMax;
      const sigma = model.c2c * span;
      for (let k = 0; k < n; k++) {
        const pulses = Math.round(dG[k]! / step);
        if (pulses === 0) {
          out[k] = g[k]!;
          continue;
        }
        const a = pulses > 0 ? st.aLtp![k]! : st.aLtd![k]!;
        let p = pulseOf(g[k]!, a, pMax, gMin, gMax);
        // on the curve's grid (no noise so far), keep the pulse number an exact integer
        if (Math.abs(p - Math.round(p)) < 1e-9) p = Math.round(p);
        const pNew = Math.min(pMax, Math.max(0, p + pulses));
        let next = pulseCurve(pNew, a, pMax, gMin, gMax);
        if (sigma > 0) next += sigma * Math.sqrt(Math.abs(pulses)) * rng.normal();
        out[k] = Math.min(gMax, Math.max(gMin, next));
      }
      return out;
    }
    default: {
      const m = model;
      if (!(m.dw_min > 0) || !(m.w_max > m.w_min)) throw new RangeError(`${m.kind}: needs dw_min > 0 and w_min < w_max`);
      const st = state?.scaleUp ? state : createDeviceState({ ...m, dw_min_dtod: 0 } as UpdateModel, range, n, rng);
      if (st.scaleUp!.length !== n) throw new RangeError(`device state holds ${st.scaleUp!.length} devices, the update ${n}`);
      const wSpan = m.w_max - m.w_min;
      // More pulses than it takes to sweep the whole range (at the smallest step) change nothing but noise.
      const cap = Math.ceil(wSpan / m.dw_min) * 4 + 16;
      for (let k = 0; k < n; k++) {
        const dw = (dG[k]! / span) * wSpan;
        let pulses = Math.round(Math.abs(dw) / m.dw_min);
        if (pulses === 0) {
          out[k] = g[k]!;
          continue;
        }
        pulses = Math.min(pulses, cap);
        let w = m.w_min + ((Math.min(gMax, Math.max(gMin, g[k]!)) - gMin) / span) * wSpan;
        const up = dw > 0;
        const scale = up ? st.scaleUp![k]! : st.scaleDown![k]!;
        for (let p = 0; p < pulses; p++) {
          const noise = m.dw_min_std > 0 ? 1 + m.dw_min_std * rng.normal() : 1;
          const f = stepShape(m, w, up);
          w += (up ? 1 : -1) * scale * f * noise;
          if (w > m.w_max) w = m.w_max;
          else if (w < m.w_min) w = m.w_min;
        }
        out[k] = gMin + ((w - m.w_min) / wSpan) * span;
      }
      return out;
    }
  }
}

function stepShape(m: Exclude<UpdateModel, { kind: 'ideal' } | { kind: 'txsim' } | { kind: 'nonlinear' }>, w: number, up: boolean): number {
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

function sliceState(st: DeviceState, from: number, n: number): DeviceState {
  const out: DeviceState = {};
  for (const key of ['aLtp', 'aLtd', 'scaleUp', 'scaleDown'] as const) if (st[key]) out[key] = st[key].subarray(from, from + n);
  return out;
}

/** The old DeviceUpdater's pair state: [G⁺ (n), G⁻ (n)], its per-device state and stream. */
export interface ReferencePair {
  model: UpdateModel;
  range: ConductanceRange;
  scale: number;
  g: Float64Array;
  state: DeviceState;
  rng: Rng;
}

/** The old DeviceUpdater programming: G± = mid ± W₀·s/2 through the ideal model (nearest level). */
export function referenceProgram(w0: Float32Array, range: ConductanceRange, scale: number, rng: Rng): Float64Array {
  const n = w0.length;
  const g = new Float64Array(2 * n).fill((range.gMin + range.gMax) / 2);
  const dG = new Float64Array(2 * n);
  for (let k = 0; k < n; k++) {
    dG[k] = (w0[k]! * scale) / 2;
    dG[n + k] = -(w0[k]! * scale) / 2;
  }
  applyUpdate(g, dG, { kind: 'ideal' }, range, rng);
  return g;
}

/** The old DeviceUpdater.update of one layer: ΔG = ΔW·s split over the pair, every device through applyUpdate, all weights read back into w1. */
export function referencePairUpdate(d: ReferencePair, w0: Float32Array, w1: Float32Array, lr: number): void {
  const n = w1.length;
  const dG = new Float64Array(2 * n);
  for (let k = 0; k < n; k++) {
    const half = ((w1[k]! - w0[k]!) * d.scale) / 2;
    dG[k] = half;
    dG[n + k] = -half;
  }
  // The old DeviceUpdater's single call over [G⁺, G⁻]: the new one makes two (G⁺, then G⁻), each with its own write-noise stream key.
  const half = (from: number): Float64Array => {
    const part = d.g.subarray(from, from + n);
    applyUpdate(part, dG.subarray(from, from + n), d.model, d.range, d.rng, sliceState(d.state, from, n), { lr }, part);
    return part;
  };
  half(0);
  half(n);
  for (let k = 0; k < n; k++) w1[k] = (d.g[k]! - d.g[n + k]!) / d.scale;
}

/**
 * One device per weight against a reference column (mapping `offset`, NeuroSim's MLP training
 * mapping): G = G_mid + W·s, the reference G_mid never written, W = (G − G_mid)/s. Written from
 * NeuroSim's Array::WriteCell / RealDevice::Write (MLP_NeuroSim_V3.0), not from training.ts: the
 * whole ΔG = ΔW·s goes through the device model; [G (n), G_ref (n)] like a pair's record.
 */
export function referenceSingleProgram(w0: Float32Array, range: ConductanceRange, scale: number, rng: Rng): Float64Array {
  const n = w0.length;
  const g = new Float64Array(2 * n).fill((range.gMin + range.gMax) / 2);
  const dG = new Float64Array(n);
  for (let k = 0; k < n; k++) dG[k] = w0[k]! * scale;
  applyUpdate(g.subarray(0, n), dG, { kind: 'ideal' }, range, rng);
  return g;
}

/** One step of the single-device mapping: every device through applyUpdate with ΔG = ΔW·s, every weight read back into w1. */
export function referenceSingleUpdate(d: ReferencePair, w0: Float32Array, w1: Float32Array): void {
  const n = w1.length;
  const dG = new Float64Array(n);
  for (let k = 0; k < n; k++) dG[k] = (w1[k]! - w0[k]!) * d.scale;
  const state: DeviceState = {};
  for (const key of ['aLtp', 'aLtd', 'scaleUp', 'scaleDown'] as const) if (d.state[key]) state[key] = d.state[key].subarray(0, n);
  applyUpdate(d.g.subarray(0, n), dG, d.model, d.range, d.rng, state);
  const mid = (d.range.gMin + d.range.gMax) / 2;
  for (let k = 0; k < n; k++) w1[k] = (d.g[k]! - mid) / d.scale;
}
