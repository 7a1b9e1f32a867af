/** The circuit of fcm.ts as a SPICE netlist, for cross-checking against ngspice. */

import { checkTile, checkWires, type Wires } from './circuit.js';

/**
 * An ngspice-compatible netlist of the same circuit (forward drive), for cross-checking: inputs V
 * (one per row, volts), every resistor in Ω, and zero-volt sources `vm<j>` in series with the
 * sense resistors so `print i(vm0) …` shows the column currents (A, positive into the sense).
 * Zero resistances are written as 1 µΩ (SPICE needs non-zero resistors).
 */
export function spiceNetlist(g: ArrayLike<number>, rows: number, cols: number, wires: Wires, v: ArrayLike<number>, title = 'xbarc crossbar'): string {
  checkTile(g, rows, cols);
  checkWires(wires);
  if (v.length !== rows) throw new RangeError(`spiceNetlist: ${v.length} inputs for ${rows} rows`);
  const r = (x: number) =>
    (x > 0 ? x : 1e-6)
      .toPrecision(12)
      .replace(/\.?0+$/, '')
      .replace(/\.?0+e/, 'e');
  const out: string[] = [`* ${title}: ${rows} x ${cols}, forward drive (docs/parasitics.md)`];
  for (let i = 0; i < rows; i++) {
    out.push(`v${i} in${i} 0 dc ${v[i]!}`);
    out.push(`rsrc${i} in${i} d${i} ${r(wires.source)}`);
    out.push(`rrow${i}_0 d${i} u${i}_0 ${r(wires.row)}`);
    for (let j = 1; j < cols; j++) out.push(`rrow${i}_${j} u${i}_${j - 1} u${i}_${j} ${r(wires.row)}`);
  }
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      const x = g[i * cols + j]!;
      if (x > 0) out.push(`rcell${i}_${j} u${i}_${j} w${i}_${j} ${r(1 / x)}`);
    }
  for (let j = 0; j < cols; j++) {
    for (let i = 1; i < rows; i++) out.push(`rcol${i}_${j} w${i - 1}_${j} w${i}_${j} ${r(wires.col)}`);
    out.push(`rcol${rows}_${j} w${rows - 1}_${j} s${j} ${r(wires.col)}`);
    out.push(`rsense${j} s${j} m${j} ${r(wires.sense)}`);
    out.push(`vm${j} m${j} 0 dc 0`);
  }
  out.push('.control', 'op', `print ${Array.from({ length: cols }, (_, j) => `i(vm${j})`).join(' ')}`, '.endc', '.end', '');
  return out.join('\n');
}
