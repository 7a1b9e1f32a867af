/**
 * Nonlinear device I-V curves (docs/parasitics.md, "Nonlinear devices"). A cell's state is its
 * programmed conductance G, the small-signal conductance at V → 0; every curve is I(V) = G·h(V)
 * with h(0) = 0, h'(0) = 1, and odd (h(−V) = −h(V)), so the same curve serves the forward drive
 * (word line → bit line) and the transposed one (bit line → word line).
 *
 *   - linear:  h(V) = V.
 *   - sinh:    h(V) = V0·sinh(V/V0) — the GENIEx / Stanford-PKU form I = I0·exp(−d/d0)·sinh(V/V0)
 *              with I0·exp(−d/d0) = G·V0 (the gap d sets the state; V0 the curvature).
 *   - cubic:   h(V) = V + k·V³ — CrossSim's CubicDevice is k = −0.25 V⁻² ("I = G0·(V − 0.25·V³)").
 *              With k < 0 the curve is monotone only for |V| < 1/sqrt(3|k|); the solvers refuse a
 *              cell voltage beyond it.
 *   - table:   h through the user's points (V_k, h_k), V_k > 0 strictly increasing, h_k > 0
 *              non-decreasing, with the implicit point (0, 0): piecewise-linear interpolation
 *              (monotone, and the same curve ngspice's `pwl()` draws), odd-extended to V < 0 and
 *              continued with the last segment's slope beyond the last point.
 */

export type IvModel = { kind: 'linear' } | { kind: 'sinh'; v0: number } | { kind: 'cubic'; k: number } | { kind: 'table'; v: number[]; i: number[] };

/** h(V) and h'(V) of a curve at one voltage (I = G·h, dI/dV = G·h'). */
export interface IvPoint {
  h: number;
  dh: number;
}

export function isLinear(iv: IvModel): boolean {
  return iv.kind === 'linear' || (iv.kind === 'cubic' && iv.k === 0) || (iv.kind === 'sinh' && iv.v0 === Infinity);
}

export function checkIv(iv: IvModel): void {
  if (iv.kind === 'sinh' && !(iv.v0 > 0)) throw new RangeError(`iv sinh: v0 must be > 0 V, got ${iv.v0}`);
  if (iv.kind === 'cubic' && !Number.isFinite(iv.k)) throw new RangeError(`iv cubic: k must be finite, got ${iv.k}`);
  if (iv.kind === 'table') {
    const { v, i } = iv;
    if (v.length < 1 || v.length !== i.length) throw new RangeError(`iv table: needs as many currents as voltages (≥ 1), got ${v.length} and ${i.length}`);
    for (let k = 0; k < v.length; k++) {
      if (!(v[k]! > (k > 0 ? v[k - 1]! : 0))) throw new RangeError(`iv table: voltages must be > 0 and strictly increasing (point ${k}: ${v[k]})`);
      if (!(i[k]! > 0 && (k === 0 || i[k]! >= i[k - 1]!)) || !Number.isFinite(i[k]!))
        throw new RangeError(`iv table: I/G values must be > 0 and non-decreasing (point ${k}: ${i[k]})`);
    }
  }
}

/** The largest |V| where the curve is still strictly increasing (Infinity for all but cubic with k < 0). */
export function monotoneLimit(iv: IvModel): number {
  return iv.kind === 'cubic' && iv.k < 0 ? 1 / Math.sqrt(-3 * iv.k) : Infinity;
}

/** Writes h(V) and h'(V) into `out` (allocation-free: the solvers call it per cell and sweep). */
export function evalIv(iv: IvModel, x: number, out: IvPoint): IvPoint {
  switch (iv.kind) {
    case 'linear':
      out.h = x;
      out.dh = 1;
      return out;
    case 'sinh': {
      const t = x / iv.v0;
      if (Math.abs(t) < 1e-4) {
        // sinh(t) = t + t³/6 + …: the series avoids the cancellation of (e − 1/e)/2 near 0.
        const t2 = t * t;
        out.h = x * (1 + t2 / 6);
        out.dh = 1 + t2 / 2;
        return out;
      }
      const e = Math.exp(t);
      const ei = 1 / e;
      out.h = 0.5 * iv.v0 * (e - ei);
      out.dh = 0.5 * (e + ei);
      return out;
    }
    case 'cubic':
      out.h = x + iv.k * x * x * x;
      out.dh = 1 + 3 * iv.k * x * x;
      return out;
    case 'table':
      return tableEval(iv.v, iv.i, x, out);
  }
}

function tableEval(v: number[], i: number[], x: number, out: IvPoint): IvPoint {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const n = v.length;
  // segment k joins point k−1 (or the origin) and point k; beyond the last point, the last segment
  let k = 0;
  while (k < n - 1 && a > v[k]!) k++;
  const x0 = k > 0 ? v[k - 1]! : 0;
  const y0 = k > 0 ? i[k - 1]! : 0;
  const slope = (i[k]! - y0) / (v[k]! - x0);
  out.h = s * (y0 + slope * (a - x0));
  out.dh = slope;
  return out;
}

/** The secant conductance factor h(V)/V (→ h'(0) = 1 as V → 0). */
export function secantFactor(iv: IvModel, x: number, p: IvPoint): number {
  if (x === 0) return iv.kind === 'table' ? iv.i[0]! / iv.v[0]! : 1;
  evalIv(iv, x, p);
  return p.h / x;
}
