/**
 * Seeded, counter-based Gaussian streams (read noise): Philox4x32-10 bits and a float32
 * Box–Muller transform (philox.ts documents both; the WebAssembly SIMD kernel in philox-wasm.ts
 * and the JS reference there give the same bits). Element e of a stream depends only on the
 * stream's key and e, so a range is drawn without the elements before it.
 */

import { Rng } from './rng.js';
import { fillNormalsJs } from './philox.js';
import { fillNormalsWasm } from './philox-wasm.js';

export class NormalStream {
  /** The Philox key: the first two uint32 of the named `Rng` stream (seed, name). */
  readonly k0: number;
  readonly k1: number;
  /** Elements handed out by `next` so far. */
  position = 0;

  constructor(
    seed: number,
    readonly name: string,
  ) {
    const rng = new Rng(seed, name);
    this.k0 = rng.nextUint32();
    this.k1 = rng.nextUint32();
  }

  /** Elements [offset, offset + out.length) as float32 mean + std·ξ. */
  fill(out: Float32Array, offset: number, mean = 0, std = 1, kernel: 'wasm' | 'js' = 'wasm'): Float32Array {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + out.length > 2 ** 51)
      throw new RangeError(`normal stream ${this.name}: offset ${offset} out of range`);
    const m = Math.fround(mean);
    const s = Math.fround(std);
    if (kernel === 'js' || !fillNormalsWasm(out, offset, this.k0, this.k1, m, s)) fillNormalsJs(out, offset, this.k0, this.k1, m, s);
    return out;
  }

  /** The next out.length elements of the stream (from `position`, which advances). */
  next(out: Float32Array, mean = 0, std = 1): Float32Array {
    this.fill(out, this.position, mean, std);
    this.position += out.length;
    return out;
  }
}
