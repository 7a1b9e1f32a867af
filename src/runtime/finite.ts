/**
 * Arrays from users' .npy files must hold finite numbers: a NaN or ±Inf weight, input, voltage
 * or conductance would flow through every kernel and come out as a NaN result with exit 0.
 */
import { XbarcRuntimeError } from '../model/errors.js';

/** `[i, j, k]` of flat index `k` in a C-order array of `shape`. */
export function multiIndex(flat: number, shape: number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d]!;
    index[d] = n > 0 ? flat % n : 0;
    flat = n > 0 ? Math.floor(flat / n) : 0;
  }
  return index;
}

/** Throws at the first non-finite element, naming `what` (the option and file), its index and flat index. */
export function assertAllFinite(data: ArrayLike<number>, shape: number[], what: string): void {
  for (let k = 0; k < data.length; k++) {
    const x = data[k]!;
    if (Number.isFinite(x)) continue;
    const at = shape.length > 1 ? `element [${multiIndex(k, shape).join(', ')}] (flat index ${k})` : `element ${k}`;
    throw new XbarcRuntimeError('npy/non-finite', `${what}: ${at} is ${x}; every value must be a finite number`);
  }
}
