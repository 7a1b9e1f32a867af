/**
 * `xbarc tile`: one crossbar tile through the parasitic models (docs/parasitics.md).
 *
 *   xbarc tile --spec F.xbar --crossbar NAME --conductances G.npy --out Gni.npy
 *   xbarc tile --spec F.xbar --crossbar NAME --conductances G.npy --inputs V.npy --currents I.npy
 *        [--model fcm|aam|aam-lumped] [--transposed] [--pad off|zero|none] [--linearized] [--set path=value]
 *
 * A device with a nonlinear read curve (`iv = sinh(…)`, docs/parasitics.md "Nonlinear devices"):
 * `--out` writes the tile's secant linearisation at the device's operating point (fold_at·v_read on
 * every used line); `--currents` solves the nonlinear circuit per input vector (Newton), or with
 * `--linearized` applies the linearised matrix, as the runtime's fast and exact fidelities do.
 * The wires come from the crossbar declaration (resolved through the compiled plan when an
 * experiment uses it, else from the checked model). G is M'×N' (S) with M' ≤ rows, N' ≤ cols; a
 * smaller G occupies the top-left corner (rows from 0, columns from 0, as tiles are edge-padded)
 * and the rest of the tile holds G_off cells (`--pad off`), no current (`zero`), or the array is
 * simulated at G's own size (`none`). Units: S, V, A.
 */
import type { Command } from 'commander';
import { compile } from '../compiler/compile.js';
import { check } from '../compiler/check.js';
import type { PlanCrossbar } from '../model/plan.js';
import { lowerCrossbar } from '../compiler/lower-crossbar.js';
import { XbarcError, XbarcRuntimeError } from '../model/errors.js';
import { assertAllFinite } from '../runtime/finite.js';
import { readNpy64, writeNpy64 } from '../runtime/npy.js';
import { aam, aamTransposed } from '../runtime/parasitics/aam.js';
import { mvm, type Wires } from '../runtime/parasitics/circuit.js';
import { fcm, fcmTransposed } from '../runtime/parasitics/fcm.js';
import { isLinear } from '../runtime/parasitics/iv.js';
import { nonlinearCurrents } from '../runtime/parasitics/nonlinear.js';
import { parasiticsOf, tileBackward, tileForward } from '../runtime/parasitics/plan.js';
import { spiceNetlist } from '../runtime/parasitics/spice.js';
import { writeFileAtomicSync } from '../runtime/results/atomic.js';
import { printDiagnostics } from './diagnostics-output.js';

export interface TileCommandOptions {
  spec: string;
  crossbar?: string;
  conductances: string;
  out?: string;
  inputs?: string;
  currents?: string;
  model?: string;
  transposed?: boolean;
  pad?: string;
  tol?: string;
  netlist?: string;
  linearized?: boolean;
  set?: string[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerTileCommand(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('tile')
    .description('solve one crossbar tile with wire parasitics: effective conductances (FCM or AAM), or currents for given inputs')
    .requiredOption('--spec <file>', '.xbar file declaring the crossbar')
    .option('--crossbar <name>', 'the crossbar declaration (default: the only one in the spec)')
    .requiredOption('--conductances <G.npy>', 'conductance matrix, rows × cols, in S (float32/float64 .npy)')
    .option('--out <Gni.npy>', 'write the effective conductance matrix (float64 .npy)')
    .option('--inputs <V.npy>', 'input voltages in V: [rows] or [batch, rows] ([cols] / [batch, cols] with --transposed)')
    .option('--currents <I.npy>', 'write the output currents in A (float64 .npy), with --inputs')
    .option('--model <fcm|aam|aam-lumped>', "parasitic model: fcm, aam (line-loaded) or aam-lumped (default: the crossbar's, else fcm)")
    .option('--transposed', 'backward drive: inputs into the columns, currents read on the rows')
    .option('--pad <off|zero|none>', 'cells outside a smaller G: G_off, 0 S, or simulate G at its own size', 'off')
    .option('--tol <x>', 'FCM relative accuracy (default 1e-7)')
    .option('--linearized', "nonlinear devices: currents from the linearised matrix (the runtime's folding), not a Newton solve per input vector")
    .option('--netlist <file.cir>', 'also write an ngspice netlist of the simulated forward circuit (first input vector, or 1 V on every row)')
    .option('--set <path=value>', 'override a value of the spec (repeatable)', collect)
    .action((opts: TileCommandOptions) => {
      setExitCode(tileCommand(opts));
    });
}

export function tileCommand(opts: TileCommandOptions): number {
  const usage = (msg: string): number => {
    process.stderr.write(`xbarc tile: ${msg}\n`);
    return 2;
  };
  if (!opts.out && !opts.inputs) return usage('give --out Gni.npy (effective matrix), or --inputs V.npy with --currents I.npy');
  if (opts.inputs && !opts.currents) return usage('--inputs needs --currents I.npy (where to write the currents)');
  if (opts.currents && !opts.inputs) return usage('--currents needs --inputs V.npy');
  const modelName = opts.model;
  if (modelName !== undefined && modelName !== 'fcm' && modelName !== 'aam' && modelName !== 'aam-lumped')
    return usage(`--model must be fcm, aam or aam-lumped, got ${JSON.stringify(modelName)}`);
  const pad = opts.pad ?? 'off';
  if (pad !== 'off' && pad !== 'zero' && pad !== 'none') return usage(`--pad must be off, zero or none, got ${JSON.stringify(pad)}`);
  let tol: number | undefined;
  if (opts.tol !== undefined) {
    tol = Number(opts.tol);
    if (!(tol > 0 && tol < 1)) return usage(`--tol must be a number in (0, 1), got ${JSON.stringify(opts.tol)}`);
  }

  const found = resolveCrossbar(opts.spec, opts.crossbar, opts.set);
  if (typeof found === 'number') return found;
  try {
    const { pc } = found;
    const { rows, cols } = pc;
    const wires: Wires = { ...pc.wires };
    const declared = pc.parasitics.kind === 'aam' ? (pc.parasitics.form === 'lumped' ? 'aam-lumped' : 'aam') : 'fcm';
    const model = modelName ?? declared;
    const aamForm = model === 'aam-lumped' ? 'lumped' : 'loaded';

    const G = readNpy64(opts.conductances, '--conductances');
    assertAllFinite(G.data, G.shape, `--conductances ${opts.conductances}`);
    // Inputs are read and checked before any work or output.
    const V = opts.inputs ? readNpy64(opts.inputs, '--inputs') : undefined;
    if (V) assertAllFinite(V.data, V.shape, `--inputs ${opts.inputs}`);
    if (G.shape.length !== 2)
      throw new XbarcRuntimeError('tile/bad-shape', `--conductances: expected a 2-D matrix (rows × cols), got shape (${G.shape.join(', ')})`);
    const [gr, gc] = G.shape as [number, number];
    if (gr < 1 || gc < 1 || gr > rows || gc > cols)
      throw new XbarcRuntimeError(
        'tile/bad-shape',
        `--conductances: shape ${gr} × ${gc} does not fit crossbar ${pc.name} (${rows} × ${cols}); it must be at most that size`,
      );
    for (let k = 0; k < G.data.length; k++) {
      const x = G.data[k]!;
      if (!(x >= 0 && Number.isFinite(x)))
        throw new XbarcRuntimeError(
          'tile/bad-value',
          `--conductances: element [${Math.floor(k / gc)}, ${k % gc}] is ${x}; conductances must be finite and ≥ 0 S`,
        );
    }
    // The simulated array: G in the top-left corner of the tile, padded, or G alone.
    const simRows = pad === 'none' ? gr : rows;
    const simCols = pad === 'none' ? gc : cols;
    const gOff = padConductance(pc, pad);
    const g = new Float64Array(simRows * simCols).fill(gOff);
    for (let i = 0; i < gr; i++) for (let j = 0; j < gc; j++) g[i * simCols + j] = G.data[i * gc + j]!;

    // The command chooses the model and wires itself; from the crossbar it takes the device's curve only
    // (its own parasitics, e.g. a surrogate file trained for another tile size, are not loaded).
    const cfg = {
      ...parasiticsOf({ ...pc, parasitics: { kind: 'none' } }),
      kind: model === 'fcm' ? ('fcm' as const) : ('aam' as const),
      aamForm,
      wires,
      rows: simRows,
      cols: simCols,
    } as const;
    const nonlinear = !isLinear(cfg.iv);
    const t0 = performance.now();
    let full: Float64Array;
    let note = '';
    if (nonlinear) {
      full = opts.transposed ? tileBackward(g, cfg, tol ? { tol } : {}) : tileForward(g, cfg, tol ? { tol } : {});
      note = `, ${cfg.iv.kind} I-V linearised at ${cfg.vOp} V`;
    } else if (cfg.kind === 'aam') full = opts.transposed ? aamTransposed(g, simRows, simCols, wires, aamForm) : aam(g, simRows, simCols, wires, aamForm);
    else {
      const r = opts.transposed ? fcmTransposed(g, simRows, simCols, wires, tol ? { tol } : {}) : fcm(g, simRows, simCols, wires, tol ? { tol } : {});
      full = r.gni;
      note = `, ${r.method}, ${r.iterations} iterations, est. error ${r.errorEstimate.toExponential(1)}`;
    }
    const ms = performance.now() - t0;
    // The used block: forward gr × gc (drive rows × sense cols); transposed gc × gr.
    const [dr, dc, fullCols] = opts.transposed ? [gc, gr, simRows] : [gr, gc, simCols];
    const gni = new Float64Array(dr * dc);
    for (let a = 0; a < dr; a++) for (let b = 0; b < dc; b++) gni[a * dc + b] = full[a * fullCols + b]!;

    if (opts.out) writeNpy64(opts.out, gni, [dr, dc]);
    if (opts.netlist) {
      const v = new Float64Array(simRows);
      if (V && !opts.transposed) {
        for (let i = 0; i < gr && i < V.data.length; i++) v[i] = V.data[i]!;
      } else v.fill(1, 0, gr);
      writeFileAtomicSync(opts.netlist, spiceNetlist(g, simRows, simCols, wires, v, `xbarc tile ${pc.name}`, cfg.iv));
    }
    if (V) {
      const vec = V.shape.length === 1;
      if (!(vec || V.shape.length === 2) || V.shape[V.shape.length - 1] !== dr) {
        throw new XbarcRuntimeError(
          'tile/bad-shape',
          `--inputs: expected shape (${dr},) or (batch, ${dr}) — one voltage per ${opts.transposed ? 'column' : 'row'} of G — got (${V.shape.join(', ')})`,
        );
      }
      const exact = nonlinear && !opts.linearized && cfg.kind === 'fcm';
      const I = exact ? newtonCurrents(g, simRows, simCols, cfg, V.data, dr, dc, !!opts.transposed, tol) : mvm(V.data, gni, dr, dc);
      if (exact) note += `; currents by a Newton solve per input vector`;
      writeNpy64(opts.currents!, I, vec ? [dc] : [V.shape[0]!, dc]);
    }
    let dev = 0;
    let count = 0;
    const gT = opts.transposed ? (a: number, b: number) => G.data[b * gc + a]! : (a: number, b: number) => G.data[a * gc + b]!;
    for (let a = 0; a < dr; a++)
      for (let b = 0; b < dc; b++) {
        const x = gT(a, b);
        if (x > 0) {
          dev += (x - gni[a * dc + b]!) / x;
          count++;
        }
      }
    process.stderr.write(
      `xbarc tile: ${pc.name} ${rows} × ${cols}, ${model}${opts.transposed ? ' (transposed)' : ''} on ${gr} × ${gc} conductances (pad ${pad}) in ${ms.toFixed(1)} ms${note}; mean (G − G_ni)/G = ${(100 * (count ? dev / count : 0)).toFixed(3)} %\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof XbarcError) {
      process.stderr.write(`xbarc tile: error ${err.code}: ${err.message}\n`);
      return 1;
    }
    if (err instanceof RangeError) {
      process.stderr.write(`xbarc tile: error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

/**
 * Currents of the nonlinear circuit, one Newton solve per input vector: the used inputs (dr) into
 * the simulated tile's drive lines (padding lines at 0 V), the used outputs (dc) read back.
 */
function newtonCurrents(
  g: Float64Array,
  simRows: number,
  simCols: number,
  cfg: ReturnType<typeof parasiticsOf>,
  v: ArrayLike<number>,
  dr: number,
  dc: number,
  transposed: boolean,
  tol: number | undefined,
): Float64Array {
  const nin = transposed ? simCols : simRows;
  const nout = transposed ? simRows : simCols;
  const batch = v.length / dr;
  const padded = new Float64Array(batch * nin);
  for (let b = 0; b < batch; b++) for (let k = 0; k < dr; k++) padded[b * nin + k] = v[b * dr + k]!;
  const r = nonlinearCurrents(g, simRows, simCols, cfg.wires, cfg.iv, padded, transposed, tol ? { tol } : {});
  const out = new Float64Array(batch * dc);
  for (let b = 0; b < batch; b++) for (let k = 0; k < dc; k++) out[b * dc + k] = r.currents[b * nout + k]!;
  return out;
}

function padConductance(pc: PlanCrossbar, pad: string): number {
  if (pad !== 'off') return 0;
  return 1 / pc.device.rOff;
}

/** The crossbar, from the compiled plan when an experiment maps to it, else from the checked model. */
function resolveCrossbar(spec: string, name: string | undefined, sets: string[] | undefined): { pc: PlanCrossbar } | number {
  const options = sets ? { sets } : {};
  const checked = check(spec, options);
  if (checked.hasErrors || !checked.model) {
    printDiagnostics(checked.diagnostics, checked.program);
    if (!checked.model || checked.diagnostics.some((d) => d.severity === 'error')) return 1;
  }
  const model = checked.model!;
  // Keys are qualified ("<file>#name"); the spec's own declarations come before imported ones.
  const shortName = (key: string) => key.slice(key.lastIndexOf('#') + 1);
  const keys = [...model.crossbars.keys()].sort((a, b) => Number(b.startsWith(model.root + '#')) - Number(a.startsWith(model.root + '#')));
  const names = [...new Set(keys.map(shortName))];
  if (name === undefined) {
    const own = keys.filter((k) => k.startsWith(model.root + '#'));
    if (own.length !== 1) {
      process.stderr.write(
        `xbarc tile: ${spec} declares ${own.length === 0 ? 'no crossbar of its own' : `${own.length} crossbars (${own.map(shortName).join(', ')})`}; name one with --crossbar\n`,
      );
      return 2;
    }
    name = shortName(own[0]!);
  }
  if (model.experiments.length > 0) {
    const compiled = compile(spec, options);
    for (const exp of compiled.plan?.experiments ?? []) {
      const pc = exp.crossbars[name];
      if (pc) return { pc };
    }
  }
  const key = keys.find((k) => k === name || shortName(k) === name);
  const xb = key === undefined ? undefined : model.crossbars.get(key);
  if (!xb) {
    process.stderr.write(`xbarc tile: ${spec} has no crossbar named ${JSON.stringify(name)}${names.length ? ` (it declares ${names.join(', ')})` : ''}\n`);
    return 2;
  }
  return { pc: lowerCrossbar(name, xb) };
}
