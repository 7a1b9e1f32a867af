/**
 * Programming a crossbar layer (MODELS.md §1–2): the device state sampled once at programming
 * (D2D variation, stuck-at faults, drift) and, at fidelity fast, the folded matrix programmed in
 * TypeScript. The arithmetic (slices, levels, encodings, ADC codes) is src/model/crossbar-math.ts;
 * the crossbar and device records are the plan's (src/model/crossbar.ts).
 */

import type { CrossbarSpec } from '../../model/crossbar.js';
import { driftFactor, gOffLevels, maxLevel, offsetZ, planeSliceWeights, weightQmax, weightSlices } from '../../model/crossbar-math.js';
import { Rng } from '../rng.js';

// ---- programming-time non-idealities ------------------------------------------------------------

export interface Programming {
  /** L_eff = level · A + B per cell, [2, S, K, N] (plane, slice, row, column). */
  A: Float32Array;
  B: Float32Array;
  dims: [number, number, number, number];
}

/**
 * Sample the static device state of a layer's arrays once, at programming: D2D factors from
 * stream "d2d/<layer>", stuck-at faults from "stuck/<layer>" (the reference column of offset
 * mapping from ".../ref", one per row, slice and column tile). A cell at nominal level ℓ then
 * reads L = (ℓ + g₀)·f − g₀ level units with f = D2D factor × drift, g₀ = G_off/ΔG; a stuck-at-0
 * cell reads 0 (G_off) and a stuck-at-1 cell reads 2^cell_bits − 1 (G_on).
 */
export function programDevices(c: CrossbarSpec, layer: string, K: number, N: number, seed: number, evalTime = 0): Programming {
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
export function foldDevices(c: CrossbarSpec, A: ArrayLike<number>, B: ArrayLike<number>, K: number, N: number, layout: 'kn' | 'nk'): FoldedDevices {
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
export function programFolded(
  c: CrossbarSpec,
  w: Float32Array,
  dev: FoldedDevices | null,
  out: Float32Array,
  back?: { dev: FoldedDevices; out: Float32Array },
  prev?: Int32Array,
): number {
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
