/** The circuit of fcm.ts as a SPICE netlist, for cross-checking against ngspice. */

import { checkTile, checkWires, type Wires } from './circuit.js';
import { checkIv, isLinear, type IvModel } from './iv.js';

/**
 * An ngspice-compatible netlist of the same circuit (forward drive), for cross-checking: inputs V
 * (one per row, volts), every resistor in Ω, and zero-volt sources `vm<j>` in series with the
 * sense resistors so `print i(vm0) …` shows the column currents (A, positive into the sense).
 * Zero resistances are written as 1 µΩ (SPICE needs non-zero resistors). Nonlinear cells (`iv`,
 * iv.ts) are behavioural current sources `bcell<i>_<j> u w i = G·h(v(u, w))`, with tight `.options`
 * tolerances so ngspice's Newton stops near machine precision.
 */
export function spiceNetlist(
  g: ArrayLike<number>,
  rows: number,
  cols: number,
  wires: Wires,
  v: ArrayLike<number>,
  title = 'xbarc crossbar',
  iv: IvModel = { kind: 'linear' },
): string {
  checkTile(g, rows, cols);
  checkWires(wires);
  checkIv(iv);
  const nonlinear = !isLinear(iv);
  if (v.length !== rows) throw new RangeError(`spiceNetlist: ${v.length} inputs for ${rows} rows`);
  const r = (x: number) =>
    (x > 0 ? x : 1e-6)
      .toPrecision(12)
      .replace(/\.?0+$/, '')
      .replace(/\.?0+e/, 'e');
  const num = (x: number) => x.toPrecision(17);
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
      if (x > 0 && !nonlinear) out.push(`rcell${i}_${j} u${i}_${j} w${i}_${j} ${r(1 / x)}`);
      else if (x > 0) out.push(`bcell${i}_${j} u${i}_${j} w${i}_${j} i = ${ivExpression(iv, num(x), `v(u${i}_${j},w${i}_${j})`)}`);
    }
  for (let j = 0; j < cols; j++) {
    for (let i = 1; i < rows; i++) out.push(`rcol${i}_${j} w${i - 1}_${j} w${i}_${j} ${r(wires.col)}`);
    out.push(`rcol${rows}_${j} w${rows - 1}_${j} s${j} ${r(wires.col)}`);
    out.push(`rsense${j} s${j} m${j} ${r(wires.sense)}`);
    out.push(`vm${j} m${j} 0 dc 0`);
  }
  if (nonlinear) out.push('.options reltol=1e-9 abstol=1e-18 vntol=1e-12 itl1=500');
  out.push(
    '.control',
    ...(nonlinear ? ['set numdgt=15'] : []),
    'op',
    `print ${Array.from({ length: cols }, (_, j) => `i(vm${j})`).join(' ')}`,
    '.endc',
    '.end',
    '',
  );
  return out.join('\n');
}

/** The behavioural current G·h(V) of one cell, V the ngspice expression of its voltage. */
function ivExpression(iv: IvModel, g: string, x: string): string {
  const n = (y: number) => y.toPrecision(17);
  switch (iv.kind) {
    case 'linear':
      return `${g}*${x}`;
    case 'sinh':
      return `${g}*${n(iv.v0)}*sinh(${x}/${n(iv.v0)})`;
    case 'cubic':
      return `${g}*(${x}+${n(iv.k)}*${x}*${x}*${x})`;
    case 'table': {
      // Odd extension through the origin, and one far point each way on the last segment's slope
      // (xbarc extrapolates linearly; the far points make ngspice do the same).
      const last = iv.v.length - 1;
      const x0 = last > 0 ? iv.v[last - 1]! : 0;
      const y0 = last > 0 ? iv.i[last - 1]! : 0;
      const slope = (iv.i[last]! - y0) / (iv.v[last]! - x0);
      const far = 1e3 * Math.max(1, iv.v[last]!);
      const yFar = iv.i[last]! + slope * (far - iv.v[last]!);
      const pts: [number, number][] = [[far, yFar], ...iv.v.map((vk, k): [number, number] => [vk, iv.i[k]!]).reverse()];
      const neg = pts.map(([a, b]) => `${n(-a)},${n(-b)}`);
      const pos = [...pts].reverse().map(([a, b]) => `${n(a)},${n(b)}`);
      return `${g}*pwl(${x},${[...neg, '0,0', ...pos].join(',')})`;
    }
  }
}
