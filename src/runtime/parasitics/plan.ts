/**
 * Parasitics from a plan: a plan crossbar's parasitic model and its effective matrices. With a
 * nonlinear device I-V curve (iv.ts) the matrices are the per-tile secant linearisation at the
 * operating point (nonlinear.ts): every driven line at `vOp` = fold_at·v_read.
 */

import { statSync } from 'node:fs';
import type { CrossbarSpec, DeviceSpec, IvModelSpec } from '../../model/crossbar.js';
import { XbarcRuntimeError } from '../../model/errors.js';
import { aam, aamTransposed, type AamForm } from './aam.js';
import { checkWires, transpose, type Wires } from './circuit.js';
import { fcm, fcmTransposed, type FcmOptions } from './fcm.js';
import { isLinear, secantFactor, type IvModel } from './iv.js';
import { linearizeTile } from './nonlinear.js';
import { loadSurrogate } from './surrogate-file.js';
import type { SurrogateModel } from './surrogate-model.js';
import { surrogateEffective } from './surrogate-tile.js';

export interface ParasiticsConfig {
  kind: 'none' | 'fcm' | 'aam' | 'surrogate';
  /** fcm, surrogate: recompute every `refresh` batches (interpolated in between). */
  refresh: number;
  /** Backward pass: solve the transposed-drive circuit, or reuse the forward matrix transposed. */
  backward: 'transposed' | 'reuse';
  wires: Wires;
  rows: number;
  cols: number;
  /** The cells' read I-V curve (linear unless the device declares one). */
  iv: IvModel;
  /** aam: the line-loaded or the lumped path model. */
  aamForm: AamForm;
  /** Operating point of the linearisation of a nonlinear curve: every driven line at vOp (V). */
  vOp: number;
  /** The loaded surrogate (kind `surrogate`). */
  surrogate?: SurrogateModel;
}

/** Surrogates by file, loaded once per process (a run's layers share the crossbar's file). */
const loaded = new Map<string, SurrogateModel>();

/** The surrogate of a crossbar: its file, loaded and checked against the tile size. */
export function surrogateFor(file: string, rows: number, cols: number): SurrogateModel {
  // Keyed by the file's identity and time, so a file rewritten in the same process is read again.
  let key = file;
  try {
    const st = statSync(file);
    key = `${file}\0${st.mtimeMs}\0${st.size}`;
  } catch {
    // loadSurrogate reports the missing file
  }
  let m = loaded.get(key);
  if (!m) {
    m = loadSurrogate(file);
    loaded.set(key, m);
  }
  if (m.rows !== rows || m.cols !== cols)
    throw new XbarcRuntimeError('surrogate/size', `${file}: the surrogate was trained for ${m.rows} × ${m.cols} tiles, the crossbar's are ${rows} × ${cols}`);
  return m;
}

/** The runtime curve of a plan device's `iv`. */
export function ivOf(spec: IvModelSpec | undefined): IvModel {
  if (!spec || spec.kind === 'linear') return { kind: 'linear' };
  if (spec.kind === 'sinh') return { kind: 'sinh', v0: spec.v0 };
  if (spec.kind === 'cubic') return { kind: 'cubic', k: spec.k };
  return { kind: 'table', v: spec.v, i: spec.i };
}

/**
 * The parasitic model of a plan crossbar (its `parasitics`, `wires`, tile size and device curve).
 * A nonlinear device under `parasitics = none` still needs its tile folded: it becomes the
 * zero-wire circuit (each cell at its secant conductance at vOp), solved every batch.
 */
export function parasiticsOf(
  xb: Pick<CrossbarSpec, 'parasitics' | 'wires' | 'rows' | 'cols'> & { device?: Pick<DeviceSpec, 'iv' | 'vRead'> },
): ParasiticsConfig {
  const p = xb.parasitics;
  const wires: Wires = { ...xb.wires };
  checkWires(wires);
  const ivSpec = xb.device?.iv;
  const iv = ivOf(ivSpec);
  const vOp = ivSpec && ivSpec.kind !== 'linear' ? ivSpec.fold_at * xb.device!.vRead : 0;
  if (p.kind === 'none' && !isLinear(iv))
    return {
      kind: 'fcm',
      refresh: 1,
      backward: 'transposed',
      wires: { row: 0, col: 0, source: 0, sense: 0 },
      rows: xb.rows,
      cols: xb.cols,
      aamForm: 'loaded',
      iv,
      vOp,
    };
  const cfg: ParasiticsConfig = {
    kind: p.kind,
    refresh: p.kind === 'fcm' || p.kind === 'surrogate' ? p.refresh : 1,
    backward: p.kind === 'none' ? 'transposed' : p.kind === 'surrogate' ? 'reuse' : p.backward,
    wires,
    rows: xb.rows,
    cols: xb.cols,
    aamForm: p.kind === 'aam' ? p.form : 'loaded',
    iv,
    vOp,
  };
  if (p.kind === 'surrogate') cfg.surrogate = surrogateFor(p.file, xb.rows, xb.cols);
  return cfg;
}

/** Each cell at its secant conductance with the full vOp across it (AAM's cell curve: no line drop). */
function secantAtVop(g: ArrayLike<number>, cfg: ParasiticsConfig): Float64Array {
  const f = secantFactor(cfg.iv, cfg.vOp, { h: 0, dh: 0 });
  return Float64Array.from(g, (x) => x * f);
}

/** The forward matrix of one tile: FCM or AAM, through the linearisation when the curve is nonlinear. */
export function tileForward(g: ArrayLike<number>, cfg: ParasiticsConfig, opts: FcmOptions = {}): Float64Array {
  const linear = isLinear(cfg.iv);
  if (cfg.kind === 'aam') return aam(linear ? g : secantAtVop(g, cfg), cfg.rows, cfg.cols, cfg.wires, cfg.aamForm);
  if (!linear) return linearizeTile(g, cfg.rows, cfg.cols, cfg.wires, cfg.iv, cfg.vOp, false, opts).gni;
  return fcm(g, cfg.rows, cfg.cols, cfg.wires, opts).gni;
}

/** The transposed-drive matrix (N × M) of one tile, as `tileForward`. */
export function tileBackward(g: ArrayLike<number>, cfg: ParasiticsConfig, opts: FcmOptions = {}): Float64Array {
  const linear = isLinear(cfg.iv);
  if (cfg.kind === 'aam') return aamTransposed(linear ? g : secantAtVop(g, cfg), cfg.rows, cfg.cols, cfg.wires, cfg.aamForm);
  if (!linear) return linearizeTile(g, cfg.rows, cfg.cols, cfg.wires, cfg.iv, cfg.vOp, true, opts).gni;
  return fcmTransposed(g, cfg.rows, cfg.cols, cfg.wires, opts).gni;
}

/** Forward effective matrix (M × N) under a parasitics config (`none`: G itself). */
export function forwardEffective(g: ArrayLike<number>, cfg: ParasiticsConfig, opts: FcmOptions = {}): Float64Array {
  if (cfg.kind === 'none') return Float64Array.from(g);
  if (cfg.kind === 'surrogate') return surrogateEffective(cfg.surrogate!, g);
  return tileForward(g, cfg, opts);
}

/**
 * Backward effective matrix (N × M: drive column j → current of row i) under a parasitics config:
 * the transposed-drive circuit, or (`backward = reuse`) the forward matrix transposed — pass
 * `forward` to reuse one already computed.
 */
export function backwardEffective(g: ArrayLike<number>, cfg: ParasiticsConfig, opts: FcmOptions = {}, forward?: ArrayLike<number>): Float64Array {
  if (cfg.kind === 'none') return transpose(g, cfg.rows, cfg.cols);
  if (cfg.backward === 'reuse') return transpose(forward ?? forwardEffective(g, cfg, opts), cfg.rows, cfg.cols);
  return tileBackward(g, cfg, opts);
}
