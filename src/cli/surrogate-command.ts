/**
 * `xbarc surrogate --out S.json [options]`: train a learned parasitics surrogate (GENIEx) for one
 * tile configuration against xbarc's circuit solver, save it, and print its held-out RMSE beside
 * the baselines' (docs/parasitics.md, "Learned surrogate"). Defaults are GENIEx's/PUMA's
 * (MODELS.md §4): 64 × 64, 2.5 Ω wires, R_source 500 Ω, R_sense 100 Ω, R_on 100 kΩ, on/off 6,
 * V_read 0.25 V, ohmic cells. `--iv sinh:V0` or `--iv cubic:K` trains against the nonlinear
 * device solver instead (one Newton solve per input vector), and the report adds the linear
 * (FCM) baseline's RMSE — GENIEx's comparison — and the per-tile linearisation at `--fold-at`.
 * Progress goes to stderr, the report to stdout.
 */
import type { Command } from 'commander';
import { XbarcError } from '../model/errors.js';
import type { IvModel } from '../runtime/parasitics/iv.js';
import { buildSurrogate } from '../runtime/parasitics/surrogate-build.js';
import { nonlinearTileSolver } from '../runtime/parasitics/surrogate-data.js';
import type { ErrorPair } from '../runtime/parasitics/surrogate-eval.js';
import { saveSurrogate } from '../runtime/parasitics/surrogate-file.js';

export interface SurrogateCommandOptions {
  out: string;
  size: string;
  wires: string;
  rOn: string;
  onOff: string;
  vRead: string;
  iv: string;
  foldAt: string;
  weightBits: string;
  cellBits: string;
  inputBits: string;
  dacBits: string;
  tiles: string;
  testTiles: string;
  vectors: string;
  hidden: string;
  epochs: string;
  batch: string;
  lr: string;
  seed: string;
  threads?: string;
  quiet?: boolean;
}

/** Where the report (stdout) and progress and errors (stderr) go; tests collect them. */
export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const STD_IO: CommandIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

export function registerSurrogateCommand(program: Command, setExitCode: (code: number) => void, io: CommandIo = STD_IO): void {
  program
    .command('surrogate')
    .description('train a learned parasitics surrogate (GENIEx MLP) against the circuit solver; save it and report its held-out RMSE')
    .requiredOption('--out <S.json>', 'surrogate header to write (the weights go beside it as S.w1.npy, S.b1.npy, S.w2.npy, S.b2.npy)')
    .option('--size <RxC>', 'tile rows × columns', '64x64')
    .option('--wires <row,col,source,sense>', 'wire resistances in Ω: word-line and bit-line segment, R_source, R_sense', '2.5,2.5,500,100')
    .option('--r-on <ohms>', 'device R_on (G_on = 1/R_on)', '100e3')
    .option('--on-off <ratio>', 'device R_off/R_on', '6')
    .option('--v-read <volts>', 'read voltage of a full-scale DAC digit', '0.25')
    .option('--iv <curve>', 'cell read I-V curve of the ground truth: linear, sinh:V0 (volts) or cubic:K (1/V²)', 'linear')
    .option('--fold-at <fraction>', 'nonlinear curves: operating point of the linearised baseline, every row at this fraction of V_read', '1')
    .option('--weight-bits <n>', 'weight bits (bit-sliced into cells)', '8')
    .option('--cell-bits <n>', 'bits per cell', '2')
    .option('--input-bits <n>', 'input bits (streamed through the DACs)', '8')
    .option('--dac-bits <n>', 'bits per DAC stream', '1')
    .option('--tiles <n>', 'training tiles', '1000')
    .option('--test-tiles <n>', 'held-out tiles', '100')
    .option('--vectors <n>', 'input vectors per tile', '16')
    .option('--hidden <n>', 'hidden units', '500')
    .option('--epochs <n>', 'training epochs', '20')
    .option('--batch <n>', 'minibatch size', '64')
    .option('--lr <x>', 'Adam learning rate', '1e-3')
    .option('--seed <n>', 'seed of every stream (data, initialization, order)', '1')
    .option('--threads <n>', 'onnxruntime threads for training (default 2)')
    .option('--quiet', 'no progress output')
    .action(async (opts: SurrogateCommandOptions) => {
      setExitCode(await surrogateCommand(opts, io));
    });
}

class UsageError extends Error {}

function int(name: string, text: string, min = 1): number {
  const v = Number(text);
  if (!Number.isSafeInteger(v) || v < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(text)}`);
  return v;
}

function positive(name: string, text: string): number {
  const v = Number(text);
  if (!(v > 0 && Number.isFinite(v))) throw new UsageError(`--${name} must be a number > 0, got ${JSON.stringify(text)}`);
  return v;
}

function parseSize(text: string): [number, number] {
  const m = /^(\d+)\s*[x×]\s*(\d+)$/i.exec(text.trim());
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new UsageError(`--size must be ROWSxCOLS (e.g. 64x64), got ${JSON.stringify(text)}`);
  return [Number(m[1]), Number(m[2])];
}

/** `linear`, `sinh:V0` (V0 > 0 V) or `cubic:K` (K in V⁻², finite). */
export function parseIv(text: string): IvModel {
  const t = text.trim().toLowerCase();
  if (t === 'linear') return { kind: 'linear' };
  const m = /^(sinh|cubic):\s*([^\s]+)$/.exec(t);
  const x = m ? Number(m[2]) : NaN;
  if (m?.[1] === 'sinh' && x > 0 && Number.isFinite(x)) return { kind: 'sinh', v0: x };
  if (m?.[1] === 'cubic' && Number.isFinite(x)) return { kind: 'cubic', k: x };
  throw new UsageError(`--iv must be linear, sinh:V0 (V0 > 0 volts, e.g. sinh:0.25) or cubic:K (K in 1/V², e.g. cubic:-0.25), got ${JSON.stringify(text)}`);
}

function parseWires(text: string): { row: number; col: number; source: number; sense: number } {
  const parts = text.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 4 || parts.some((v) => !(v >= 0 && Number.isFinite(v))))
    throw new UsageError(`--wires must be four resistances ≥ 0 Ω, row,col,source,sense (e.g. 2.5,2.5,500,100), got ${JSON.stringify(text)}`);
  const [row, col, source, sense] = parts as [number, number, number, number];
  return { row, col, source, sense };
}

const pct = (x: number): string => `${(100 * x).toFixed(3)} %`;
const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(1)}×` : '—');

function row(name: string, e: ErrorPair): string {
  return `  ${name.padEnd(36)} ${e.f.toExponential(3).padStart(10)}   ${pct(e.current).padStart(9)}`;
}

export async function surrogateCommand(o: SurrogateCommandOptions, io: CommandIo = STD_IO): Promise<number> {
  let cfg: Parameters<typeof buildSurrogate>[0];
  try {
    const [rows, cols] = parseSize(o.size);
    const rOn = positive('r-on', o.rOn);
    const onOff = positive('on-off', o.onOff);
    if (!(onOff > 1)) throw new UsageError(`--on-off must be > 1, got ${JSON.stringify(o.onOff)}`);
    const threads = o.threads === undefined ? undefined : int('threads', o.threads);
    const iv = parseIv(o.iv ?? 'linear');
    const foldAt = Number(o.foldAt ?? '1');
    if (!(foldAt > 0 && foldAt <= 1)) throw new UsageError(`--fold-at must be a fraction in (0, 1], got ${JSON.stringify(o.foldAt)}`);
    cfg = {
      rows,
      cols,
      wires: parseWires(o.wires),
      gOn: 1 / rOn,
      gOff: 1 / (rOn * onOff),
      vRead: positive('v-read', o.vRead),
      weightBits: int('weight-bits', o.weightBits),
      cellBits: int('cell-bits', o.cellBits),
      inputBits: int('input-bits', o.inputBits),
      dacBits: int('dac-bits', o.dacBits),
      seed: int('seed', o.seed, 0),
      vectorsPerTile: int('vectors', o.vectors),
      tiles: int('tiles', o.tiles),
      testTiles: int('test-tiles', o.testTiles),
      hidden: int('hidden', o.hidden),
      epochs: int('epochs', o.epochs),
      batch: int('batch', o.batch),
      lr: positive('lr', o.lr),
      solver: nonlinearTileSolver(iv),
      foldAt,
      ...(threads ? { engine: { threads } } : {}),
      ...(o.quiet ? {} : { onProgress: (line: string) => io.err(`xbarc surrogate: ${line}\n`) }),
    };
    if (!o.out.toLowerCase().endsWith('.json'))
      throw new UsageError(`--out must name a .json header (the weights are written beside it), got ${JSON.stringify(o.out)}`);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`xbarc surrogate: ${err.message}\n`);
    return 2;
  }
  try {
    const b = await buildSurrogate(cfg);
    saveSurrogate(o.out, b.model);
    const e = b.errors;
    const w = cfg.wires;
    const lines = [
      `surrogate ${cfg.rows} × ${cfg.cols}, wires ${w.row} / ${w.col} Ω, R_source ${w.source} Ω, R_sense ${w.sense} Ω, G ${cfg.gOff.toExponential(3)}–${cfg.gOn.toExponential(3)} S, V_read ${cfg.vRead} V`,
      `trained against ${b.model.meta.solver}: ${cfg.tiles} tiles × ${cfg.vectorsPerTile} vectors, ${cfg.epochs} epochs (generate ${b.seconds.generate.toFixed(1)} s, train ${b.seconds.train.toFixed(1)} s)`,
      `held out: tiles ${cfg.tiles}–${cfg.tiles + cfg.testTiles - 1}, ${e.samples} vectors; mean f − 1 = ${pct(e.meanDistortion)}`,
      `  ${'model'.padEnd(36)} ${'RMSE(f)'.padStart(10)}   ${'RMSE(I)'.padStart(9)}`,
      row('surrogate', e.surrogate),
      row('ideal (no parasitics)', e.ideal),
      row('aam (line-loaded, linear cells)', e.aam),
      row('surrogate per tile (runtime)', e.tile),
      row('linear (FCM, linear cells)', e.linear),
      ...(e.linearised ? [row(`linearised per tile (at ${cfg.foldAt} V_read)`, e.linearised)] : []),
      `surrogate vs ideal: ${ratio(e.ideal.f, e.surrogate.f)} lower RMSE(f); vs aam: ${ratio(e.aam.f, e.surrogate.f)}${
        e.linearised ? `; vs linearised: ${ratio(e.linearised.f, e.surrogate.f)}` : ''
      }; vs linear (FCM): ${
        e.linear.f < 1e-9
          ? 'the solver is linear, so the linear model is exact (GENIEx’s comparison needs a nonlinear solver)'
          : ratio(e.linear.f, e.surrogate.f)
      }`,
      `wrote ${o.out}`,
    ];
    io.out(lines.join('\n') + '\n');
    return 0;
  } catch (err) {
    if (err instanceof XbarcError) {
      io.err(`xbarc surrogate: error ${err.code}: ${err.message}\n`);
      return 1;
    }
    if (err instanceof RangeError || (err instanceof Error && 'code' in err && typeof err.code === 'string' && err.code.startsWith('E'))) {
      io.err(`xbarc surrogate: error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
