/**
 * NumPy .npy files (format versions 1–3): read float32/float64 little-endian C-order arrays,
 * write float32. Anything else is refused with a message saying what was found.
 */

import { XbarcRuntimeError } from '../errors.js';

export interface NpyArray {
  data: Float32Array;
  shape: number[];
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function parseNpy(bytes: Uint8Array, what = 'array'): NpyArray {
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
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) bad(`bad shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = start + headerLen;
  let size: number;
  if (descr === '<f4' || descr === '=f4') size = 4;
  else if (descr === '<f8' || descr === '=f8') size = 8;
  else return bad(`dtype ${descr} is not supported (use float32 or float64, little-endian)`);
  if (bytes.length - body < count * size) bad(`holds ${Math.floor((bytes.length - body) / size)} values, its shape (${shape.join(', ')}) needs ${count}`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = size === 4 ? view.getFloat32(body + 4 * i, true) : view.getFloat64(body + 8 * i, true);
  return { data, shape };
}

export function formatNpy(a: NpyArray): Uint8Array {
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + 4 * a.data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const view = new DataView(out.buffer);
  for (let i = 0; i < a.data.length; i++) view.setFloat32(10 + header.length + 4 * i, a.data[i]!, true);
  return out;
}
