/**
 * Parasitics accuracy tables (docs/parasitics.md): the approximate models against the full circuit
 * on 64×64 tiles, measured in the same run, not timed.
 *   - AAM (line-loaded and lumped) against FCM across device-resistance ranges and wires: the mean
 *     |I_AAM − I_FCM|/I_FCM of the column currents for 16 random 0–1 V input vectors.
 *   - Nonlinear cells (sinh): the per-tile linearisation (runtime folding) against the Newton solve
 *     of every input vector, for bit-serial inputs (each row at 0 or v_read, the 1-bit DAC cycles)
 *     and analog ones (uniform 0–v_read), at two operating points (fold_at).
 */

import { aam } from '../src/runtime/parasitics/aam.js';
import { mvm, type Wires } from '../src/runtime/parasitics/circuit.js';
import { fcm } from '../src/runtime/parasitics/fcm.js';
import { linearizeTile, nonlinearCurrents } from '../src/runtime/parasitics/nonlinear.js';
import { Rng } from '../src/runtime/rng.js';
import type { Row, Section } from './harness.js';

const WIRES: [string, Wires][] = [
  ['TxSim 1 / 4.6 Ω', { row: 1, col: 4.6, source: 0, sense: 0 }],
  ['PUMA 2.5 / 2.5 Ω, 500 / 100 Ω', { row: 2.5, col: 2.5, source: 500, sense: 100 }],
  ['10 / 10 Ω', { row: 10, col: 10, source: 0, sense: 0 }],
];
const N = 64;

/** Devices uniform in conductance over [1/rHigh, 1/rLow]. */
function tile(rng: Rng, rLow: number, rHigh: number): Float64Array {
  return Float64Array.from({ length: N * N }, () => 1 / rHigh + rng.uniform() * (1 / rLow - 1 / rHigh));
}

/** Mean |I − I_ref|/I_ref. */
function meanRel(I: Float64Array, ref: Float64Array): number {
  let e = 0;
  for (let k = 0; k < I.length; k++) e += Math.abs(I[k]! - ref[k]!) / Math.abs(ref[k]!);
  return e / I.length;
}

const pct = (x: number) => `${(100 * x).toFixed(x < 0.001 ? 3 : 2)} %`;

function aamRows(): Row[] {
  const rows: Row[] = [];
  for (const [label, w] of WIRES) {
    for (const [lo, hi, range] of [
      [1e3, 10e3, '1–10 kΩ'],
      [10e3, 100e3, '10–100 kΩ'],
      [100e3, 1e6, '100 kΩ–1 MΩ'],
      [1e6, 10e6, '1–10 MΩ'],
    ] as const) {
      const rng = new Rng(Math.round(lo), 'bench/parasitics-accuracy/aam');
      const g = tile(rng, lo, hi);
      const v = Float64Array.from({ length: 16 * N }, () => rng.uniform());
      const ideal = mvm(v, g, N, N);
      const ref = mvm(v, fcm(g, N, N, w).gni, N, N);
      const loaded = meanRel(mvm(v, aam(g, N, N, w), N, N), ref);
      const lumped = meanRel(mvm(v, aam(g, N, N, w, 'lumped'), N, N), ref);
      rows.push({
        name: `AAM loaded vs FCM, 64×64, ${label}, ${range}`,
        value: 100 * loaded,
        unit: '%',
        note: `lumped: ${pct(lumped)}; FCM's own IR-drop error (ideal vs FCM): ${pct(meanRel(ideal, ref))}`,
      });
    }
  }
  return rows;
}

function nonlinearRows(): Row[] {
  const rows: Row[] = [];
  const vRead = 0.25;
  for (const [label, w] of WIRES.slice(0, 2)) {
    for (const v0 of [0.1, 0.25, 0.5]) {
      const rng = new Rng(Math.round(1000 * v0), 'bench/parasitics-accuracy/nonlinear');
      const g = tile(rng, 100e3, 1e6);
      const iv = { kind: 'sinh', v0 } as const;
      const bits = Float64Array.from({ length: 16 * N }, () => (rng.uniform() < 0.5 ? vRead : 0));
      const analog = Float64Array.from({ length: 16 * N }, () => vRead * rng.uniform());
      const exactBits = nonlinearCurrents(g, N, N, w, iv, bits).currents;
      const exactAnalog = nonlinearCurrents(g, N, N, w, iv, analog).currents;
      const at = (f: number) => linearizeTile(g, N, N, w, iv, f * vRead).gni;
      const full = at(1);
      const half = at(0.5);
      const lin = fcm(g, N, N, w).gni;
      rows.push({
        name: `sinh(V0 = ${v0} V) linearised, 64×64, ${label}, bit-serial 0 / 0.25 V inputs, fold_at 100 %`,
        value: 100 * meanRel(mvm(bits, full, N, N), exactBits),
        unit: '%',
        note: `fold_at 50 %: ${pct(meanRel(mvm(bits, half, N, N), exactBits))}; linear FCM: ${pct(meanRel(mvm(bits, lin, N, N), exactBits))}`,
      });
      rows.push({
        name: `sinh(V0 = ${v0} V) linearised, 64×64, ${label}, analog 0–0.25 V inputs, fold_at 50 %`,
        value: 100 * meanRel(mvm(analog, half, N, N), exactAnalog),
        unit: '%',
        note: `fold_at 100 %: ${pct(meanRel(mvm(analog, full, N, N), exactAnalog))}; linear FCM: ${pct(meanRel(mvm(analog, lin, N, N), exactAnalog))}`,
      });
    }
  }
  return rows;
}

export const section: Section = {
  name: 'parasitics accuracy (AAM vs FCM, nonlinear linearisation vs Newton)',
  run: async (): Promise<Row[]> => [...aamRows(), ...nonlinearRows()],
};
