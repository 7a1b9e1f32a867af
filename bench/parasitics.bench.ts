/**
 * Parasitics benchmarks: the full circuit model (FCM) of one tile — 64×64 (goal ≤ 5 ms) and
 * 128×128 (goal ≤ 40 ms) — against baselines measured in the same run: the dense float64 nodal
 * solve of the same circuit on a 16×16 tile (FCM on 16×16 is timed next to it) and the AAM formula.
 * The same solves with the portable JS loops (`kernel: 'js'`, the fallback without WebAssembly) are
 * timed against the default kernel. Nonlinear cells (sinh, V0 = 0.1 V, inputs 0–0.25 V) on 64×64:
 * one Newton solve per input vector and the per-tile linearisation, interleaved with the linear FCM
 * (goal: the nonlinear solve ≤ 10× the FCM solve), with the linearisation's current error.
 */

import { aam } from '../src/runtime/parasitics/aam.js';
import type { Wires } from '../src/runtime/parasitics/circuit.js';
import { mvm } from '../src/runtime/parasitics/circuit.js';
import { fcm } from '../src/runtime/parasitics/fcm.js';
import { linearizeTile, nonlinearCurrents, solveNonlinear } from '../src/runtime/parasitics/nonlinear.js';
import { fcmKernel } from '../src/runtime/parasitics/wasm-kernel.js';
import { Rng } from '../src/runtime/rng.js';
import { denseForward } from '../test/reference/nodal.js';
import { interleavedMedians, timeIt, versus, type Row, type Section } from './harness.js';

const TXSIM: Wires = { row: 1, col: 4.6, source: 0, sense: 0 };
const PUMA: Wires = { row: 2.5, col: 2.5, source: 500, sense: 100 };

function tile(n: number, seed: number): Float64Array {
  const rng = new Rng(seed, 'bench/parasitics');
  return Float64Array.from({ length: n * n }, () => 1e-6 + 9e-6 * rng.uniform()); // 100 kΩ – 1 MΩ
}

export const section: Section = {
  name: 'parasitics (FCM tile solve)',
  run: async (): Promise<Row[]> => {
    const rows: Row[] = [];
    const g16 = tile(16, 1);
    const dense = await timeIt(() => denseForward(g16, 16, 16, PUMA), { warmup: 1, reps: 3 });
    const denseRow: Row = { name: 'dense nodal solve 16×16 (512 nodes)', value: dense.medianMs, unit: 'ms' };
    rows.push(denseRow);
    const f16 = await timeIt(() => fcm(g16, 16, 16, PUMA), { warmup: 5, reps: 30 });
    rows.push(versus({ name: 'FCM 16×16, PUMA wires', value: f16.medianMs, unit: 'ms' }, denseRow));

    const jsRuns: (() => Promise<void>)[] = [];
    for (const [n, wires, label, goal] of [
      [64, TXSIM, 'TxSim wires (1 / 4.6 Ω)', 5],
      [64, PUMA, 'PUMA wires (2.5 Ω, 500 / 100 Ω)', 5],
      [128, TXSIM, 'TxSim wires (1 / 4.6 Ω)', 40],
      [128, PUMA, 'PUMA wires (2.5 Ω, 500 / 100 Ω)', 40],
    ] as const) {
      const g = tile(n, n);
      const a = await timeIt(() => aam(g, n, n, wires), { warmup: 5, reps: 30 });
      const aamRow: Row = { name: `AAM ${n}×${n}, ${label}`, value: a.medianMs, unit: 'ms' };
      const result = fcm(g, n, n, wires);
      const f = await timeIt(() => fcm(g, n, n, wires), { warmup: 2, reps: n > 64 ? 8 : 20 });
      rows.push(aamRow);
      const fcmRow: Row = versus(
        {
          name: `FCM ${n}×${n}, ${label}`,
          value: f.medianMs,
          unit: 'ms',
          note: `goal ≤ ${goal} ms; ${result.method} (${result.kernel ?? fcmKernel()} kernel), ${result.iterations} iterations, est. error ${result.errorEstimate.toExponential(1)}`,
        },
        aamRow,
      );
      rows.push(fcmRow);
      jsRuns.push(async () => {
        const js = await timeIt(() => fcm(g, n, n, wires, { kernel: 'js' }), { warmup: 1, reps: n > 64 ? 4 : 10 });
        const r = fcm(g, n, n, wires, { kernel: 'js' });
        rows.push(
          versus(
            {
              name: `FCM ${n}×${n}, ${label}, JS kernel`,
              value: js.medianMs,
              unit: 'ms',
              note: `${r.iterations} iterations, est. error ${r.errorEstimate.toExponential(1)}`,
            },
            fcmRow,
          ),
        );
      });
    }
    for (const run of jsRuns) await run();
    for (const [wires, label] of [
      [TXSIM, 'TxSim wires'],
      [PUMA, 'PUMA wires'],
    ] as const)
      rows.push(...(await nonlinearRows(wires, label)));
    return rows;
  },
};

/** 64×64 sinh cells: Newton per input vector and the per-tile linearisation against the linear FCM, interleaved. */
async function nonlinearRows(wires: Wires, label: string): Promise<Row[]> {
  const n = 64;
  const g = tile(n, 7);
  const iv = { kind: 'sinh', v0: 0.1 } as const;
  const vRead = 0.25;
  const rng = new Rng(8, 'bench/parasitics/nonlinear');
  const batch = Float64Array.from({ length: 16 * n }, () => vRead * rng.uniform());
  const one = batch.subarray(0, n);
  const [tFcm, tNewton, tLin] = await interleavedMedians(
    [async () => fcm(g, n, n, wires), async () => solveNonlinear(g, n, n, wires, iv, one), async () => linearizeTile(g, n, n, wires, iv, vRead / 2)],
    24,
  );
  const sweeps = solveNonlinear(g, n, n, wires, iv, one).iterations;
  // the linearisation at half the read voltage against the exact currents of 16 random input vectors
  const exact = nonlinearCurrents(g, n, n, wires, iv, batch).currents;
  const err = (geff: Float64Array) => {
    const I = mvm(batch, geff, n, n);
    let e = 0;
    for (let k = 0; k < I.length; k++) e += Math.abs(I[k]! - exact[k]!) / exact[k]!;
    return e / I.length;
  };
  const fcmRow: Row = { name: `FCM 64×64 (linear cells), ${label}`, value: tFcm!, unit: 'ms', note: 'interleaved with the two rows below' };
  return [
    fcmRow,
    versus(
      {
        name: `nonlinear 64×64 sinh(V0 = 0.1 V), ${label}: Newton solve of one input vector`,
        value: tNewton!,
        unit: 'ms',
        note: `goal ≤ 10× FCM; ${sweeps} sweeps`,
      },
      fcmRow,
    ),
    versus(
      {
        name: `nonlinear 64×64 sinh, ${label}: per-tile linearisation at 0.125 V`,
        value: tLin!,
        unit: 'ms',
        note: `mean |I_lin − I_exact|/I_exact over 16 random 0–0.25 V vectors: ${(100 * err(linearizeTile(g, n, n, wires, iv, vRead / 2).gni)).toFixed(2)} % (linear FCM: ${(100 * err(fcm(g, n, n, wires).gni)).toFixed(1)} %)`,
      },
      fcmRow,
    ),
  ];
}
