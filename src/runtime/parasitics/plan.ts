/** Parasitics from a plan: a plan crossbar's parasitic model and its effective matrices. */

import { statSync } from 'node:fs';
import type { CrossbarSpec } from '../../model/crossbar.js';
import { XbarcRuntimeError } from '../../model/errors.js';
import { aam, aamTransposed } from './aam.js';
import { checkWires, transpose, type Wires } from './circuit.js';
import { fcm, fcmTransposed, type FcmOptions } from './fcm.js';
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

/** The parasitic model of a plan crossbar (its `parasitics`, `wires` and tile size). */
export function parasiticsOf(xb: Pick<CrossbarSpec, 'parasitics' | 'wires' | 'rows' | 'cols'>): ParasiticsConfig {
  const p = xb.parasitics;
  const wires: Wires = { ...xb.wires };
  checkWires(wires);
  const cfg: ParasiticsConfig = {
    kind: p.kind,
    refresh: p.kind === 'fcm' || p.kind === 'surrogate' ? p.refresh : 1,
    backward: p.kind === 'none' ? 'transposed' : p.kind === 'surrogate' ? 'reuse' : p.backward,
    wires,
    rows: xb.rows,
    cols: xb.cols,
  };
  if (p.kind === 'surrogate') cfg.surrogate = surrogateFor(p.file, xb.rows, xb.cols);
  return cfg;
}

/** Forward effective matrix (M × N) under a parasitics config (`none`: G itself). */
export function forwardEffective(g: ArrayLike<number>, cfg: ParasiticsConfig, opts: FcmOptions = {}): Float64Array {
  if (cfg.kind === 'none') return Float64Array.from(g);
  if (cfg.kind === 'aam') return aam(g, cfg.rows, cfg.cols, cfg.wires);
  if (cfg.kind === 'surrogate') return surrogateEffective(cfg.surrogate!, g);
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
