/**
 * Crossbar arithmetic (MODELS.md §1–2, docs/crossbar.md): weight slices and their recombination
 * weights, input encodings into DAC streams, unit current, ADC codes and steps, the largest
 * partial sum and the lossless ADC width, drift. One module, used by the checker, the merge
 * decision, the runtime and the cost model, so a count is stated once.
 *
 * Units. The MVM graphs work in "level units": an input digit d (0 … 2^dac − 1) drives
 * V = d·V_read/(2^dac − 1) and a cell at slice level ℓ (0 … 2^cell_bits − 1) conducts
 * G = G_off + ℓ·ΔG with ΔG = (G_on − G_off)/(2^cell_bits − 1). Every array has a dummy column at
 * G_off whose current is subtracted before the ADC (background subtraction), so the ADC sees
 * I = u · Σ d·ℓ with the unit current u = V_read/(2^dac − 1) · ΔG. Partial sums are therefore
 * integers in the nominal case and the ADC step ("LSB") is expressed in units of u.
 */

import type { AdcSpec, CrossbarSpec, DeviceSpec } from './crossbar.js';
import { XbarcRuntimeError } from './errors.js';
import type { LayerOp, PlanLayer, PlanNetwork } from './plan.js';

type Slicing = Pick<CrossbarSpec, 'weightBits' | 'cellBits'>;
type Weights = Pick<CrossbarSpec, 'weightBits' | 'cellBits' | 'mapping'>;

// ---- weights -----------------------------------------------------------------------------------

/** Number of weight slices: weight_bits split MSB-first into cell_bits pieces (the top one may be narrower). */
export const weightSlices = (c: Slicing): number => Math.ceil(c.weightBits / c.cellBits);
/** Largest slice level 2^cell_bits − 1 (the cell's top level; it sets the conductance step ΔG). */
export const maxLevel = (c: Pick<CrossbarSpec, 'cellBits'>): number => 2 ** c.cellBits - 1;
/**
 * Bits of each slice, LSB slice first: cell_bits each, the top (MSB) slice the remaining
 * weight_bits − cell_bits·(S − 1) (8-bit weights on 3-bit cells: 3, 3, 2). A narrow slice uses
 * the lowest 2^bits levels of its cells; recombination stays 2^(cell_bits·s).
 */
export function sliceBits(c: Slicing): number[] {
  const S = weightSlices(c);
  return Array.from({ length: S }, (_, s) => (s < S - 1 ? c.cellBits : c.weightBits - c.cellBits * (S - 1)));
}
/**
 * Largest level any slice stores: 2^min(cell_bits, weight_bits) − 1 (the widest slice; the stored
 * values, |q| or q + Z, are below 2^weight_bits). It bounds every partial sum, so it sets the `max`
 * ADC range and the lossless ADC width.
 */
export const widestSliceLevel = (c: Slicing): number => 2 ** Math.min(c.cellBits, c.weightBits) - 1;
/** Largest |quantized weight|: 2^wb − 1 (differential magnitudes), 2^(wb−1) − 1 (offset). */
export const weightQmax = (c: Weights): number => (c.mapping === 'differential' ? 2 ** c.weightBits - 1 : 2 ** (c.weightBits - 1) - 1);
/** Offset mapping: the stored value is q + Z, the reference column stores Z. */
export const offsetZ = (c: Pick<CrossbarSpec, 'weightBits'>): number => 2 ** (c.weightBits - 1);
/** G_off in units of ΔG: the current an off cell adds when its conductance deviates. */
export const gOffLevels = (c: Pick<CrossbarSpec, 'cellBits' | 'device'>): number => c.device.gOff / ((c.device.gOn - c.device.gOff) / maxLevel(c));

/** Digital recombination weight of plane p (0: + array / main, 1: − array / reference) and slice k (LSB = 0). */
export function planeSliceWeights(c: Slicing): number[] {
  const S = weightSlices(c);
  const out: number[] = [];
  for (const sign of [1, -1]) for (let k = 0; k < S; k++) out.push(sign * 2 ** (c.cellBits * k));
  return out;
}

// ---- plane subtraction (`subtract`) -------------------------------------------------------------

type Planes = Slicing & Pick<CrossbarSpec, 'subtract'>;

/**
 * Whether fidelity exact converts the analog difference I⁺ − I⁻ of the two planes with one signed
 * ADC (`subtract = analog`) instead of each plane with its own unsigned ADC. Fidelity fast folds
 * the planes before its one layer-level signed ADC either way.
 */
export const analogSubtraction = (c: Pick<CrossbarSpec, 'subtract'>): boolean => c.subtract === 'analog';
/** Partial sums converted per slice and column: 2 (one per plane) or 1 (their analog difference). */
export const convertedPlanes = (c: Pick<CrossbarSpec, 'subtract'>): number => (analogSubtraction(c) ? 1 : 2);
/**
 * Digital recombination weight of each converted partial sum, plane-major, LSB slice first:
 * `planeSliceWeights` per plane, or 2^(cell_bits·k) per slice of the analog difference (its sign
 * is in the code).
 */
export function conversionWeights(c: Planes): number[] {
  const w = planeSliceWeights(c);
  return analogSubtraction(c) ? w.slice(0, weightSlices(c)) : w;
}
/** Largest code of a column ADC at fidelity exact: 2^bits − 1 (one plane, unsigned) or 2^(bits−1) − 1 (the signed difference, codes ±). */
export const columnMaxCode = (c: Pick<CrossbarSpec, 'subtract'>, adc: Pick<AdcSpec, 'bits'>): number => adcMaxCode(adc, analogSubtraction(c));

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
    return {
      kind: 'twos',
      bits,
      dacBits,
      qmax: 2 ** (bits - 1) - 1,
      streams: bits,
      weights: Array.from({ length: bits }, (_, j) => (j === bits - 1 ? -(2 ** j) : 2 ** j)),
    };
  }
  const Jm = Math.ceil((bits - 1) / dacBits);
  const mag = Array.from({ length: Jm }, (_, j) => base ** j);
  return { kind: 'signmag', bits, dacBits, qmax: 2 ** (bits - 1) - 1, streams: 2 * Jm, weights: [...mag, ...mag.map((w) => -w)] };
}

/** Activations whose outputs are never negative: ReLU (≥ 0) and sigmoid (in (0, 1)); tanh is signed. */
const NON_NEGATIVE_OPS: ReadonlySet<LayerOp['kind']> = new Set(['relu', 'sigmoid']);
/** Ops that keep their input's sign: a max or mean of non-negative values, or a reshape. */
const SIGN_PRESERVING_OPS: ReadonlySet<LayerOp['kind']> = new Set(['maxpool', 'avgpool', 'flatten']);

/**
 * Whether a layer's input can be negative: false when it comes (through pooling/flatten) from a
 * non-negative activation (relu, sigmoid). Anything else (the network input, tanh, batchnorm, add,
 * a weighted layer) counts as signed.
 */
export function inputSigned(net: PlanNetwork, layer: PlanLayer): boolean {
  const byName = new Map(net.layers.map((l) => [l.name, l]));
  let src = layer.inputs[0];
  for (let guard = 0; guard < 1000 && src && src !== 'input'; guard++) {
    const l = byName.get(src);
    if (!l) return true;
    if (NON_NEGATIVE_OPS.has(l.op.kind)) return false;
    if (SIGN_PRESERVING_OPS.has(l.op.kind)) src = l.inputs[0];
    else return true;
  }
  return true;
}

/** Unit current u = V_read/(2^dac − 1) · ΔG of a forward (or backward) MVM, in amperes. */
export function unitCurrent(c: Pick<CrossbarSpec, 'cellBits' | 'device'>, dacBits: number): number {
  return (c.device.vRead / (2 ** dacBits - 1)) * ((c.device.gOn - c.device.gOff) / maxLevel(c));
}

// ---- ADC -------------------------------------------------------------------------------------

/**
 * Largest code: unsigned per-column ADC (exact, one plane) or signed converter, codes
 * ±(2^(b−1) − 1) (fast's layer-level ADC; exact's on an analog plane difference). Signed codes are
 * symmetric, so a weight's sign flip negates its code; 1-bit signed converters (a `subtract =
 * analog` spec rejects them) are taken as ternary, ±1.
 */
export function adcMaxCode(adc: Pick<AdcSpec, 'bits'>, signed: boolean): number {
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

// ---- partial sums --------------------------------------------------------------------------------

/**
 * The largest partial sum of one tile conversion, rows·(2^dac − 1)·(2^cell − 1) with `cellBits` the
 * widest slice's bits, min(cell_bits, weight_bits) (a narrow top slice sums to less): what an ADC
 * must code to be lossless. (The usual shorthand log2(rows) + dac_bits + cell_bits is one bit short when
 * rows is a power of two and the cells and DACs are 1-bit: 128 rows can sum to 128, which needs 8 bits.)
 * It also bounds the analog difference of two planes: both sums lie in [0, P], so |I⁺ − I⁻| ≤ P, and
 * both ends are reached (a column all + or all − at the top level and digit).
 */
export function largestPartialSum(rows: number, dacBits: number, cellBits: number): number {
  return rows * (2 ** dacBits - 1) * (2 ** cellBits - 1);
}

/**
 * The narrowest ADC that converts every partial sum of a tile exactly: codes 0 … P (P =
 * `largestPartialSum`), or with `signed` (an analog plane difference, codes ±(2^(b−1) − 1)) codes
 * −P … P: 2^(b−1) − 1 ≥ P needs exactly one bit more than the unsigned 2^b − 1 ≥ P.
 */
export function losslessBits(rows: number, dacBits: number, cellBits: number, signed = false): number {
  return Math.ceil(Math.log2(largestPartialSum(rows, dacBits, cellBits) + 1)) + (signed ? 1 : 0);
}

// ---- drift ----------------------------------------------------------------------------------------

/** Drift factor (t/t₀)^(−ν) at evaluation time t (no drift before t₀). */
export function driftFactor(d: Pick<DeviceSpec, 'driftNu' | 'driftT0'>, t: number): number {
  return d.driftNu > 0 && t > d.driftT0 ? (t / d.driftT0) ** -d.driftNu : 1;
}

export function hasVariation(c: Pick<CrossbarSpec, 'device'>, t = 0): boolean {
  const d = c.device;
  return d.d2dSigma > 0 || d.pSa0 > 0 || d.pSa1 > 0 || driftFactor(d, t) !== 1;
}
