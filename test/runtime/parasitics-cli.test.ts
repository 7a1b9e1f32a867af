/**
 * `xbarc tile` (src/cli/tile-command.ts, registered on a bare commander program here because
 * main.ts wires it in separately) and the float64 .npy reader/writer (src/runtime/npy.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerTileCommand } from '../../src/cli/tile-command.js';
import { formatNpy64, parseNpy64, readNpy64, writeNpy64 } from '../../src/runtime/npy.js';
import { aam } from '../../src/runtime/parasitics/aam.js';
import { mvm } from '../../src/runtime/parasitics/circuit.js';
import { fcm, fcmTransposed } from '../../src/runtime/parasitics/fcm.js';
import { linearizeTile, nonlinearCurrents } from '../../src/runtime/parasitics/nonlinear.js';
import { Rng } from '../../src/runtime/rng.js';

const SPEC = `
device cell {
  levels = 16
  r_on   = 100 kOhm
  on_off = 10
}

crossbar small {
  size   = 8 x 12
  device = cell
  wires  = { row = 2 Ohm, col = 5 Ohm, source = 300 Ohm, sense = 50 Ohm }
}

device sinh_cell {
  levels = 16
  r_on   = 100 kOhm
  v_read = 0.3 V
  iv     = sinh(v0 = 0.1 V, fold_at = 50 %)
}

crossbar curved {
  size   = 8 x 12
  device = sinh_cell
  wires  = { row = 2 Ohm, col = 5 Ohm, source = 300 Ohm, sense = 50 Ohm }
}

crossbar approx {
  size       = 4 x 4
  device     = cell
  wires      = { row = 1 Ohm, col = 1 Ohm }
  parasitics = aam
}
`;

const WIRES = { row: 2, col: 5, source: 300, sense: 50 };

async function runTile(args: string[]): Promise<{ code: number; stderr: string }> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  let code = 0;
  registerTileCommand(program, (c) => {
    code = c;
  });
  const chunks: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    await program.parseAsync(['tile', ...args], { from: 'user' });
  } catch {
    code = 2;
  } finally {
    process.stderr.write = original;
  }
  return { code, stderr: chunks.join('') };
}

function setup(): { dir: string; spec: string; g: Float64Array; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-tile-'));
  const spec = join(dir, 'tile.xbar');
  writeFileSync(spec, SPEC);
  const rng = new Rng(21, 'test/tile-cli');
  const g = Float64Array.from({ length: 8 * 12 }, () => 1e-6 + 9e-6 * rng.uniform());
  writeNpy64(join(dir, 'G.npy'), g, [8, 12]);
  return { dir, spec, g, done: () => rmSync(dir, { recursive: true, force: true }) };
}

const maxRel = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let e = 0;
  for (let i = 0; i < b.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!) / Math.abs(b[i]!));
  return e;
};

test('npy: float64 and float32 round trips, shapes, and refusals', () => {
  const data = Float64Array.of(1e-6, Math.PI, -2.5, 1 / 3, 7, 8);
  const a = parseNpy64(formatNpy64(data, [2, 3]));
  assert.deepEqual(a.shape, [2, 3]);
  assert.equal(a.dtype, 'float64');
  assert.deepEqual(a.data, data);
  const b = parseNpy64(formatNpy64(data, [6], 'float32'));
  assert.equal(b.dtype, 'float32');
  assert.deepEqual(b.shape, [6]);
  assert.deepEqual(b.data, Float64Array.from(Float32Array.from(data)));
  const bytes = formatNpy64(data, [2, 3]);
  assert.equal((10 + new DataView(bytes.buffer).getUint16(8, true)) % 64, 0, 'header padded to 64 bytes');
  assert.throws(() => parseNpy64(new Uint8Array(20)), /magic/);
  assert.throws(() => parseNpy64(bytes.subarray(0, bytes.length - 8)), /holds 5 values/);
  const fortran = new TextDecoder('latin1').decode(bytes).replace("'fortran_order': False", "'fortran_order': True ");
  assert.throws(() => parseNpy64(Uint8Array.from(fortran, (c) => c.charCodeAt(0))), /Fortran/);
  const int = new TextDecoder('latin1').decode(bytes).replace("'<f8'", "'<i8'");
  assert.throws(() => parseNpy64(Uint8Array.from(int, (c) => c.charCodeAt(0))), /dtype <i8/);
  assert.throws(() => readNpy64('/nonexistent/xbarc/G.npy', '--conductances'), /--conductances: cannot read .* \(no such file\)/);
  assert.throws(() => formatNpy64(data, [4, 2]), /needs 8 values/);
});

test('xbarc tile --out writes the FCM matrix of the declared wires (float64)', async () => {
  const s = setup();
  try {
    const r = await runTile(['--spec', s.spec, '--crossbar', 'small', '--conductances', join(s.dir, 'G.npy'), '--out', join(s.dir, 'Gni.npy')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /small 8 × 12, fcm/);
    const out = readNpy64(join(s.dir, 'Gni.npy'));
    assert.equal(out.dtype, 'float64');
    assert.deepEqual(out.shape, [8, 12]);
    assert.ok(maxRel(out.data, fcm(s.g, 8, 12, WIRES).gni) < 1e-9);
    // transposed: 12 × 8
    const t = await runTile(['--spec', s.spec, '--crossbar', 'small', '--conductances', join(s.dir, 'G.npy'), '--out', join(s.dir, 'T.npy'), '--transposed']);
    assert.equal(t.code, 0, t.stderr);
    const tout = readNpy64(join(s.dir, 'T.npy'));
    assert.deepEqual(tout.shape, [12, 8]);
    assert.ok(maxRel(tout.data, fcmTransposed(s.g, 8, 12, WIRES).gni) < 1e-9);
    // aam by flag, and by the crossbar's own parasitics
    const a = await runTile(['--spec', s.spec, '--crossbar', 'small', '--conductances', join(s.dir, 'G.npy'), '--out', join(s.dir, 'A.npy'), '--model', 'aam']);
    assert.equal(a.code, 0, a.stderr);
    assert.deepEqual(readNpy64(join(s.dir, 'A.npy')).data, aam(s.g, 8, 12, WIRES));
    const lumped = await runTile([
      '--spec',
      s.spec,
      '--crossbar',
      'small',
      '--conductances',
      join(s.dir, 'G.npy'),
      '--out',
      join(s.dir, 'AL.npy'),
      '--model',
      'aam-lumped',
    ]);
    assert.equal(lumped.code, 0, lumped.stderr);
    assert.deepEqual(readNpy64(join(s.dir, 'AL.npy')).data, aam(s.g, 8, 12, WIRES, 'lumped'));
    const g4 = s.g.subarray(0, 16);
    writeNpy64(join(s.dir, 'G4.npy'), g4, [4, 4], 'float32');
    const d = await runTile(['--spec', s.spec, '--crossbar', 'approx', '--conductances', join(s.dir, 'G4.npy'), '--out', join(s.dir, 'A4.npy')]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stderr, /approx 4 × 4, aam/);
    assert.deepEqual(readNpy64(join(s.dir, 'A4.npy')).data, aam(Float64Array.from(Float32Array.from(g4)), 4, 4, { row: 1, col: 1, source: 0, sense: 0 }));
  } finally {
    s.done();
  }
});

test('xbarc tile --inputs/--currents: I = V·G_ni for a vector and a batch; a smaller G is padded', async () => {
  const s = setup();
  try {
    const rng = new Rng(22, 'test/tile-cli/v');
    const v = Float64Array.from({ length: 3 * 8 }, () => rng.uniform());
    writeNpy64(join(s.dir, 'V.npy'), v, [3, 8]);
    writeNpy64(join(s.dir, 'v1.npy'), v.subarray(0, 8), [8]);
    const r = await runTile([
      '--spec',
      s.spec,
      '--crossbar',
      'small',
      '--conductances',
      join(s.dir, 'G.npy'),
      '--inputs',
      join(s.dir, 'V.npy'),
      '--currents',
      join(s.dir, 'I.npy'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const I = readNpy64(join(s.dir, 'I.npy'));
    assert.deepEqual(I.shape, [3, 12]);
    assert.ok(maxRel(I.data, mvm(v, fcm(s.g, 8, 12, WIRES).gni, 8, 12)) < 1e-9);
    const nl = await runTile([
      '--spec',
      s.spec,
      '--crossbar',
      'small',
      '--conductances',
      join(s.dir, 'G.npy'),
      '--inputs',
      join(s.dir, 'v1.npy'),
      '--currents',
      join(s.dir, 'I0.npy'),
      '--netlist',
      join(s.dir, 'tile.cir'),
    ]);
    assert.equal(nl.code, 0, nl.stderr);
    const cir = readFileSync(join(s.dir, 'tile.cir'), 'utf8');
    assert.match(cir, /^\* xbarc tile small: 8 x 12/);
    assert.equal(cir.split('\n').filter((l) => l.startsWith('rcell')).length, 96);
    const r1 = await runTile([
      '--spec',
      s.spec,
      '--crossbar',
      'small',
      '--conductances',
      join(s.dir, 'G.npy'),
      '--inputs',
      join(s.dir, 'v1.npy'),
      '--currents',
      join(s.dir, 'I1.npy'),
    ]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.deepEqual(readNpy64(join(s.dir, 'I1.npy')).shape, [12]);
    // a 5 × 6 G in the top-left corner of the 8 × 12 tile, the rest at G_off = 1 µS
    const small = s.g.subarray(0, 30);
    writeNpy64(join(s.dir, 'Gs.npy'), small, [5, 6]);
    const p = await runTile(['--spec', s.spec, '--crossbar', 'small', '--conductances', join(s.dir, 'Gs.npy'), '--out', join(s.dir, 'Gs_ni.npy')]);
    assert.equal(p.code, 0, p.stderr);
    const full = new Float64Array(96).fill(1 / 1e6);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 6; j++) full[i * 12 + j] = small[i * 6 + j]!;
    const want = fcm(full, 8, 12, WIRES).gni;
    const got = readNpy64(join(s.dir, 'Gs_ni.npy'));
    assert.deepEqual(got.shape, [5, 6]);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 6; j++) assert.ok(Math.abs(got.data[i * 6 + j]! - want[i * 12 + j]!) / want[i * 12 + j]! < 1e-9);
    const none = await runTile([
      '--spec',
      s.spec,
      '--crossbar',
      'small',
      '--conductances',
      join(s.dir, 'Gs.npy'),
      '--out',
      join(s.dir, 'Gn.npy'),
      '--pad',
      'none',
    ]);
    assert.equal(none.code, 0, none.stderr);
    assert.ok(maxRel(readNpy64(join(s.dir, 'Gn.npy')).data, fcm(small, 5, 6, WIRES).gni) < 1e-9);
  } finally {
    s.done();
  }
});

test('xbarc tile with a nonlinear device: the linearised matrix, Newton currents per input vector, --linearized, and a netlist of behavioural sources', async () => {
  const s = setup();
  try {
    const iv = { kind: 'sinh', v0: 0.1 } as const;
    const rng = new Rng(23, 'test/tile-cli/nonlinear');
    const v = Float64Array.from({ length: 3 * 8 }, () => 0.3 * rng.uniform());
    writeNpy64(join(s.dir, 'V.npy'), v, [3, 8]);
    const G = join(s.dir, 'G.npy');
    const base = ['--spec', s.spec, '--crossbar', 'curved', '--conductances', G];
    const r = await runTile([
      ...base,
      '--out',
      join(s.dir, 'L.npy'),
      '--inputs',
      join(s.dir, 'V.npy'),
      '--currents',
      join(s.dir, 'I.npy'),
      '--netlist',
      join(s.dir, 'n.cir'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /sinh I-V linearised at 0\.15 V; currents by a Newton solve per input vector/);
    const lin = linearizeTile(s.g, 8, 12, WIRES, iv, 0.15).gni;
    assert.ok(maxRel(readNpy64(join(s.dir, 'L.npy')).data, lin) < 1e-9);
    const exact = nonlinearCurrents(s.g, 8, 12, WIRES, iv, v).currents;
    assert.ok(maxRel(readNpy64(join(s.dir, 'I.npy')).data, exact) < 1e-6);
    assert.match(readFileSync(join(s.dir, 'n.cir'), 'utf8'), /^bcell0_0 u0_0 w0_0 i = .*sinh\(v\(u0_0,w0_0\)\/0\.1/m);
    const l = await runTile([...base, '--inputs', join(s.dir, 'V.npy'), '--currents', join(s.dir, 'IL.npy'), '--linearized']);
    assert.equal(l.code, 0, l.stderr);
    const folded = readNpy64(join(s.dir, 'IL.npy')).data;
    assert.ok(maxRel(folded, mvm(v, lin, 8, 12)) < 1e-9);
    assert.ok(maxRel(folded, exact) > 1e-3, 'the linearisation is not exact away from its operating point');
    // transposed: Newton on the transposed drive
    const vt = Float64Array.from({ length: 12 }, () => 0.3 * rng.uniform());
    writeNpy64(join(s.dir, 'VT.npy'), vt, [12]);
    const t = await runTile([...base, '--transposed', '--inputs', join(s.dir, 'VT.npy'), '--currents', join(s.dir, 'IT.npy')]);
    assert.equal(t.code, 0, t.stderr);
    assert.ok(maxRel(readNpy64(join(s.dir, 'IT.npy')).data, nonlinearCurrents(s.g, 8, 12, WIRES, iv, vt, true).currents) < 1e-6);
  } finally {
    s.done();
  }
});

test('xbarc tile: clear errors for wrong shapes, missing files, unknown crossbars and bad flags', async () => {
  const s = setup();
  try {
    const G = join(s.dir, 'G.npy');
    writeNpy64(join(s.dir, 'big.npy'), new Float64Array(9 * 12).fill(1e-6), [9, 12]);
    writeNpy64(join(s.dir, 'flat.npy'), new Float64Array(12).fill(1e-6), [12]);
    writeNpy64(join(s.dir, 'neg.npy'), Float64Array.of(1e-6, -1e-6), [1, 2]);
    writeNpy64(join(s.dir, 'V5.npy'), new Float64Array(5), [5]);
    const cases: [string[], number, RegExp][] = [
      [['--crossbar', 'small', '--conductances', join(s.dir, 'big.npy'), '--out', join(s.dir, 'x.npy')], 1, /9 × 12 does not fit crossbar small \(8 × 12\)/],
      [['--crossbar', 'small', '--conductances', join(s.dir, 'flat.npy'), '--out', join(s.dir, 'x.npy')], 1, /2-D matrix/],
      [['--crossbar', 'small', '--conductances', join(s.dir, 'neg.npy'), '--out', join(s.dir, 'x.npy')], 1, /element \[0, 1\]/],
      [['--crossbar', 'small', '--conductances', join(s.dir, 'missing.npy'), '--out', join(s.dir, 'x.npy')], 1, /cannot read .*missing\.npy \(no such file\)/],
      [
        ['--crossbar', 'small', '--conductances', G, '--inputs', join(s.dir, 'V5.npy'), '--currents', join(s.dir, 'I.npy')],
        1,
        /expected shape \(8,\) or \(batch, 8\)/,
      ],
      [['--crossbar', 'small', '--conductances', G, '--inputs', join(s.dir, 'missing-v.npy'), '--currents', join(s.dir, 'I.npy')], 1, /--inputs: cannot read/],
      [['--crossbar', 'nope', '--conductances', G, '--out', join(s.dir, 'x.npy')], 2, /no crossbar named "nope" \(it declares small, curved, approx\)/],
      [['--conductances', G, '--out', join(s.dir, 'x.npy')], 2, /declares 3 crossbars \(small, curved, approx\); name one with --crossbar/],
      [['--crossbar', 'small', '--conductances', G], 2, /give --out/],
      [['--crossbar', 'small', '--conductances', G, '--inputs', join(s.dir, 'V5.npy')], 2, /--inputs needs --currents/],
      [['--crossbar', 'small', '--conductances', G, '--out', join(s.dir, 'x.npy'), '--model', 'spice'], 2, /--model must be fcm, aam or aam-lumped/],
    ];
    for (const [args, code, message] of cases) {
      const r = await runTile(['--spec', s.spec, ...args]);
      assert.equal(r.code, code, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
    const badSpec = join(s.dir, 'bad.xbar');
    writeFileSync(badSpec, 'crossbar broken { size = banana }\n');
    const r = await runTile(['--spec', badSpec, '--conductances', G, '--out', join(s.dir, 'x.npy')]);
    assert.equal(r.code, 1);
  } finally {
    s.done();
  }
});
