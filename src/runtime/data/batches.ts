/** Normalization, per-epoch shuffling and batch gathering. */

import { XbarcDataError } from '../../model/errors.js';
import { Rng } from '../rng.js';
import type { RawSplit, Split } from './types.js';

/** x ← (x/255 − mean)/std for every pixel, via a 256-entry lookup table. */
export function normalizeSplit(raw: RawSplit, mean: number, std: number): Split {
  if (!(std > 0) || !Number.isFinite(std) || !Number.isFinite(mean)) {
    throw new XbarcDataError('data/bad-options', `normalize: std must be a positive finite number and mean finite, got mean = ${mean}, std = ${std}`);
  }
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = (v / 255 - mean) / std;
  const x = new Float32Array(raw.pixels.length);
  for (let i = 0; i < x.length; i++) x[i] = lut[raw.pixels[i]!]!;
  return { x, y: Int32Array.from(raw.labels), count: raw.count };
}

/** Keep the first `limit` samples (all when undefined); more than available is an error. */
export function takeFirst(raw: RawSplit, limit: number | undefined, what: string): RawSplit {
  if (limit === undefined) return raw;
  if (!Number.isInteger(limit) || limit < 0) {
    throw new XbarcDataError('data/bad-options', `${what}: requested count must be a non-negative integer, got ${limit}`);
  }
  if (limit > raw.count) {
    throw new XbarcDataError('data/too-few', `${what}: requested ${limit} samples but only ${raw.count} are available`);
  }
  if (limit === raw.count) return raw;
  const sampleSize = raw.pixels.length / raw.count;
  return { pixels: raw.pixels.subarray(0, limit * sampleSize), labels: raw.labels.subarray(0, limit), count: limit };
}

/** The order in which an epoch visits the training samples; reproducible per (seed, epoch). */
export function epochOrder(count: number, seed: number, epoch: number): Int32Array {
  return new Rng(seed, 'shuffle/epoch' + epoch).permutation(count);
}

/** An epoch of `count` draws with replacement, each uniform over [0, count); reproducible per (seed, epoch). */
export function epochDraws(count: number, seed: number, epoch: number): Int32Array {
  const rng = new Rng(seed, 'sample/epoch' + epoch);
  return Int32Array.from({ length: count }, () => rng.int(count));
}

/**
 * Copy samples indices[start .. start+size) of a split into contiguous buffers. The last batch
 * of an epoch may be short; pass `out` buffers to reuse them across steps.
 */
export function gatherBatch(split: Split, indices: ArrayLike<number>, start: number, size: number, out?: { x: Float32Array; y: Int32Array }): Split {
  const n = Math.max(0, Math.min(size, indices.length - start));
  const sampleSize = split.count === 0 ? 0 : split.x.length / split.count;
  const x = out && out.x.length >= n * sampleSize ? out.x.subarray(0, n * sampleSize) : new Float32Array(n * sampleSize);
  const y = out && out.y.length >= n ? out.y.subarray(0, n) : new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const s = indices[start + i]!;
    if (s < 0 || s >= split.count) throw new RangeError(`gatherBatch: sample index ${s} outside 0..${split.count - 1}`);
    x.set(split.x.subarray(s * sampleSize, (s + 1) * sampleSize), i * sampleSize);
    y[i] = split.y[s]!;
  }
  return { x, y, count: n };
}
