/** Parasitics from a plan: a plan crossbar's parasitic model and its effective matrices. */

import type { CrossbarSpec } from '../../model/crossbar.js';
import { aam, aamTransposed } from './aam.js';
import { checkWires, transpose, type Wires } from './circuit.js';
import { fcm, fcmTransposed, type FcmOptions } from './fcm.js';

export interface ParasiticsConfig {
  kind: 'none' | 'fcm' | 'aam';
  /** fcm: recompute every `refresh` batches (interpolated FCM in between). */
  refresh: number;
  /** Backward pass: solve the transposed-drive circuit, or reuse the forward matrix transposed. */
  backward: 'transposed' | 'reuse';
  wires: Wires;
  rows: number;
  cols: number;
}

/** The parasitic model of a plan crossbar (its `parasitics`, `wires` and tile size). */
export function parasiticsOf(xb: Pick<CrossbarSpec, 'parasitics' | 'wires' | 'rows' | 'cols'>): ParasiticsConfig {
  const p = xb.parasitics;
  const wires: Wires = { ...xb.wires };
  checkWires(wires);
  return {
    kind: p.kind,
    refresh: p.kind === 'fcm' ? p.refresh : 1,
    backward: p.kind === 'none' ? 'transposed' : p.backward,
    wires,
    rows: xb.rows,
    cols: xb.cols,
  };
}

/** Forward effective matrix (M × N) under a parasitics config (`none`: G itself). */
export function forwardEffective(g: ArrayLike<number>, cfg: ParasiticsConfig, opts: FcmOptions = {}): Float64Array {
  if (cfg.kind === 'none') return Float64Array.from(g);
  if (cfg.kind === 'aam') return aam(g, cfg.rows, cfg.cols, cfg.wires);
  return fcm(g, cfg.rows, cfg.cols, cfg.wires, opts).gni;
}

/**
 * Backward effective matrix (N × M: drive column j → current of row i) under a parasitics config:
 * the transposed-drive circuit, or (`backward = reuse`) the forward matrix transposed — pass
 * `forward` to reuse one already computed.
 */
export function backwardEffective(g: ArrayLike<number>, cfg: ParasiticsConfig, opts: FcmOptions = {}, forward?: ArrayLike<number>): Float64Array {
  if (cfg.kind === 'none') return transpose(g, cfg.rows, cfg.cols);
  if (cfg.backward === 'reuse') return transpose(forward ?? forwardEffective(g, cfg, opts), cfg.rows, cfg.cols);
  if (cfg.kind === 'aam') return aamTransposed(g, cfg.rows, cfg.cols, cfg.wires);
  return fcmTransposed(g, cfg.rows, cfg.cols, cfg.wires, opts).gni;
}
