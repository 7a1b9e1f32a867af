/**
 * Crossbar arithmetic, resolved from a plan's crossbar settings (MODELS.md §1–2): weight
 * quantization and slicing, conductance levels, input encoding into DAC streams, ADC ranges,
 * and the programming-time device non-idealities (D2D variation, stuck-at faults, drift).
 *
 * Units. The MVM graphs work in "level units": an input digit d (0 … 2^dac − 1) drives
 * V = d·V_read/(2^dac − 1) and a cell at slice level ℓ (0 … 2^cell_bits − 1) conducts
 * G = G_off + ℓ·ΔG with ΔG = (G_on − G_off)/(2^cell_bits − 1). Every array has a dummy column at
 * G_off whose current is subtracted before the ADC (background subtraction), so the ADC sees
 * I = u · Σ d·ℓ with the unit current u = V_read/(2^dac − 1) · ΔG. Partial sums are therefore
 * integers in the nominal case and the ADC step ("LSB") is expressed in units of u.
 */

import type { PlanCrossbar, PlanExperiment, PlanLayer, PlanNetwork } from '../../compiler/plan-types.js';
import { XbarcRuntimeError } from '../errors.js';
import { Rng } from '../rng.js';

export type AdcRange = { kind: 'calibrate'; percentile: number } | { kind: 'max' } | { kind: 'fixed'; current: number };

export interface AdcConfig {
  bits: number;
  range: AdcRange;
  /** Offset error in LSB. */
  offset: number;
  /** Relative gain error. */
  gainError: number;
  /** Peak integral nonlinearity in LSB (parabolic). */
  inl: number;
}

export interface DeviceConfig {
  name: string;
  gOn: number;
  gOff: number;
  vRead: number;
  d2dSigma: number;
  d2dDist: 'normal' | 'lognormal';
  readNoise: number;
  driftNu: number;
  driftT0: number;
  pSa0: number;
  pSa1: number;
  update: string;
}

export interface CrossbarConfig {
  name: string;
  rows: number;
  cols: number;
  mapping: 'differential' | 'offset';
  weightBits: number;
  cellBits: number;
  inputBits: number;
  dacBits: number;
  adc: AdcConfig;
  backward: { inputBits: number; dacBits: number; adc: AdcConfig };
  parasitics: string;
  device: DeviceConfig;
}

const num = (v: unknown, what: string, fallback?: number): number => {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v === undefined && fallback !== undefined) return fallback;
  throw new XbarcRuntimeError('crossbar/bad-settings', `crossbar setting ${what} is missing or not a number (${JSON.stringify(v)})`);
};

function adcConfig(raw: unknown, what: string): AdcConfig {
  const a = (raw ?? {}) as Record<string, unknown>;
  const r = (a['range'] ?? { kind: 'calibrate', percentile: 0.999 }) as Record<string, unknown>;
  let range: AdcRange;
  if (r['kind'] === 'max') range = { kind: 'max' };
  else if (r['kind'] === 'fixed') range = { kind: 'fixed', current: num(r['current'], `${what}.range.current`) };
  else if (r['kind'] === 'calibrate') range = { kind: 'calibrate', percentile: Math.min(1, num(r['percentile'], `${what}.range.percentile`, 0.999)) };
  else throw new XbarcRuntimeError('crossbar/bad-settings', `${what}.range: unknown ADC range ${JSON.stringify(r['kind'])}`);
  return { bits: num(a['bits'], `${what}.bits`, 8), range, offset: num(a['offset'], `${what}.offset`, 0), gainError: num(a['gain_error'], `${what}.gain_error`, 0), inl: num(a['inl'], `${what}.inl`, 0) };
}

/** Resolve a plan crossbar (language names, SI) into the numbers the models use. */
export function crossbarConfig(pc: PlanCrossbar): CrossbarConfig {
  const s = pc.settings;
  const d = pc.device;
  const size = (s['size'] as number[] | undefined) ?? [64, 64];
  const rOn = num(d['r_on'], 'device.r_on', 100e3);
  const onOff = typeof d['r_off'] === 'number' ? (d['r_off'] as number) / rOn : num(d['on_off'], 'device.on_off', 10);
  if (!(onOff > 1)) throw new XbarcRuntimeError('crossbar/bad-settings', `device ${d.name}: on/off ratio must exceed 1 (got ${onOff})`);
  const gOn = 1 / rOn;
  const back = (s['backward'] ?? {}) as Record<string, unknown>;
  const update = (d['update'] as { kind?: string } | undefined)?.kind ?? 'ideal';
  const cfg: CrossbarConfig = {
    name: pc.name,
    rows: size[0]!,
    cols: size[1] ?? size[0]!,
    mapping: s['mapping'] === 'offset' ? 'offset' : 'differential',
    weightBits: num(s['weight_bits'], 'weight_bits', 8),
    cellBits: num(s['cell_bits'], 'cell_bits', 2),
    inputBits: num(s['input_bits'], 'input_bits', 8),
    dacBits: num(s['dac_bits'], 'dac_bits', 1),
    adc: adcConfig(s['adc'], 'adc'),
    backward: { inputBits: num(back['input_bits'], 'backward.input_bits', 8), dacBits: num(back['dac_bits'], 'backward.dac_bits', 1), adc: adcConfig(back['adc'], 'backward.adc') },
    parasitics: ((s['parasitics'] as { kind?: string } | undefined)?.kind) ?? 'none',
    device: {
      name: d.name,
      gOn,
      gOff: gOn / onOff,
      vRead: num(d['v_read'], 'device.v_read', 0.25),
      d2dSigma: num(d['d2d_sigma'], 'device.d2d_sigma', 0),
      d2dDist: d['d2d_dist'] === 'lognormal' ? 'lognormal' : 'normal',
      readNoise: num(d['read_noise'], 'device.read_noise', 0),
      driftNu: num(d['drift_nu'], 'device.drift_nu', 0),
      driftT0: num(d['drift_t0'], 'device.drift_t0', 1),
      pSa0: num(d['p_sa0'], 'device.p_sa0', 0),
      pSa1: num(d['p_sa1'], 'device.p_sa1', 0),
      update,
    },
  };
  if (cfg.mapping === 'offset' && cfg.weightBits < 2) throw new XbarcRuntimeError('crossbar/bad-settings', `crossbar ${pc.name}: offset mapping needs weight_bits ≥ 2`);
  return cfg;
}

// ---- weights -----------------------------------------------------------------------------------

/** Number of weight slices: weight_bits split MSB-first into cell_bits pieces (the top one may be narrower). */
export const weightSlices = (c: CrossbarConfig): number => Math.ceil(c.weightBits / c.cellBits);
/** Largest slice level 2^cell_bits − 1 (the cell's top level; it sets the conductance step ΔG). */
export const maxLevel = (c: CrossbarConfig): number => 2 ** c.cellBits - 1;
/**
 * Bits of each slice, LSB slice first: cell_bits each, the top (MSB) slice the remaining
 * weight_bits − cell_bits·(S − 1) (8-bit weights on 3-bit cells: 3, 3, 2). A narrow slice uses
 * the lowest 2^bits levels of its cells; recombination stays 2^(cell_bits·s).
 */
export function sliceBits(c: CrossbarConfig): number[] {
  const S = weightSlices(c);
  return Array.from({ length: S }, (_, s) => (s < S - 1 ? c.cellBits : c.weightBits - c.cellBits * (S - 1)));
}
/**
 * Largest level any slice stores: 2^min(cell_bits, weight_bits) − 1 (the widest slice; the stored
 * values, |q| or q + Z, are below 2^weight_bits). It bounds every partial sum, so it sets the `max`
 * ADC range and the lossless ADC width.
 */
export const widestSliceLevel = (c: CrossbarConfig): number => 2 ** Math.min(c.cellBits, c.weightBits) - 1;
/** Largest |quantized weight|: 2^wb − 1 (differential magnitudes), 2^(wb−1) − 1 (offset). */
export const weightQmax = (c: CrossbarConfig): number => (c.mapping === 'differential' ? 2 ** c.weightBits - 1 : 2 ** (c.weightBits - 1) - 1);
/** Offset mapping: the stored value is q + Z, the reference column stores Z. */
export const offsetZ = (c: CrossbarConfig): number => 2 ** (c.weightBits - 1);
/** G_off in units of ΔG: the current an off cell adds when its conductance deviates. */
export const gOffLevels = (c: CrossbarConfig): number => c.device.gOff / ((c.device.gOn - c.device.gOff) / maxLevel(c));

/** Digital recombination weight of plane p (0: + array / main, 1: − array / reference) and slice k (LSB = 0). */
export function planeSliceWeights(c: CrossbarConfig): number[] {
  const S = weightSlices(c);
  const out: number[] = [];
  for (const sign of [1, -1]) for (let k = 0; k < S; k++) out.push(sign * 2 ** (c.cellBits * k));
  return out;
}

// ---- inputs -----------------------------------------------------------------------------------

export interface InputEncoding {
  kind: 'unsigned' | 'twos' | 'signmag';
  bits: number;
  dacBits: number;
  /** Largest |quantized input|. */
  qmax: number;
  /** Streams (DAC cycles), including both passes of sign-magnitude. */
  streams: number;
  /** Digital shift-add weight of each stream (negative for the two's-complement MSB and the negative pass). */
  weights: number[];
}

/**
 * Inputs known to be non-negative (after a ReLU) are unsigned input_bits integers streamed in
 * base 2^dac digits. Signed inputs use input_bits including the sign, symmetric range
 * ±(2^(ib−1) − 1): two's complement with a negative MSB weight for 1-bit DACs, sign-magnitude in
 * two passes (positive part, negative part) otherwise (PUMA functional model).
 */
export function inputEncoding(bits: number, dacBits: number, signed: boolean): InputEncoding {
  const base = 2 ** dacBits;
  if (!signed) {
    const J = Math.ceil(bits / dacBits);
    return { kind: 'unsigned', bits, dacBits, qmax: 2 ** bits - 1, streams: J, weights: Array.from({ length: J }, (_, j) => base ** j) };
  }
  if (bits < 2) throw new XbarcRuntimeError('crossbar/bad-settings', `signed inputs need input_bits ≥ 2 (got ${bits})`);
  if (dacBits === 1) {
    return { kind: 'twos', bits, dacBits, qmax: 2 ** (bits - 1) - 1, streams: bits, weights: Array.from({ length: bits }, (_, j) => (j === bits - 1 ? -(2 ** j) : 2 ** j)) };
  }
  const Jm = Math.ceil((bits - 1) / dacBits);
  const mag = Array.from({ length: Jm }, (_, j) => base ** j);
  return { kind: 'signmag', bits, dacBits, qmax: 2 ** (bits - 1) - 1, streams: 2 * Jm, weights: [...mag, ...mag.map((w) => -w)] };
}

/** Whether a layer's input can be negative: false when it comes (through pooling/flatten) from a ReLU. */
export function inputSigned(net: PlanNetwork, layer: PlanLayer): boolean {
  const byName = new Map(net.layers.map((l) => [l.name, l]));
  let src = layer.inputs[0];
  for (let guard = 0; guard < 1000 && src && src !== 'input'; guard++) {
    const l = byName.get(src);
    if (!l) return true;
    if (l.op.kind === 'relu') return false;
    if (l.op.kind === 'maxpool' || l.op.kind === 'avgpool' || l.op.kind === 'flatten') src = l.inputs[0];
    else return true;
  }
  return true;
}

/** Unit current u = V_read/(2^dac − 1) · ΔG of a forward (or backward) MVM, in amperes. */
export function unitCurrent(c: CrossbarConfig, dacBits: number): number {
  return (c.device.vRead / (2 ** dacBits - 1)) * ((c.device.gOn - c.device.gOff) / maxLevel(c));
}

// ---- ADC -------------------------------------------------------------------------------------

/** Largest code: unsigned per-column ADC (exact) or signed layer-level converter (fast: ±(2^(b−1) − 1)). */
export function adcMaxCode(adc: AdcConfig, signed: boolean): number {
  return signed ? Math.max(1, 2 ** (adc.bits - 1) - 1) : 2 ** adc.bits - 1;
}

/**
 * ADC step in level units from a full-scale value (in level units). The step is never finer than
 * one nominal level step: a finer ADC resolves no nominal information, and with it an ADC is
 * lossless as soon as 2^bits − 1 covers the largest partial sum (MODELS.md §1).
 */
export function lsbFromFullScale(fullScale: number, maxCode: number): number {
  return Math.fround(Math.max(1, Math.fround(fullScale / maxCode)));
}

const gcd = (x: number, y: number): number => {
  while (y) [x, y] = [y, x % y];
  return x;
};

/**
 * The ADC step as an exact ratio of integers: LSB = max(F, M)/M = b/a level units, F the full
 * scale rounded to float32, M the largest code, reduced by their gcd; the conversion is then
 * code = clip(round_half_even(n·a/b), ·, M) for the real quotient. A float32 F is m·2^(−e) with an
 * integer m, so a = M·2^e/g and b = m/g are integers and exact float32 values. A step of one level
 * is a = b = 1.
 */
export function adcStep(fullScale: number, maxCode: number): { a: number; b: number } {
  const F = Math.max(Math.fround(fullScale), maxCode);
  if (F === maxCode) return { a: 1, b: 1 };
  // F ≥ 1 has at most 23 fractional bits, so M·2^e and F·2^e stay below 2^53 (exact in double).
  let e = 0;
  while (!Number.isInteger(F * 2 ** e)) e++;
  const A = maxCode * 2 ** e;
  const B = F * 2 ** e;
  const g = gcd(A, B);
  return { a: A / g, b: B / g };
}

/**
 * Whether float32 arithmetic converts exactly at a step b/a (integers): for integer partial sums n,
 * n·a is exact below the saturation point (n·a/b ≤ M + ½ ⇒ n·a < 2^24), and a quotient n·a/b that
 * is not a half-integer lies at least 1/(2b) from one, more than half an ulp of any half-integer up
 * to M + ½ when b·(2M + 1) < 2^24; so the correctly rounded float32 quotient (Div, QuantizeLinear)
 * rounds like the real one, ties included.
 */
export const exactInFloat32 = (b: number, maxCode: number): boolean => Number.isInteger(b) && b * (2 * maxCode + 1) < 2 ** 24;

// ---- programming-time non-idealities ------------------------------------------------------------

export interface Programming {
  /** L_eff = level · A + B per cell, [2, S, K, N] (plane, slice, row, column). */
  A: Float32Array;
  B: Float32Array;
  dims: [number, number, number, number];
}

/** Drift factor (t/t₀)^(−ν) at evaluation time t (no drift before t₀). */
export function driftFactor(d: DeviceConfig, t: number): number {
  return d.driftNu > 0 && t > d.driftT0 ? (t / d.driftT0) ** -d.driftNu : 1;
}

export function hasVariation(c: CrossbarConfig, t = 0): boolean {
  const d = c.device;
  return d.d2dSigma > 0 || d.pSa0 > 0 || d.pSa1 > 0 || driftFactor(d, t) !== 1;
}

/**
 * Sample the static device state of a layer's arrays once, at programming: D2D factors from
 * stream "d2d/<layer>", stuck-at faults from "stuck/<layer>" (the reference column of offset
 * mapping from ".../ref", one per row, slice and column tile). A cell at nominal level ℓ then
 * reads L = (ℓ + g₀)·f − g₀ level units with f = D2D factor × drift, g₀ = G_off/ΔG; a stuck-at-0
 * cell reads 0 (G_off) and a stuck-at-1 cell reads 2^cell_bits − 1 (G_on).
 */
export function programDevices(c: CrossbarConfig, layer: string, K: number, N: number, seed: number, evalTime = 0): Programming {
  const S = weightSlices(c);
  const d = c.device;
  const g0 = gOffLevels(c);
  const drift = driftFactor(d, evalTime);
  const size = 2 * S * K * N;
  const A = new Float32Array(size);
  const B = new Float32Array(size);
  const colTiles = Math.ceil(N / c.cols);
  const sampleCell = (d2d: Rng, stuck: Rng): [number, number] => {
    const xi = d2d.normal();
    const u = stuck.uniform();
    if (u < d.pSa0) return [0, 0];
    if (u < d.pSa0 + d.pSa1) return [0, maxLevel(c)];
    const f = (d.d2dDist === 'lognormal' ? Math.exp(d.d2dSigma * xi - (d.d2dSigma * d.d2dSigma) / 2) : 1 + d.d2dSigma * xi) * drift;
    return [f, g0 * (f - 1)];
  };
  const main = { d2d: new Rng(seed, `d2d/${layer}`), stuck: new Rng(seed, `stuck/${layer}`) };
  const ref = { d2d: new Rng(seed, `d2d/${layer}/ref`), stuck: new Rng(seed, `stuck/${layer}/ref`) };
  const refCells = new Map<number, [number, number]>();
  for (let p = 0; p < 2; p++) {
    for (let s = 0; s < S; s++) {
      for (let k = 0; k < K; k++) {
        for (let n = 0; n < N; n++) {
          const i = ((p * S + s) * K + k) * N + n;
          let cell: [number, number];
          if (p === 1 && c.mapping === 'offset') {
            // One physical reference column per column tile, shared by its columns.
            const key = (s * K + k) * colTiles + Math.floor(n / c.cols);
            cell = refCells.get(key) ?? sampleCell(ref.d2d, ref.stuck);
            refCells.set(key, cell);
          } else cell = sampleCell(main.d2d, main.stuck);
          A[i] = cell[0];
          B[i] = cell[1];
        }
      }
    }
  }
  return { A, B, dims: [2, S, K, N] };
}

// ---- fast fidelity: programming in JS --------------------------------------------------------------

/**
 * The programmed device state of a layer folded for fidelity fast, in the layer's weight layout
 * (dense [K, N]: weight i = k·N + n; conv [O, C, kh, kw] = [N, K]: i = n·K + k). The folded matrix
 *
 *     Wf = Σ_p,s c_ps·(ℓ_ps·A_ps + B_ps) = Σ_p,s (c_ps·A_ps)·ℓ_ps + Σ_p,s c_ps·B_ps
 *
 * (c_ps the plane/slice recombination weights, `planeSliceWeights`) needs per weight the 2·S
 * products c_ps·A_ps and one constant; both change only when the device state does (programming,
 * or a parasitics refresh), so they are computed once and every step folds the current levels.
 */
export interface FoldedDevices {
  /** [n, 2·S]: c_ps·A_ps per weight (plane-major, LSB slice first; exact in float32: c_ps = ±2^k). */
  ac: Float32Array;
  /** [n]: Σ_p,s c_ps·B_ps per weight. */
  bf: Float64Array;
}

/** Index of cell (p, s, k, n) of a [2, S, K, N] level tensor, per weight i of the layer layout. */
function cellIndex(layout: 'kn' | 'nk', K: number, N: number): (i: number) => number {
  return layout === 'kn' ? (i) => i : (i) => (i % K) * N + Math.floor(i / K);
}

/** Fold device state A, B [2, S, K, N] into per-weight coefficients (`FoldedDevices`), weight layout `layout`. */
export function foldDevices(c: CrossbarConfig, A: ArrayLike<number>, B: ArrayLike<number>, K: number, N: number, layout: 'kn' | 'nk'): FoldedDevices {
  const S = weightSlices(c);
  const cw = planeSliceWeights(c);
  const n = K * N;
  const ac = new Float32Array(n * 2 * S);
  const bf = new Float64Array(n);
  const cell = cellIndex(layout, K, N);
  for (let i = 0; i < n; i++) {
    const kn = cell(i);
    let b = 0;
    for (let ps = 0; ps < 2 * S; ps++) {
      const at = ps * n + kn;
      ac[i * 2 * S + ps] = cw[ps]! * A[at]!;
      b += cw[ps]! * B[at]!;
    }
    bf[i] = b;
  }
  return { ac, bf };
}

const TINY32 = Math.fround(1e-30);
/** 1.5·2^52: (x + R) − R rounds a double |x| < 2^51 to an integer, ties to even (ONNX Round). */
const ROUND_EVEN = 6755399441055744;

/**
 * Fidelity fast, programmed in JS: the weight scale s_W = max(max|W|/q_max, 1e-30) and the folded
 * matrix Wf of weights `w` into `out` (same layout as `w`), with the same float32 arithmetic as the
 * in-graph programming (emitter.ts `program`): q = clip(round_half_even(W / s_W), ±q_max), stored
 * per plane (differential |q⁺|, |q⁻|; offset q + Z and the reference Z), sliced into levels ℓ_ps;
 * Wf = q without device state, else Σ (c·A)·ℓ + Σ c·B (accumulated in float64, rounded once).
 * `back` folds the same levels with a second device state (the backward arrays under parasitics
 * with `backward = transposed`) in the same pass.
 *
 * `prev` (optional, with device state): the integer weights q that `out` (and `back.out`) were last
 * programmed from with these same device states; only weights whose q changed are re-folded (a
 * training step moves few weights across a quantization step), and `prev` is updated. The result
 * is identical to programming from scratch.
 */
export function programFolded(c: CrossbarConfig, w: Float32Array, dev: FoldedDevices | null, out: Float32Array, back?: { dev: FoldedDevices; out: Float32Array }, prev?: Int32Array): number {
  const qmax = weightQmax(c);
  const n = w.length;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(w[i]!);
    if (a > m || a !== a) m = a;
  }
  const sW = Math.fround(Math.max(Math.fround(m / qmax), TINY32));
  if (!dev) {
    for (let i = 0; i < n; i++) {
      const q = Math.fround(w[i]! / sW) + ROUND_EVEN - ROUND_EVEN;
      out[i] = q > qmax ? qmax : q < -qmax ? -qmax : q;
    }
    if (back) back.out.set(out);
    return sW;
  }
  const S = weightSlices(c);
  const S2 = 2 * S;
  const cb = c.cellBits;
  const mask = 2 ** cb - 1;
  const { ac, bf } = dev;
  const acb = back?.dev.ac ?? null;
  const bfb = back?.dev.bf ?? null;
  const outb = back?.out ?? null;
  const known = prev ?? null;
  if (c.mapping === 'offset') {
    // The reference plane stores Z everywhere: its levels are constant.
    const levels = new Float64Array(S2);
    const Z = offsetZ(c);
    for (let s = 0; s < S; s++) levels[S + s] = (Z >>> (cb * s)) & mask;
    for (let i = 0; i < n; i++) {
      const r = Math.fround(w[i]! / sW) + ROUND_EVEN - ROUND_EVEN;
      const q = (r > qmax ? qmax : r < -qmax ? -qmax : r) | 0;
      if (known !== null) {
        if (known[i] === q) continue;
        known[i] = q;
      }
      let u = q + Z;
      for (let s = 0; s < S; s++) {
        levels[s] = u & mask;
        u >>>= cb;
      }
      const at = i * S2;
      let acc = bf[i]!;
      for (let k = 0; k < S2; k++) acc += levels[k]! * ac[at + k]!;
      out[i] = acc;
      if (acb) {
        let accb = bfb![i]!;
        for (let k = 0; k < S2; k++) accb += levels[k]! * acb[at + k]!;
        outb![i] = accb;
      }
    }
    return sW;
  }
  // Differential: one plane holds |q|, the other 0 (its cells read B only, already in bf).
  // Branch-free plane selection: the signs of trained weights are unpredictable.
  const c1 = cb;
  const c2 = 2 * cb;
  const c3 = 3 * cb;
  for (let i = 0; i < n; i++) {
    const r = Math.fround(w[i]! / sW) + ROUND_EVEN - ROUND_EVEN;
    let u = (r > qmax ? qmax : r < -qmax ? -qmax : r) | 0;
    if (known !== null) {
      if (known[i] === u) continue;
      known[i] = u;
    }
    const neg = u >>> 31;
    u = (u ^ -neg) + neg;
    const at = i * S2 + neg * S;
    if (S === 4) {
      // The common case (8-bit weights on 2-bit cells), unrolled.
      const l0 = u & mask;
      const l1 = (u >>> c1) & mask;
      const l2 = (u >>> c2) & mask;
      const l3 = (u >>> c3) & mask;
      out[i] = bf[i]! + l0 * ac[at]! + l1 * ac[at + 1]! + l2 * ac[at + 2]! + l3 * ac[at + 3]!;
      if (acb) outb![i] = bfb![i]! + l0 * acb[at]! + l1 * acb[at + 1]! + l2 * acb[at + 2]! + l3 * acb[at + 3]!;
      continue;
    }
    let acc = bf[i]!;
    let accb = acb ? bfb![i]! : 0;
    for (let s = 0; s < S; s++) {
      const l = u & mask;
      acc += l * ac[at + s]!;
      if (acb) accb += l * acb[at + s]!;
      u >>>= cb;
    }
    out[i] = acc;
    if (outb) outb[i] = accb;
  }
  return sW;
}
