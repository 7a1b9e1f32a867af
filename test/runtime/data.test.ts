import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { DataSource, PlanData } from '../../src/model/plan.js';
import { XbarcDataError } from '../../src/model/errors.js';
import { epochDraws, epochOrder, gatherBatch, loadDataset, loadEmbeddedMnist, type Split } from '../../src/runtime/data/index.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'xbarc-data-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const RAW = { mean: 0, std: 1 }; // x = pixel/255, so tests can recover the bytes exactly

function plan(source: DataSource, normalize = RAW): PlanData {
  return { source, normalize, shuffle: true };
}

/** An IDX file: magic [0, 0, dtype, ndims], big-endian dims, then the bytes. */
function idxBytes(dims: number[], data: ArrayLike<number>, dtype = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = dtype;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(Array.from(data))]);
}

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** n images of rows×cols with distinct, recognisable pixel values, plus labels i % 10. */
function synthImages(n: number, rows: number, cols: number, salt: number): { pixels: number[]; labels: number[] } {
  const pixels: number[] = [];
  for (let i = 0; i < n * rows * cols; i++) pixels.push((i * 7 + salt) % 256);
  return { pixels, labels: Array.from({ length: n }, (_, i) => (i + salt) % 10) };
}

function writeIdxSet(prefix: string, n: number, rows: number, cols: number, salt: number, gzip: boolean) {
  const { pixels, labels } = synthImages(n, rows, cols, salt);
  const pack = (b: Buffer) => (gzip ? gzipSync(b) : b);
  const ext = gzip ? '.gz' : '';
  return {
    images: write(`${prefix}-images-idx3-ubyte${ext}`, pack(idxBytes([n, rows, cols], pixels))),
    labels: write(`${prefix}-labels-idx1-ubyte${ext}`, pack(idxBytes([n], labels))),
    pixels,
    labelValues: labels,
  };
}

function assertBytes(split: Split, pixels: number[], labels: number[]): void {
  assert.equal(split.count, labels.length);
  assert.deepEqual(Array.from(split.y), labels);
  assert.equal(split.x.length, pixels.length);
  for (let i = 0; i < pixels.length; i++) assert.equal(split.x[i], Math.fround(pixels[i]! / 255), `pixel ${i}`);
}

async function rejectsData(promise: Promise<unknown>, code: string, ...fragments: string[]): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof XbarcDataError, `expected XbarcDataError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const f of fragments) assert.ok(err.message.includes(f), `message "${err.message}" should contain "${f}"`);
    return true;
  });
}

function idxSource(train: { images: string; labels: string }, test: { images: string; labels: string }, extra: object = {}): DataSource {
  return { kind: 'idx', trainImages: train.images, trainLabels: train.labels, testImages: test.images, testLabels: test.labels, ...extra };
}

describe('idx source', () => {
  for (const gzip of [false, true]) {
    it(`reads ${gzip ? 'gzipped' : 'plain'} IDX files back exactly`, async () => {
      const tag = gzip ? 'gz' : 'plain';
      const train = writeIdxSet(`${tag}-train`, 6, 3, 4, 1, gzip);
      const test = writeIdxSet(`${tag}-test`, 4, 3, 4, 5, gzip);
      const ds = await loadDataset(plan(idxSource(train, test)), 1);
      assert.deepEqual(ds.shape, [1, 3, 4]);
      assert.equal(ds.classes, 10);
      assertBytes(ds.train, train.pixels, train.labelValues);
      assertBytes(ds.test, test.pixels, test.labelValues);
    });
  }

  it('takes the first train/test samples when counts are given', async () => {
    const train = writeIdxSet('sub-train', 6, 2, 2, 3, false);
    const test = writeIdxSet('sub-test', 5, 2, 2, 4, true);
    const ds = await loadDataset(plan(idxSource(train, test, { train: 4, test: 2 })), 1);
    assertBytes(ds.train, train.pixels.slice(0, 16), train.labelValues.slice(0, 4));
    assertBytes(ds.test, test.pixels.slice(0, 8), test.labelValues.slice(0, 2));
  });

  it('rejects asking for more samples than the file has', async () => {
    const train = writeIdxSet('few-train', 3, 2, 2, 0, false);
    const test = writeIdxSet('few-test', 3, 2, 2, 0, false);
    await rejectsData(loadDataset(plan(idxSource(train, test, { train: 4 })), 1), 'data/too-few', 'few-train-images', '4', '3');
  });

  it('names a missing file', async () => {
    const test = writeIdxSet('miss-test', 2, 2, 2, 0, false);
    const missing = join(dir, 'nope-images-idx3-ubyte');
    await rejectsData(loadDataset(plan(idxSource({ images: missing, labels: test.labels }, test)), 1), 'data/missing', missing, 'not found');
  });

  it('reports a truncated image file with expected and actual sizes', async () => {
    const full = idxBytes([3, 2, 2], new Array(12).fill(9));
    const images = write('trunc-images', full.subarray(0, full.length - 5));
    const test = writeIdxSet('trunc-test', 2, 2, 2, 0, false);
    await rejectsData(
      loadDataset(plan(idxSource({ images, labels: test.labels }, test)), 1),
      'data/truncated',
      'trunc-images',
      `expected ${full.length} bytes`,
      `got ${full.length - 5}`,
    );
  });

  it('reports a truncated gzip stream', async () => {
    const gz = gzipSync(idxBytes([3, 2, 2], new Array(12).fill(9)));
    const images = write('cut-images.gz', gz.subarray(0, gz.length - 6));
    const test = writeIdxSet('cut-test', 2, 2, 2, 0, false);
    await rejectsData(loadDataset(plan(idxSource({ images, labels: test.labels }, test)), 1), 'data/corrupt-gzip', 'cut-images.gz');
  });

  it('rejects a bad magic number', async () => {
    const bytes = idxBytes([2, 2, 2], new Array(8).fill(0));
    bytes[0] = 0x50; // "PK..." — e.g. a zip handed in by mistake
    const images = write('magic-images', bytes);
    const test = writeIdxSet('magic-test', 2, 2, 2, 0, false);
    await rejectsData(loadDataset(plan(idxSource({ images, labels: test.labels }, test)), 1), 'data/bad-magic', 'magic-images', 'magic');
  });

  it('rejects a non-byte data type and a wrong number of dimensions', async () => {
    const test = writeIdxSet('dt-test', 2, 2, 2, 0, false);
    const floats = write('float-images', idxBytes([2, 2, 2], new Array(8).fill(0), 0x0d));
    await rejectsData(loadDataset(plan(idxSource({ images: floats, labels: test.labels }, test)), 1), 'data/bad-dtype', 'float-images');
    // A labels file passed where images are expected has 1 dimension, not 3.
    await rejectsData(loadDataset(plan(idxSource({ images: test.labels, labels: test.labels }, test)), 1), 'data/bad-dims', test.labels, '1 dimensions');
  });

  it('rejects trailing bytes after the declared data', async () => {
    const bytes = Buffer.concat([idxBytes([2, 2, 2], new Array(8).fill(1)), Buffer.from([1, 2])]);
    const images = write('long-images', bytes);
    const test = writeIdxSet('long-test', 2, 2, 2, 0, false);
    await rejectsData(loadDataset(plan(idxSource({ images, labels: test.labels }, test)), 1), 'data/trailing-bytes', 'long-images');
  });

  it('rejects image and label counts that differ', async () => {
    const train = writeIdxSet('mm-train', 4, 2, 2, 0, false);
    const labels = write('mm-labels-3', idxBytes([3], [0, 1, 2]));
    const test = writeIdxSet('mm-test', 2, 2, 2, 0, false);
    await rejectsData(loadDataset(plan(idxSource({ images: train.images, labels }, test)), 1), 'data/count-mismatch', 'mm-labels-3', '3 labels', '4 images');
  });

  it('rejects a label outside 0..9', async () => {
    const train = writeIdxSet('lr-train', 3, 2, 2, 0, false);
    const labels = write('lr-labels', idxBytes([3], [1, 10, 2]));
    const test = writeIdxSet('lr-test', 2, 2, 2, 0, false);
    await rejectsData(loadDataset(plan(idxSource({ images: train.images, labels }, test)), 1), 'data/label-range', 'lr-labels', 'record 1', '10');
  });

  it('rejects a test set whose image size differs from the training set', async () => {
    const train = writeIdxSet('sz-train', 2, 2, 2, 0, false);
    const test = writeIdxSet('sz-test', 2, 3, 3, 0, false);
    await rejectsData(loadDataset(plan(idxSource(train, test)), 1), 'data/shape-mismatch', 'sz-test-images');
  });
});

describe('cifar10 source', () => {
  const RECORD = 3073;
  let cifarDir: string;
  const records = new Map<string, { pixels: number[]; labels: number[] }>();

  /** A batch of n records whose pixels encode (file, record, position) so misplacement shows. */
  function cifarBatch(name: string, n: number, salt: number): Buffer {
    const buf = Buffer.alloc(n * RECORD);
    const pixels: number[] = [];
    const labels: number[] = [];
    for (let r = 0; r < n; r++) {
      const label = (r + salt) % 10;
      buf[r * RECORD] = label;
      labels.push(label);
      for (let p = 0; p < 3072; p++) {
        const v = (p * 31 + r * 17 + salt * 101) % 256;
        buf[r * RECORD + 1 + p] = v;
        pixels.push(v);
      }
    }
    records.set(name, { pixels, labels });
    return buf;
  }

  before(() => {
    cifarDir = join(dir, 'cifar');
    mkdirSync(cifarDir);
    for (let b = 1; b <= 5; b++) writeFileSync(join(cifarDir, `data_batch_${b}.bin`), cifarBatch(`data_batch_${b}.bin`, 2, b));
    writeFileSync(join(cifarDir, 'test_batch.bin'), cifarBatch('test_batch.bin', 3, 9));
  });

  it('reads all batches back exactly, in file order, as [3,32,32]', async () => {
    const ds = await loadDataset(plan({ kind: 'cifar10', dir: cifarDir }), 1);
    assert.equal(ds.name, 'cifar10');
    assert.deepEqual(ds.shape, [3, 32, 32]);
    const train = [1, 2, 3, 4, 5].map((b) => records.get(`data_batch_${b}.bin`)!);
    assertBytes(
      ds.train,
      train.flatMap((r) => r.pixels),
      train.flatMap((r) => r.labels),
    );
    const test = records.get('test_batch.bin')!;
    assertBytes(ds.test, test.pixels, test.labels);
  });

  it('reads only the batches needed for a requested count', async () => {
    const partial = join(dir, 'cifar-partial');
    mkdirSync(partial);
    writeFileSync(join(partial, 'data_batch_1.bin'), cifarBatch('p1', 2, 1));
    writeFileSync(join(partial, 'data_batch_2.bin'), cifarBatch('p2', 2, 2));
    writeFileSync(join(partial, 'test_batch.bin'), cifarBatch('pt', 2, 3));
    const ds = await loadDataset(plan({ kind: 'cifar10', dir: partial, train: 3, test: 1 }), 1);
    const p1 = records.get('p1')!;
    const p2 = records.get('p2')!;
    assertBytes(ds.train, [...p1.pixels, ...p2.pixels.slice(0, 3072)], [...p1.labels, p2.labels[0]!]);
    assertBytes(ds.test, records.get('pt')!.pixels.slice(0, 3072), records.get('pt')!.labels.slice(0, 1));
    // Asking for everything needs data_batch_3.bin, which is absent.
    await rejectsData(loadDataset(plan({ kind: 'cifar10', dir: partial }), 1), 'data/missing', 'data_batch_3.bin');
  });

  it('reports a truncated batch with expected and actual sizes', async () => {
    const bad = join(dir, 'cifar-trunc');
    mkdirSync(bad);
    writeFileSync(join(bad, 'data_batch_1.bin'), cifarBatch('t1', 2, 1).subarray(0, 2 * RECORD - 100));
    writeFileSync(join(bad, 'test_batch.bin'), cifarBatch('t2', 1, 1));
    await rejectsData(
      loadDataset(plan({ kind: 'cifar10', dir: bad, train: 1, test: 1 }), 1),
      'data/truncated',
      'data_batch_1.bin',
      `expected ${2 * RECORD} bytes`,
      `got ${2 * RECORD - 100}`,
    );
  });

  it('rejects a label byte outside 0..9', async () => {
    const bad = join(dir, 'cifar-label');
    mkdirSync(bad);
    const batch = cifarBatch('l1', 2, 1);
    batch[RECORD] = 200;
    writeFileSync(join(bad, 'data_batch_1.bin'), batch);
    writeFileSync(join(bad, 'test_batch.bin'), cifarBatch('l2', 1, 1));
    await rejectsData(loadDataset(plan({ kind: 'cifar10', dir: bad, train: 2, test: 1 }), 1), 'data/label-range', 'data_batch_1.bin', 'record 1', '200');
  });

  it('names a missing test batch', async () => {
    const bad = join(dir, 'cifar-notest');
    mkdirSync(bad);
    writeFileSync(join(bad, 'data_batch_1.bin'), cifarBatch('n1', 1, 1));
    await rejectsData(loadDataset(plan({ kind: 'cifar10', dir: bad, train: 1, test: 1 }), 1), 'data/missing', 'test_batch.bin');
  });
});

describe('embedded mnist source', () => {
  const key = (split: Split, i: number) => Buffer.from(split.x.buffer, split.x.byteOffset + i * 784 * 4, 784 * 4).toString('base64');

  it('splits deterministically by seed', async () => {
    const a = await loadDataset(plan({ kind: 'mnist', train: 500, test: 200 }), 42);
    const b = await loadDataset(plan({ kind: 'mnist', train: 500, test: 200 }), 42);
    const c = await loadDataset(plan({ kind: 'mnist', train: 500, test: 200 }), 43);
    assert.deepEqual(a.train.x, b.train.x);
    assert.deepEqual(a.test.y, b.test.y);
    assert.notDeepEqual(a.train.y, c.train.y);
  });

  it('gives disjoint train and test sets of the requested sizes', async () => {
    const ds = await loadDataset(plan({ kind: 'mnist', train: 8000, test: 2000 }), 7);
    assert.equal(ds.name, 'mnist');
    assert.deepEqual(ds.shape, [1, 28, 28]);
    assert.equal(ds.train.count, 8000);
    assert.equal(ds.train.x.length, 8000 * 784);
    assert.equal(ds.test.count, 2000);
    assert.equal(ds.test.y.length, 2000);
    const trainKeys = new Set(Array.from({ length: ds.train.count }, (_, i) => key(ds.train, i)));
    // All 10,000 digits are distinct images, so distinct keys prove disjoint sample sets.
    assert.equal(trainKeys.size, 8000);
    for (let i = 0; i < ds.test.count; i++) assert.ok(!trainKeys.has(key(ds.test, i)), `test sample ${i} also in train`);
  });

  it('binarize: black-and-white pixels (u ≥ threshold → 1) after cropping, before mean/std', async () => {
    const src: DataSource = { kind: 'mnist', train: 300, test: 100 };
    const grey = await loadDataset({ ...plan(src), crop: 20 }, 3);
    const bw = await loadDataset({ ...plan(src), crop: 20, binarize: 0.5 }, 3);
    assert.deepEqual(bw.shape, [1, 20, 20]);
    let ones = 0;
    for (const [g, b] of [
      [grey.train, bw.train],
      [grey.test, bw.test],
    ] as const) {
      assert.deepEqual(b.y, g.y);
      for (let i = 0; i < g.x.length; i++) {
        // NeuroSim's truncate(u, 1, 0.5): 1 where u ≥ 0.5 (u = 128/255 is the first byte that passes).
        const want = Math.round(g.x[i]! * 255) >= 128 ? 1 : 0;
        assert.equal(b.x[i], want, `pixel ${i}: grey ${g.x[i]}`);
        ones += want;
      }
    }
    assert.ok(ones > 0.1 * (grey.train.x.length + grey.test.x.length), `${ones} white pixels`);
    const shifted = await loadDataset({ ...plan(src, { mean: 0.5, std: 0.5 }), binarize: 0.5 }, 3);
    assert.deepEqual(new Set(shifted.train.x), new Set([-1, 1]), 'normalization applies to the binarized pixels');
  });

  it('normalizes pixels as (x/255 - mean)/std', async () => {
    const src: DataSource = { kind: 'mnist', train: 300, test: 100 };
    const raw = await loadDataset(plan(src), 3);
    const norm = await loadDataset(plan(src, { mean: 0.1307, std: 0.3081 }), 3);
    let sawZero = false;
    let sawFull = false;
    for (let i = 0; i < raw.train.x.length; i++) {
      const byte = raw.train.x[i]! * 255;
      assert.ok(Math.abs(byte - Math.round(byte)) < 1e-4 && byte >= -1e-4 && byte <= 255 + 1e-4, `pixel ${i} = ${byte}/255`);
      const expected = Math.fround((Math.round(byte) / 255 - 0.1307) / 0.3081);
      if (norm.train.x[i] !== expected) assert.fail(`normalized pixel ${i}: ${norm.train.x[i]} != ${expected}`);
      sawZero ||= Math.round(byte) === 0;
      sawFull ||= Math.round(byte) === 255;
    }
    assert.ok(sawZero && sawFull, 'raw pixels span 0..255');
  });

  it('has labels in 0..9 with every class in both splits', async () => {
    const ds = await loadDataset(plan({ kind: 'mnist', train: 1000, test: 500 }), 11);
    for (const split of [ds.train, ds.test]) {
      const seen = new Set<number>();
      for (const y of split.y) {
        assert.ok(Number.isInteger(y) && y >= 0 && y <= 9, `label ${y}`);
        seen.add(y);
      }
      assert.equal(seen.size, 10);
    }
  });

  it('embeds exactly 10,000 digits, 1,000-ish per class', async () => {
    const all = await loadEmbeddedMnist();
    assert.equal(all.count, 10000);
    const perClass = new Array(10).fill(0);
    for (const y of all.labels) perClass[y]++;
    for (const n of perClass) assert.ok(n > 800 && n < 1200, `class count ${n}`);
  });

  it('rejects train + test above 10,000 with a clear message', async () => {
    await rejectsData(loadDataset(plan({ kind: 'mnist', train: 9000, test: 2000 }), 1), 'data/too-few', '10000', '11000');
  });

  it('rejects a non-positive std', async () => {
    await rejectsData(loadDataset(plan({ kind: 'mnist', train: 10, test: 10 }, { mean: 0, std: 0 }), 1), 'data/bad-options', 'std');
  });
});

describe('epochOrder and gatherBatch', () => {
  it('epochOrder is a seeded permutation that changes per epoch', () => {
    const a = epochOrder(1000, 5, 0);
    assert.deepEqual(
      Array.from(a).sort((p, q) => p - q),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assert.deepEqual(a, epochOrder(1000, 5, 0));
    assert.notDeepEqual(a, epochOrder(1000, 5, 1));
    assert.notDeepEqual(a, epochOrder(1000, 6, 0));
  });

  it('epochDraws (train.sampling = replacement): count uniform draws; the never-drawn fraction is (1 − 1/n)^n ≈ 1/e', () => {
    const n = 8000;
    const a = epochDraws(n, 5, 0);
    assert.equal(a.length, n);
    assert.ok(a.every((i) => Number.isInteger(i) && i >= 0 && i < n));
    const hits = new Int32Array(n);
    for (const i of a) hits[i]!++;
    // Drawn k times: Binomial(n, 1/n) ≈ Poisson(1); the sd of the never-drawn count is sqrt(n·p0·(1 − p0)) ≈ 43, so 5 sd is ±0.027 of the fraction.
    const p0 = (1 - 1 / n) ** n;
    const never = hits.filter((h) => h === 0).length / n;
    assert.ok(Math.abs(never - p0) < 0.027, `never drawn ${never} vs ${p0}`);
    const twice = hits.filter((h) => h === 2).length / n;
    assert.ok(Math.abs(twice - p0 / 2) < 0.02, `drawn twice ${twice} vs ${p0 / 2}`);
    assert.deepEqual(a, epochDraws(n, 5, 0));
    assert.notDeepEqual(a, epochDraws(n, 5, 1));
  });

  const split: Split = {
    x: Float32Array.from({ length: 5 * 3 }, (_, i) => i),
    y: Int32Array.from([10, 11, 12, 13, 14]),
    count: 5,
  };

  it('copies the indexed samples contiguously', () => {
    const b = gatherBatch(split, [4, 0, 2, 1, 3], 1, 2);
    assert.equal(b.count, 2);
    assert.deepEqual(Array.from(b.x), [0, 1, 2, 6, 7, 8]);
    assert.deepEqual(Array.from(b.y), [10, 12]);
  });

  it('returns a short last batch and reuses caller buffers', () => {
    const out = { x: new Float32Array(3 * 3), y: new Int32Array(3) };
    const b = gatherBatch(split, [4, 0, 2, 1, 3], 3, 3, out);
    assert.equal(b.count, 2);
    assert.deepEqual(Array.from(b.x), [3, 4, 5, 9, 10, 11]);
    assert.deepEqual(Array.from(b.y), [11, 13]);
    assert.equal(b.x.buffer, out.x.buffer);
  });

  it('rejects an index outside the split', () => {
    assert.throws(() => gatherBatch(split, [0, 5], 0, 2), /index 5/);
  });
});
