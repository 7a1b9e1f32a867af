/**
 * IDX files (MNIST, Fashion-MNIST): magic [0, 0, dtype, ndims], ndims big-endian uint32 sizes,
 * then the data. Only unsigned-byte data (dtype 0x08) is meaningful for images and labels.
 */

import { XbarcDataError } from '../../model/errors.js';
import { readMaybeGzip } from './files.js';
import type { RawSplit } from './types.js';

const DTYPE_UBYTE = 0x08;
const IDX_CLASSES = 10;

export interface IdxTensor {
  dims: number[];
  data: Uint8Array;
}

/** Parse an IDX buffer of unsigned bytes with exactly `ndims` dimensions. */
export function parseIdx(buf: Uint8Array, file: string, ndims: number): IdxTensor {
  if (buf.length < 4) {
    throw new XbarcDataError('data/truncated', `${file}: truncated IDX header: expected at least 4 bytes, got ${buf.length}`);
  }
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw new XbarcDataError('data/bad-magic', `${file}: bad magic number 0x${hex(buf, 4)}: not an IDX file (expected 0x0000${hex([DTYPE_UBYTE, ndims], 2)})`);
  }
  if (buf[2] !== DTYPE_UBYTE) {
    throw new XbarcDataError('data/bad-dtype', `${file}: IDX data type 0x${hex([buf[2]!], 1)} is not supported (expected 0x08, unsigned byte)`);
  }
  if (buf[3] !== ndims) {
    throw new XbarcDataError('data/bad-dims', `${file}: IDX file has ${buf[3]} dimensions, expected ${ndims}`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) {
    throw new XbarcDataError('data/truncated', `${file}: truncated IDX header: expected ${headerBytes} bytes, got ${buf.length}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const expected = headerBytes + dims.reduce((a, b) => a * b, 1);
  if (buf.length < expected) {
    throw new XbarcDataError('data/truncated', `${file}: truncated: expected ${expected} bytes for dims [${dims.join(', ')}], got ${buf.length}`);
  }
  if (buf.length > expected) {
    throw new XbarcDataError('data/trailing-bytes', `${file}: expected ${expected} bytes for dims [${dims.join(', ')}], got ${buf.length} (trailing data)`);
  }
  return { dims, data: buf.subarray(headerBytes, expected) };
}

function hex(bytes: ArrayLike<number>, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += (bytes[i] ?? 0).toString(16).padStart(2, '0');
  return s;
}

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  pixels: Uint8Array;
}

export function readIdxImages(file: string): IdxImages {
  const { dims, data } = parseIdx(readMaybeGzip(file), file, 3);
  const [count, rows, cols] = dims as [number, number, number];
  if (count === 0 || rows === 0 || cols === 0) {
    throw new XbarcDataError('data/empty', `${file}: IDX image file is empty (dims [${dims.join(', ')}])`);
  }
  return { count, rows, cols, pixels: data };
}

export function readIdxLabels(file: string, classes = IDX_CLASSES): Uint8Array {
  const { data } = parseIdx(readMaybeGzip(file), file, 1);
  checkLabels(data, classes, file);
  return data;
}

/** Throw when a label is not a valid class index. */
export function checkLabels(labels: Uint8Array, classes: number, file: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= classes) {
      throw new XbarcDataError('data/label-range', `${file}: label out of range at record ${i}: ${labels[i]} (expected 0..${classes - 1})`);
    }
  }
}

/** Read a matching pair of image and label files into one raw split. */
export function readIdxPair(imagesFile: string, labelsFile: string): RawSplit & { rows: number; cols: number } {
  const images = readIdxImages(imagesFile);
  const labels = readIdxLabels(labelsFile);
  if (labels.length !== images.count) {
    throw new XbarcDataError('data/count-mismatch', `${labelsFile}: count mismatch: ${labels.length} labels but ${imagesFile} has ${images.count} images`);
  }
  return { pixels: images.pixels, labels, count: images.count, rows: images.rows, cols: images.cols };
}
