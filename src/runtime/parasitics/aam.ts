/**
 * The approximate lumped-path model (AAM, MODELS.md §2): each cell in series with the lumped
 * resistance of its shortest path to driver and sense (the path of the circuit in fcm.ts).
 */

import { checkTile, checkWires, transpose, type Wires } from './circuit.js';

/** AAM lumped path resistance of cell (i, j): R_source + (j+1)·r_row + (M−i)·r_col + R_sense. */
export function aamPathResistance(i: number, j: number, rows: number, wires: Wires): number {
  return wires.source + (j + 1) * wires.row + (rows - i) * wires.col + wires.sense;
}

/** AAM: G_ni[i, j] = 1 / (1/G_ij + R_ij) — each cell in series with its lumped shortest path. */
export function aam(g: ArrayLike<number>, rows: number, cols: number, wires: Wires): Float64Array {
  checkTile(g, rows, cols);
  checkWires(wires);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const x = g[i * cols + j]!;
      out[i * cols + j] = x / (1 + x * aamPathResistance(i, j, rows, wires));
    }
  }
  return out;
}

/**
 * AAM for the transposed drive (N × M): the lumped path from the bit-line driver to the word-line
 * sense passes the same segments, so it is the forward AAM transposed.
 */
export function aamTransposed(g: ArrayLike<number>, rows: number, cols: number, wires: Wires): Float64Array {
  const f = aam(g, rows, cols, { ...wires, source: wires.source, sense: wires.sense });
  return transpose(f, rows, cols);
}
