/**
 * NumPy .npy files (format versions 1–3), keeping float64 precision: read little-endian float32 or
 * float64 C-order arrays into a Float64Array (with the dtype they had), write float64 or float32.
 * The one .npy reader: `xbarc tile` keeps float64 (conductances at 1e-6 accuracy); `xbarc mvm`
 * reads through src/runtime/crossbar/npy.ts's float32 view of it.
 */

import { FileReadError, readRegularFile } from '../io/read-file.js';
import { writeFileAtomicSync } from './results/atomic.js';
import { XbarcRuntimeError } from '../model/errors.js';

export interface NpyArray64 {
  data: Float64Array;
  shape: number[];
  /** The dtype of the file it was read from. */
  dtype: 'float32' | 'float64';
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function parseNpy64(bytes: Uint8Array, what = 'array'): NpyArray64 {
  const bad = (msg: string): never => {
    throw new XbarcRuntimeError('npy/bad-file', `${what}: ${msg}`);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) bad('not a .npy file (missing the \\x93NUMPY magic)');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) bad('truncated header');
    headerLen = view.getUint32(8, true);
    start = 12;
  } else return bad(`unsupported .npy format version ${major}`);
  if (start + headerLen > bytes.length) bad('truncated header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) return bad(`unreadable header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') bad('Fortran-order arrays are not supported; save a C-order array (numpy.ascontiguousarray)');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) bad(`bad shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = start + headerLen;
  let size: 4 | 8;
  if (descr === '<f4' || descr === '=f4') size = 4;
  else if (descr === '<f8' || descr === '=f8') size = 8;
  else return bad(`dtype ${descr} is not supported (use float32 or float64, little-endian)`);
  if (bytes.length - body < count * size) bad(`holds ${Math.floor((bytes.length - body) / size)} values, its shape (${shape.join(', ')}) needs ${count}`);
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = size === 4 ? view.getFloat32(body + 4 * i, true) : view.getFloat64(body + 8 * i, true);
  return { data, shape, dtype: size === 4 ? 'float32' : 'float64' };
}

export function formatNpy64(data: ArrayLike<number>, shape: number[], dtype: 'float32' | 'float64' = 'float64'): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`formatNpy64: shape (${shape.join(', ')}) needs ${count} values, got ${data.length}`);
  const size = dtype === 'float64' ? 8 : 4;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f${size}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + size * data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const body = 10 + header.length;
  for (let i = 0; i < data.length; i++) {
    if (size === 8) view.setFloat64(body + 8 * i, data[i]!, true);
    else view.setFloat32(body + 4 * i, data[i]!, true);
  }
  return out;
}

/** Read a .npy file (a regular file within the .npy cap); anything else is an XbarcRuntimeError naming it. */
export function readNpy64(path: string, what = path): NpyArray64 {
  let bytes: Uint8Array;
  try {
    bytes = readRegularFile(path, 'npy');
  } catch (err) {
    if (!(err instanceof FileReadError)) throw err;
    if (err.problem === 'missing') throw new XbarcRuntimeError('npy/missing-file', `${what}: cannot read ${path} (no such file)`);
    throw new XbarcRuntimeError('npy/unreadable', `${what}: cannot read ${path}: ${err.reason}`);
  }
  return parseNpy64(bytes, what);
}

/** Write a .npy file atomically (a reader never sees a partial file). */
export function writeNpy64(path: string, data: ArrayLike<number>, shape: number[], dtype: 'float32' | 'float64' = 'float64'): void {
  writeFileAtomicSync(path, formatNpy64(data, shape, dtype));
}
