/**
 * The tile circuit every parasitics model shares (topology in fcm.ts): the wire resistances, the
 * checks of a tile's conductances and wires, and the plain matrix helpers.
 */

export interface Wires {
  /** Word-line segment resistance between adjacent cells (Ω). */
  row: number;
  /** Bit-line segment resistance between adjacent cells (Ω). */
  col: number;
  /** Driver (source) resistance R_source (Ω). */
  source: number;
  /** Sense (sink) resistance R_sense (Ω). */
  sense: number;
}

export function checkWires(w: Wires): void {
  for (const k of ['row', 'col', 'source', 'sense'] as const) {
    const v = w[k];
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new RangeError(`wires.${k} must be a finite resistance ≥ 0 Ω, got ${v}`);
  }
}

export function checkTile(g: ArrayLike<number>, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1)
    throw new RangeError(`tile size must be positive integers, got ${rows} × ${cols}`);
  if (g.length !== rows * cols) throw new RangeError(`conductance array has ${g.length} values, a ${rows} × ${cols} tile needs ${rows * cols}`);
  for (let i = 0; i < g.length; i++) {
    const x = g[i]!;
    if (!(x >= 0 && Number.isFinite(x))) throw new RangeError(`conductance [${Math.floor(i / cols)}, ${i % cols}] must be a finite value ≥ 0 S, got ${x}`);
  }
}

export function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}

/** Currents I[b, j] = Σ_i V[b, i]·Geff[i, j] for a batch of B input vectors (row-major B × M). */
export function mvm(v: ArrayLike<number>, geff: ArrayLike<number>, rows: number, cols: number): Float64Array {
  if (v.length % rows !== 0) throw new RangeError(`inputs hold ${v.length} values, not a multiple of the ${rows} rows`);
  const batch = v.length / rows;
  const out = new Float64Array(batch * cols);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < rows; i++) {
      const x = v[b * rows + i]!;
      if (x === 0) continue;
      const o = b * cols;
      const r = i * cols;
      for (let j = 0; j < cols; j++) out[o + j]! += x * geff[r + j]!;
    }
  }
  return out;
}
