/**
 * Interpolated FCM (TxSim): the distortion D = (G − G_ni)/G kept from a full circuit solve and
 * applied to the current conductances until the next solve.
 */

import { transpose, type Wires } from './circuit.js';
import { fcm, fcmTransposed, type FcmOptions } from './fcm.js';

/** Kept distortion D = (G − G_ni)/G (0 where G = 0). */
export function distortion(g: ArrayLike<number>, gni: ArrayLike<number>): Float64Array {
  if (g.length !== gni.length) throw new RangeError(`distortion: G has ${g.length} values, G_ni ${gni.length}`);
  const d = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) d[i] = g[i]! === 0 ? 0 : (g[i]! - gni[i]!) / g[i]!;
  return d;
}

/** Interpolated FCM between refreshes: G ⊙ (1 − D). */
export function applyDistortion(g: ArrayLike<number>, d: ArrayLike<number>, out = new Float64Array(g.length)): Float64Array {
  if (g.length !== d.length || out.length !== g.length) throw new RangeError(`applyDistortion: G has ${g.length} values, D ${d.length}, out ${out.length}`);
  for (let i = 0; i < g.length; i++) out[i] = g[i]! * (1 - d[i]!);
  return out;
}

/**
 * Interpolated FCM state: the full circuit is solved on the first call and every `refresh` calls
 * after it; in between, the kept distortion is applied to the current conductances.
 */
export class InterpolatedFcm {
  private d: Float64Array | null = null;
  private calls = 0;
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly wires: Wires,
    readonly refresh: number,
    readonly opts: FcmOptions & { transposed?: boolean } = {},
  ) {
    if (!(Number.isInteger(refresh) && refresh >= 1)) throw new RangeError(`refresh must be an integer ≥ 1, got ${refresh}`);
  }
  /** Effective matrix for the current G; `solved` says whether the circuit was solved this call. */
  effective(g: ArrayLike<number>): { gni: Float64Array; solved: boolean } {
    const due = this.d === null || this.calls % this.refresh === 0;
    this.calls++;
    if (due) {
      const gni = this.opts.transposed
        ? fcmTransposed(g, this.rows, this.cols, this.wires, this.opts).gni
        : fcm(g, this.rows, this.cols, this.wires, this.opts).gni;
      this.d = distortion(this.opts.transposed ? transpose(g, this.rows, this.cols) : g, gni);
      return { gni, solved: true };
    }
    const base = this.opts.transposed ? transpose(g, this.rows, this.cols) : g;
    return { gni: applyDistortion(base, this.d!), solved: false };
  }
}
