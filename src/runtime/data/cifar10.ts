/**
 * CIFAR-10 binary format: files of 3073-byte records, one label byte then 3072 pixel bytes in
 * CHW order (1024 red, 1024 green, 1024 blue, each row-major 32×32).
 */

import { join } from 'node:path';
import { XbarcDataError } from '../../model/errors.js';
import { checkLabels } from './idx.js';
import { readDataFile } from './files.js';
import type { RawSplit } from './types.js';

export const CIFAR_SHAPE = [3, 32, 32] as const;
export const CIFAR_CLASSES = 10;
const PIXELS = 3 * 32 * 32;
const RECORD = 1 + PIXELS;
export const CIFAR_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR_TEST_FILES = ['test_batch.bin'];

/** Decode one CIFAR-10 batch file into separate pixel and label arrays. */
export function readCifarBatch(file: string): RawSplit {
  const buf = readDataFile(file);
  if (buf.length === 0) throw new XbarcDataError('data/empty', `${file}: CIFAR-10 batch file is empty`);
  if (buf.length % RECORD !== 0) {
    const expected = Math.ceil(buf.length / RECORD) * RECORD;
    throw new XbarcDataError('data/truncated', `${file}: truncated: expected ${expected} bytes (a whole number of ${RECORD}-byte records), got ${buf.length}`);
  }
  const count = buf.length / RECORD;
  const labels = new Uint8Array(count);
  const pixels = new Uint8Array(count * PIXELS);
  for (let r = 0; r < count; r++) {
    labels[r] = buf[r * RECORD]!;
    pixels.set(buf.subarray(r * RECORD + 1, (r + 1) * RECORD), r * PIXELS);
  }
  checkLabels(labels, CIFAR_CLASSES, file);
  return { pixels, labels, count };
}

/**
 * Read batch files from `dir` in order until `limit` samples are in hand (all files when no limit),
 * so a small experiment does not decode 150 MB it will not use.
 */
export function readCifarFiles(dir: string, files: readonly string[], limit?: number): RawSplit {
  const parts: RawSplit[] = [];
  let have = 0;
  for (const name of files) {
    if (limit !== undefined && have >= limit) break;
    const part = readCifarBatch(join(dir, name));
    parts.push(part);
    have += part.count;
  }
  return concatRaw(parts, PIXELS);
}

function concatRaw(parts: RawSplit[], sampleSize: number): RawSplit {
  if (parts.length === 1) return parts[0]!;
  const count = parts.reduce((n, p) => n + p.count, 0);
  const pixels = new Uint8Array(count * sampleSize);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels, at * sampleSize);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { pixels, labels, count };
}
