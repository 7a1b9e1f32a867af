/**
 * The saved surrogate (docs/parasitics.md, "Learned surrogate", file format): a JSON header
 * `NAME.json` and four float32 .npy arrays beside it, `NAME.w1.npy` [rows + rows·cols, hidden],
 * `NAME.b1.npy` [hidden], `NAME.w2.npy` [hidden, cols], `NAME.b2.npy` [cols], named in the header
 * relative to it (numpy.load reads them). The arrays are written first and the header last, each
 * atomically, so a header on disk always names complete arrays.
 *
 * Header: { format: "xbarc-surrogate", version: 1, rows, cols, hidden, features, normalization:
 * { vRead, gOn, gOff }, output: { f, fScale }, reference: { drive }, weights: { w1, b1, w2, b2 }, meta }, with `meta`
 * what it was trained on (solver, wires, data, training, held-out errors).
 */

import { basename, dirname, isAbsolute, join } from 'node:path';
import { FileReadError, readRegularFile } from '../../io/read-file.js';
import { XbarcRuntimeError } from '../../model/errors.js';
import { readNpy64, formatNpy64 } from '../npy.js';
import { writeFileAtomicSync } from '../results/atomic.js';
import type { SurrogateMeta, SurrogateModel } from './surrogate-model.js';

export const SURROGATE_FORMAT = 'xbarc-surrogate';
export const SURROGATE_VERSION = 1;
const FEATURES = 'V/vRead for each row, then (G - gOff)/(gOn - gOff) for each cell, row-major';
const ARRAYS = ['w1', 'b1', 'w2', 'b2'] as const;
type ArrayName = (typeof ARRAYS)[number];

/** The file names the header points at: NAME.w1.npy … beside NAME.json. */
function arrayFiles(headerPath: string): Record<ArrayName, string> {
  const stem = basename(headerPath).replace(/\.json$/i, '');
  return { w1: `${stem}.w1.npy`, b1: `${stem}.b1.npy`, w2: `${stem}.w2.npy`, b2: `${stem}.b2.npy` };
}

function shapes(m: Pick<SurrogateModel, 'rows' | 'cols' | 'hidden'>): Record<ArrayName, number[]> {
  return { w1: [m.rows + m.rows * m.cols, m.hidden], b1: [m.hidden], w2: [m.hidden, m.cols], b2: [m.cols] };
}

/** Write the surrogate: the four arrays, then the header (path should end in .json). */
export function saveSurrogate(path: string, m: SurrogateModel): void {
  const files = arrayFiles(path);
  const dims = shapes(m);
  for (const a of ARRAYS) writeFileAtomicSync(join(dirname(path), files[a]), formatNpy64(m[a], dims[a], 'float32'));
  const header = {
    format: SURROGATE_FORMAT,
    version: SURROGATE_VERSION,
    rows: m.rows,
    cols: m.cols,
    hidden: m.hidden,
    features: FEATURES,
    normalization: m.norm,
    output: { f: '1 + fScale * y', fScale: m.fScale },
    reference: { drive: m.referenceDrive },
    weights: files,
    meta: m.meta,
  };
  writeFileAtomicSync(path, JSON.stringify(header, null, 2) + '\n');
}

const bad = (path: string, msg: string): never => {
  throw new XbarcRuntimeError('surrogate/bad-file', `${path}: ${msg}`);
};

const positiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** Read a saved surrogate; a missing, malformed or inconsistent file is an XbarcRuntimeError naming it. */
export function loadSurrogate(path: string): SurrogateModel {
  let text: string;
  try {
    text = new TextDecoder().decode(readRegularFile(path, 'json'));
  } catch (err) {
    if (!(err instanceof FileReadError)) throw err;
    throw new XbarcRuntimeError(
      err.problem === 'missing' ? 'surrogate/missing-file' : 'surrogate/unreadable',
      `${path}: cannot read the surrogate file (${err.reason})`,
    );
  }
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    return bad(path, `not JSON (${(err as Error).message})`);
  }
  if (typeof h !== 'object' || h === null || h['format'] !== SURROGATE_FORMAT)
    return bad(path, `not an xbarc surrogate (its "format" must be "${SURROGATE_FORMAT}")`);
  if (h['version'] !== SURROGATE_VERSION) bad(path, `version ${String(h['version'])} is not supported (this xbarc reads version ${SURROGATE_VERSION})`);
  const { rows, cols, hidden } = h;
  if (!positiveInt(rows) || !positiveInt(cols) || !positiveInt(hidden)) return bad(path, `"rows", "cols" and "hidden" must be positive integers`);
  const n = h['normalization'] as Record<string, unknown> | undefined;
  if (!n || !positive(n['vRead']) || !positive(n['gOn']) || !positive(n['gOff']) || !((n['gOn'] as number) > (n['gOff'] as number)))
    bad(path, `"normalization" needs vRead > 0 and gOn > gOff > 0`);
  const out = h['output'] as Record<string, unknown> | undefined;
  if (!out || !positive(out['fScale'])) bad(path, `"output.fScale" must be a number > 0`);
  const ref = h['reference'] as Record<string, unknown> | undefined;
  const drive = ref?.['drive'];
  if (!positive(drive) || drive > 1) bad(path, `"reference.drive" must be a fraction of V_read in (0, 1]`);
  const meta = h['meta'] as SurrogateMeta | undefined;
  if (!meta || typeof meta.solver !== 'string' || typeof meta.wires !== 'object') bad(path, `"meta" must name the solver and the wires`);
  const w = h['weights'] as Record<string, unknown> | undefined;
  const dims = shapes({ rows, cols, hidden });
  const arrays = {} as Record<ArrayName, Float32Array>;
  for (const a of ARRAYS) {
    const file = w?.[a];
    if (typeof file !== 'string' || file === '') return bad(path, `"weights.${a}" must name a .npy file`);
    const at = isAbsolute(file) ? file : join(dirname(path), file);
    const arr = readNpy64(at, `surrogate ${a} (${file})`);
    if (arr.shape.join(',') !== dims[a].join(','))
      bad(path, `${file} has shape (${arr.shape.join(', ')}), a ${rows} × ${cols} surrogate with ${hidden} hidden units needs (${dims[a].join(', ')})`);
    for (let i = 0; i < arr.data.length; i++) if (!Number.isFinite(arr.data[i]!)) bad(path, `${file} holds a non-finite value at index ${i}`);
    arrays[a] = Float32Array.from(arr.data);
  }
  return {
    rows,
    cols,
    hidden,
    norm: { vRead: n!['vRead'] as number, gOn: n!['gOn'] as number, gOff: n!['gOff'] as number },
    fScale: out!['fScale'] as number,
    referenceDrive: drive as number,
    ...arrays,
    meta: meta!,
  };
}
