/**
 * Nonlinear cells (src/runtime/parasitics/{iv,nonlinear}.ts): the Newton line solver against a
 * dense Newton on the full nodal system (test/reference/nodal.ts) and against ngspice running the
 * netlist xbarc writes; the V0 → ∞ limit against the linear FCM; the secant linearisation exact at
 * its operating point.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mvm, type Wires } from '../../src/runtime/parasitics/circuit.js';
import { fcm, fcmTransposed } from '../../src/runtime/parasitics/fcm.js';
import type { IvModel } from '../../src/runtime/parasitics/iv.js';
import { linearizeTile, nonlinearCurrents, solveNonlinear, solveNonlinearTransposed } from '../../src/runtime/parasitics/nonlinear.js';
import { parasiticsOf, tileBackward, tileForward } from '../../src/runtime/parasitics/plan.js';
import { spiceNetlist } from '../../src/runtime/parasitics/spice.js';
import { Rng } from '../../src/runtime/rng.js';
import { denseNewton, type RefCurve } from '../reference/nodal.js';

function tile(rng: Rng, m: number, n: number, rLow: number, rHigh: number): Float64Array {
  return Float64Array.from({ length: m * n }, () => 1 / rHigh + rng.uniform() * (1 / rLow - 1 / rHigh));
}

/** Largest |a − ref| relative to the largest |ref|. */
function relErr(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  assert.equal(a.length, ref.length);
  let e = 0;
  let peak = 0;
  for (let i = 0; i < ref.length; i++) {
    e = Math.max(e, Math.abs(a[i]! - ref[i]!));
    peak = Math.max(peak, Math.abs(ref[i]!));
  }
  return e / peak;
}

/** The reference curves, written out independently of iv.ts. */
const sinhRef =
  (v0: number): RefCurve =>
  (x) => [v0 * Math.sinh(x / v0), Math.cosh(x / v0)];
const cubicRef =
  (k: number): RefCurve =>
  (x) => [x + k * x ** 3, 1 + 3 * k * x ** 2];
function tableRef(vs: number[], is: number[]): RefCurve {
  return (x) => {
    const a = Math.abs(x);
    const px = [0, ...vs];
    const py = [0, ...is];
    let k = 1;
    while (k < px.length - 1 && a > px[k]!) k++;
    const slope = (py[k]! - py[k - 1]!) / (px[k]! - px[k - 1]!);
    return [Math.sign(x) * (py[k - 1]! + slope * (a - px[k - 1]!)), slope];
  };
}

const table = { v: [0.05, 0.1, 0.2, 0.3, 0.5], i: [0.05, 0.102, 0.215, 0.34, 0.62] };
const curves: { iv: IvModel; ref: RefCurve; vmax: number }[] = [
  { iv: { kind: 'sinh', v0: 0.1 }, ref: sinhRef(0.1), vmax: 0.4 },
  { iv: { kind: 'cubic', k: -0.25 }, ref: cubicRef(-0.25), vmax: 1 },
  { iv: { kind: 'cubic', k: 0.5 }, ref: cubicRef(0.5), vmax: 0.8 },
  { iv: { kind: 'table', ...table }, ref: tableRef(table.v, table.i), vmax: 0.45 },
];
const circuits: { m: number; n: number; rLow: number; wires: Wires }[] = [
  { m: 4, n: 4, rLow: 10e3, wires: { row: 5, col: 8, source: 0, sense: 0 } },
  { m: 5, n: 7, rLow: 2e3, wires: { row: 2.5, col: 2.5, source: 500, sense: 100 } },
  { m: 8, n: 3, rLow: 1e3, wires: { row: 10, col: 4.6, source: 50, sense: 20 } },
];

test('the Newton line solver matches a dense Newton on the full nodal system, forward and transposed', () => {
  const rng = new Rng(41, 'test/nonlinear/dense');
  let worst = 0;
  for (const c of circuits)
    for (const cv of curves) {
      const g = tile(rng, c.m, c.n, c.rLow, 10 * c.rLow);
      const vf = Float64Array.from({ length: c.m }, () => cv.vmax * rng.uniform());
      const vt = Float64Array.from({ length: c.n }, () => cv.vmax * rng.uniform());
      const opts = { tol: 1e-12 };
      const f = solveNonlinear(g, c.m, c.n, c.wires, cv.iv, vf, opts).currents;
      const t = solveNonlinearTransposed(g, c.m, c.n, c.wires, cv.iv, vt, opts).currents;
      const ef = relErr(f, denseNewton(g, c.m, c.n, c.wires, cv.ref, vf));
      const et = relErr(t, denseNewton(g, c.m, c.n, c.wires, cv.ref, vt, true));
      assert.ok(ef < 1e-9 && et < 1e-9, `${cv.iv.kind} on ${c.m}×${c.n}: forward ${ef}, transposed ${et}`);
      worst = Math.max(worst, ef, et);
      // the nonlinearity is visible: the linear FCM differs by far more than the tolerance
      assert.ok(relErr(mvm(vf, fcm(g, c.m, c.n, c.wires, opts).gni, c.m, c.n), f) > 1e-4, `${cv.iv.kind}: nonlinear at these voltages`);
    }
  assert.ok(worst > 0);
});

test('with V0 → ∞ (small-signal conductance G) the sinh model is the linear FCM, forward and transposed', () => {
  const rng = new Rng(42, 'test/nonlinear/limit');
  const m = 16;
  const n = 12;
  const wires = { row: 2.5, col: 4.6, source: 500, sense: 100 };
  const g = tile(rng, m, n, 10e3, 100e3);
  const v = Float64Array.from({ length: 3 * m }, () => 0.25 * rng.uniform());
  const vt = Float64Array.from({ length: 3 * n }, () => 0.25 * rng.uniform());
  const linF = mvm(v, fcm(g, m, n, wires, { tol: 1e-12 }).gni, m, n);
  const linT = mvm(vt, fcmTransposed(g, m, n, wires, { tol: 1e-12 }).gni, n, m);
  for (const iv of [{ kind: 'sinh', v0: 1e6 } as const, { kind: 'cubic', k: 0 } as const, { kind: 'linear' } as const]) {
    const nf = nonlinearCurrents(g, m, n, wires, iv, v, false, { tol: 1e-12 }).currents;
    const nt = nonlinearCurrents(g, m, n, wires, iv, vt, true, { tol: 1e-12 }).currents;
    assert.ok(relErr(nf, linF) < 1e-9, `${iv.kind} forward ${relErr(nf, linF)}`);
    assert.ok(relErr(nt, linT) < 1e-9, `${iv.kind} transposed ${relErr(nt, linT)}`);
    const lin = linearizeTile(g, m, n, wires, iv, 0.25, false, { tol: 1e-12 }).gni;
    assert.ok(relErr(lin, fcm(g, m, n, wires, { tol: 1e-12 }).gni) < 1e-9, `${iv.kind} linearised matrix`);
  }
  // a finite V0 is measurably different
  const nf = nonlinearCurrents(g, m, n, wires, { kind: 'sinh', v0: 0.2 }, v).currents;
  assert.ok(relErr(nf, linF) > 1e-3);
});

test('the per-tile linearisation is exact at its operating point, forward and transposed, and reports the error elsewhere', () => {
  const rng = new Rng(43, 'test/nonlinear/linearise');
  const m = 12;
  const n = 10;
  const wires = { row: 2.5, col: 2.5, source: 500, sense: 100 };
  const iv: IvModel = { kind: 'sinh', v0: 0.1 };
  const g = tile(rng, m, n, 10e3, 100e3);
  const opts = { tol: 1e-12 };
  const lf = linearizeTile(g, m, n, wires, iv, 0.3, false, opts);
  const at = new Float64Array(m).fill(0.3);
  assert.ok(relErr(mvm(at, lf.gni, m, n), solveNonlinear(g, m, n, wires, iv, at, opts).currents) < 1e-9);
  const lt = linearizeTile(g, m, n, wires, iv, 0.3, true, opts);
  const att = new Float64Array(n).fill(0.3);
  assert.ok(relErr(mvm(att, lt.gni, n, m), solveNonlinearTransposed(g, m, n, wires, iv, att, opts).currents) < 1e-9);
  // secant conductances grow with the voltage (sinh is convex for V > 0)
  for (let k = 0; k < g.length; k++) assert.ok(lf.secant[k]! > g[k]!);
  // elsewhere (half the voltage on every row) it is an approximation
  const half = new Float64Array(m).fill(0.15);
  assert.ok(relErr(mvm(half, lf.gni, m, n), solveNonlinear(g, m, n, wires, iv, half, opts).currents) > 1e-3);
});

test('a cubic curve driven past its increasing range is refused with the limit named', () => {
  const g = new Float64Array(4).fill(1e-4);
  assert.throws(
    () => solveNonlinear(g, 2, 2, { row: 1, col: 1, source: 0, sense: 0 }, { kind: 'cubic', k: -0.25 }, [1.5, 1.5]),
    /increasing range \(\|V\| < 1\.155 V\)/,
  );
  assert.throws(
    () => solveNonlinear(g, 2, 2, { row: 1, col: 1, source: 0, sense: 0 }, { kind: 'table', v: [0.1, 0.05], i: [0.1, 0.2] }, [1, 1]),
    /strictly increasing/,
  );
});

test('zero wires: each cell sees its row voltage, I_j = Σ_i G·h(V_i)', () => {
  const g = Float64Array.from([1e-5, 2e-5, 3e-5, 4e-5]);
  const r = solveNonlinear(g, 2, 2, { row: 0, col: 0, source: 0, sense: 0 }, { kind: 'sinh', v0: 0.1 }, [0.2, 0.3]);
  const h = (x: number) => 0.1 * Math.sinh(x / 0.1);
  assert.ok(relErr(r.currents, [1e-5 * h(0.2) + 3e-5 * h(0.3), 2e-5 * h(0.2) + 4e-5 * h(0.3)]) < 1e-14);
});

/** ngspice's column currents for a netlist (`print i(vm0) …` lines). */
function runNgspice(netlist: string, cols: number): Float64Array {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-ngspice-'));
  const file = join(dir, 'tile.cir');
  writeFileSync(file, netlist);
  // ngspice -b exits 1 after a .control block ("no simulations run" for the missing .print); the
  // printed currents are the result.
  const run = spawnSync('ngspice', ['-b', file], { encoding: 'utf8' });
  const out = `${run.stdout}${run.stderr}`;
  const I = new Float64Array(cols).fill(NaN);
  for (const m of out.matchAll(/^i\(vm(\d+)\)\s*=\s*(\S+)/gim)) I[Number(m[1])] = Number(m[2]);
  assert.ok(
    I.every((x) => Number.isFinite(x)),
    `ngspice printed every column current:\n${out.slice(-2000)}`,
  );
  return I;
}

function haveNgspice(): boolean {
  try {
    execFileSync('ngspice', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// Without ngspice this test fails (it never skips silently); XBARC_SKIP_NGSPICE=1 skips it by name.
test(
  'ngspice runs the nonlinear netlist (behavioural sources) to the Newton solver’s currents',
  { skip: process.env['XBARC_SKIP_NGSPICE'] === '1' ? 'XBARC_SKIP_NGSPICE=1' : false },
  () => {
    assert.ok(haveNgspice(), 'ngspice is not installed: install it (Debian: apt-get install ngspice) or set XBARC_SKIP_NGSPICE=1 to skip this test explicitly');
    const rng = new Rng(44, 'test/nonlinear/ngspice');
    const m = 6;
    const n = 5;
    const wires = { row: 2.5, col: 4.6, source: 500, sense: 100 };
    const g = tile(rng, m, n, 5e3, 50e3);
    for (const cv of [...curves, { iv: { kind: 'linear' } as IvModel, ref: sinhRef(1e9), vmax: 0.5 }]) {
      const v = Float64Array.from({ length: m }, () => cv.vmax * (0.2 + 0.8 * rng.uniform()));
      const ours = solveNonlinear(g, m, n, wires, cv.iv, v, { tol: 1e-12 }).currents;
      const spice = runNgspice(spiceNetlist(g, m, n, wires, v, `test ${cv.iv.kind}`, cv.iv), n);
      const e = relErr(spice, ours);
      // nonlinear netlists carry tight .options and 15 printed digits (measured ~1e-11); the linear
      // one runs at ngspice's defaults (7 digits)
      assert.ok(e < (cv.iv.kind === 'linear' ? 1e-6 : 1e-9), `${cv.iv.kind}: ngspice vs Newton ${e}`);
    }
  },
);

test('plan folding: a nonlinear device is linearised at fold_at·v_read, also under parasitics = none (zero wires)', () => {
  const rng = new Rng(45, 'test/nonlinear/plan');
  const m = 6;
  const n = 5;
  const g = tile(rng, m, n, 10e3, 100e3);
  const device = { vRead: 0.3, iv: { kind: 'sinh', v0: 0.1, fold_at: 0.5 } as const };
  const none = parasiticsOf({ rows: m, cols: n, wires: { row: 2, col: 3, source: 0, sense: 0 }, parasitics: { kind: 'none' }, device });
  assert.equal(none.kind, 'fcm');
  assert.deepEqual(none.wires, { row: 0, col: 0, source: 0, sense: 0 });
  assert.equal(none.vOp, 0.15);
  const f = (0.1 * Math.sinh(0.15 / 0.1)) / 0.15;
  const folded = tileForward(g, none);
  for (let k = 0; k < g.length; k++) assert.ok(Math.abs(folded[k]! / (g[k]! * f) - 1) < 1e-12);
  const wires = { row: 2, col: 3, source: 100, sense: 50 };
  const cfg = parasiticsOf({ rows: m, cols: n, wires, parasitics: { kind: 'fcm', refresh: 1, backward: 'transposed' }, device });
  assert.ok(relErr(tileForward(g, cfg), linearizeTile(g, m, n, wires, { kind: 'sinh', v0: 0.1 }, 0.15).gni) < 1e-12);
  assert.ok(relErr(tileBackward(g, cfg), linearizeTile(g, m, n, wires, { kind: 'sinh', v0: 0.1 }, 0.15, true).gni) < 1e-12);
  // a linear device keeps parasitics = none as it is
  assert.equal(parasiticsOf({ rows: m, cols: n, wires, parasitics: { kind: 'none' }, device: { vRead: 0.3, iv: { kind: 'linear' } } }).kind, 'none');
});
