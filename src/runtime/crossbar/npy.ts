/**
 * float32 views of NumPy .npy files for `xbarc mvm` (the crossbar runs in float32). Parsing and
 * writing are src/runtime/npy.ts's: one reader for every .npy the project touches.
 */
import { formatNpy64, parseNpy64, readNpy64 } from '../npy.js';

export interface NpyArray {
  data: Float32Array;
  shape: number[];
}

/** Read a float32 or float64 C-order array as float32; anything else is refused with a reason. */
export function parseNpy(bytes: Uint8Array, what = 'array'): NpyArray {
  const a = parseNpy64(bytes, what);
  return { data: Float32Array.from(a.data), shape: a.shape };
}

/** Read a .npy file as float32; `what` names it in errors. */
export function readNpy(path: string, what = path): NpyArray {
  const a = readNpy64(path, what);
  return { data: Float32Array.from(a.data), shape: a.shape };
}

/** Write a float32 array. */
export function formatNpy(a: NpyArray): Uint8Array {
  return formatNpy64(a.data, a.shape, 'float32');
}
