/**
 * Data loading for the runtime: turn a plan's data section into normalized float32 NCHW tensors.
 * Paths in a plan are used as given (the compiler resolves them against the spec's folder).
 */

import { basename } from 'node:path';
import type { DataSource, PlanData } from '../../model/plan.js';
import { XbarcDataError } from '../../model/errors.js';
import { normalizeSplit, takeFirst } from './batches.js';
import { CIFAR_CLASSES, CIFAR_SHAPE, CIFAR_TEST_FILES, CIFAR_TRAIN_FILES, readCifarFiles } from './cifar10.js';
import { readIdxPair } from './idx.js';
import { embeddedMnistSplit, MNIST_CLASSES, MNIST_SHAPE } from './mnist.js';
import type { Dataset, RawSplit } from './types.js';

export type { Dataset, RawSplit, Split } from './types.js';
export { epochDraws, epochOrder, gatherBatch, normalizeSplit } from './batches.js';
export { parseIdx, readIdxImages, readIdxLabels } from './idx.js';
export { readCifarBatch } from './cifar10.js';
export { loadEmbeddedMnist } from './mnist.js';
export { XbarcDataError } from '../../model/errors.js';

interface RawDataset {
  name: string;
  shape: number[];
  classes: number;
  train: RawSplit;
  test: RawSplit;
}

/** Load and normalize the data set a plan names. Every bad input throws XbarcDataError. */
export async function loadDataset(data: PlanData, seed: number): Promise<Dataset> {
  const raw = binarizeRaw(cropRaw(await loadRaw(data.source, seed), data.crop ?? 0), data.binarize ?? 0);
  const { mean, std } = data.normalize;
  return {
    name: raw.name,
    shape: raw.shape,
    classes: raw.classes,
    train: normalizeSplit(raw.train, mean, std),
    test: normalizeSplit(raw.test, mean, std),
  };
}

async function loadRaw(source: DataSource, seed: number): Promise<RawDataset> {
  switch (source.kind) {
    case 'mnist':
      return { name: 'mnist', shape: [...MNIST_SHAPE], classes: MNIST_CLASSES, ...(await embeddedMnistSplit(source.train, source.test, seed)) };
    case 'idx':
      return loadIdx(source);
    case 'cifar10':
      return loadCifar10(source);
    default:
      throw new XbarcDataError('data/bad-source', `unknown data source kind "${(source as { kind: string }).kind}"`);
  }
}

function loadIdx(source: Extract<DataSource, { kind: 'idx' }>): RawDataset {
  const train = readIdxPair(source.trainImages, source.trainLabels);
  const test = readIdxPair(source.testImages, source.testLabels);
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new XbarcDataError(
      'data/shape-mismatch',
      `${source.testImages}: images are ${test.rows}×${test.cols} but ${source.trainImages} has ${train.rows}×${train.cols}`,
    );
  }
  return {
    name: `idx:${basename(source.trainImages)}`,
    shape: [1, train.rows, train.cols],
    classes: 10,
    train: takeFirst(train, source.train, source.trainImages),
    test: takeFirst(test, source.test, source.testImages),
  };
}

function loadCifar10(source: Extract<DataSource, { kind: 'cifar10' }>): RawDataset {
  const train = readCifarFiles(source.dir, CIFAR_TRAIN_FILES, source.train);
  const test = readCifarFiles(source.dir, CIFAR_TEST_FILES, source.test);
  return {
    name: 'cifar10',
    shape: [...CIFAR_SHAPE],
    classes: CIFAR_CLASSES,
    train: takeFirst(train, source.train, `${source.dir} (CIFAR-10 training batches)`),
    test: takeFirst(test, source.test, `${source.dir} (CIFAR-10 test batch)`),
  };
}

/**
 * Black-and-white pixels (NeuroSim's 1-bit MNIST, IO.cpp `truncate(x, 1, BWthreshold)`): a pixel
 * p becomes 255 where p/255 ≥ threshold, else 0; threshold 0 keeps the grey levels.
 */
export function binarizeRaw(raw: RawDataset, threshold: number): RawDataset {
  if (!(threshold > 0)) return raw;
  const bw = (split: RawSplit): RawSplit => ({ ...split, pixels: split.pixels.map((p) => (p / 255 >= threshold ? 255 : 0)) });
  return { ...raw, train: bw(raw.train), test: bw(raw.test) };
}

/** Center-crop every image to size × size (NeuroSim's MLP reads MNIST as 20 × 20). */
export function cropRaw(raw: RawDataset, size: number): RawDataset {
  const [c, h, w] = raw.shape as [number, number, number];
  if (size <= 0 || (size === h && size === w)) return raw;
  if (size > h || size > w) throw new XbarcDataError('data/bad-crop', `cannot crop ${raw.name} images of ${h}×${w} to ${size}×${size}`);
  const top = Math.floor((h - size) / 2);
  const left = Math.floor((w - size) / 2);
  const crop = (split: RawSplit): RawSplit => {
    const out = new Uint8Array(split.count * c * size * size);
    let o = 0;
    for (let n = 0; n < split.count; n++) {
      for (let ch = 0; ch < c; ch++) {
        const base = (n * c + ch) * h * w;
        for (let y = 0; y < size; y++) {
          const row = base + (top + y) * w + left;
          out.set(split.pixels.subarray(row, row + size), o);
          o += size;
        }
      }
    }
    return { pixels: out, labels: split.labels, count: split.count };
  };
  return { ...raw, shape: [c, size, size], train: crop(raw.train), test: crop(raw.test) };
}
