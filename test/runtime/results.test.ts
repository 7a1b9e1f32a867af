import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XbarcRuntimeError } from '../../src/model/errors.js';
import { tempPathFor } from '../../src/runtime/results/atomic.js';
import { validateResults, writeFileAtomic, writeResults, type Results } from '../../src/runtime/results/index.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'xbarc-results-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function sample(overrides: Partial<Results> = {}): Results {
  return {
    xbarc: { version: '0.1.0' },
    experiment: 'taox_lenet',
    specHash: 'ab'.repeat(32),
    seed: 7,
    fidelity: 'fast',
    resolvedSpec: { crossbar: { size: [64, 64], adc: { bits: 8 } } },
    startedAt: '2024-05-01T10:00:00.000Z',
    finishedAt: '2024-05-01T10:05:00.000Z',
    epochs: [
      { epoch: 1, trainLoss: 0.9, trainAccuracy: 0.7, testLoss: 0.5, testAccuracy: 0.85, seconds: 60.5 },
      { epoch: 2, trainLoss: 0.4, trainAccuracy: 0.88, testLoss: 0.35, testAccuracy: 0.9, seconds: 59.1, lr: 0.05 },
    ],
    final: { testAccuracy: 0.9, testLoss: 0.35 },
    timing: { totalSeconds: 300, compileSeconds: 0.2, msPerStep: 11.3 },
    layers: [{ name: 'conv1', tiles: 1, adcSaturation: 0.001 }],
    ...overrides,
  };
}

const tempFiles = (folder: string) => readdirSync(folder).filter((f) => f.endsWith('.tmp'));

describe('writeResults', () => {
  it('round-trips valid results into a new nested folder', async () => {
    const out = join(dir, 'a', 'b');
    const path = await writeResults(out, sample());
    assert.equal(path, join(out, 'results.json'));
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), sample());
    assert.deepEqual(tempFiles(out), []);
  });

  it('replaces an existing file', async () => {
    const out = join(dir, 'replace');
    await writeResults(out, sample());
    await writeResults(out, sample({ seed: 8 }));
    assert.equal(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).seed, 8);
  });

  it('writes a non-finite loss as null, which the schema accepts', async () => {
    const out = join(dir, 'nan');
    const results = sample({ final: { testAccuracy: 0.1, testLoss: Number.NaN } });
    await writeResults(out, results);
    assert.equal(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).final.testLoss, null);
  });

  it('leaves the previous complete file when a write dies before its rename', async () => {
    const out = join(dir, 'crash');
    await writeResults(out, sample());
    const target = join(out, 'results.json');
    // A crash mid-write leaves at most a partial temp file; the target is untouched.
    const newText = JSON.stringify(sample({ seed: 99 }), null, 2);
    writeFileSync(tempPathFor(target), newText.slice(0, newText.length / 2));
    assert.deepEqual(JSON.parse(readFileSync(target, 'utf8')), sample());
    // The next run still writes normally next to the stale temp file.
    await writeResults(out, sample({ seed: 99 }));
    assert.equal(JSON.parse(readFileSync(target, 'utf8')).seed, 99);
  });

  it('rejects invalid results with located, readable messages and writes nothing', async () => {
    const out = join(dir, 'invalid');
    await writeResults(out, sample());
    const before = readFileSync(join(out, 'results.json'), 'utf8');
    const bad = sample({ epochs: [{ ...sample().epochs[0]!, testAccuracy: 1.5 }] }) as Partial<Results>;
    delete bad.timing;
    await assert.rejects(writeResults(out, bad as Results), (err: unknown) => {
      assert.ok(err instanceof XbarcRuntimeError);
      assert.equal(err.code, 'results/invalid');
      assert.match(err.message, /taox_lenet/);
      assert.match(err.message, /\/epochs\/0\/testAccuracy: must be <= 1/);
      assert.match(err.message, /\(root\): missing required property "timing"/);
      return true;
    });
    assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), before);
    assert.deepEqual(tempFiles(out), []);
  });
});

describe('validateResults', () => {
  it('accepts valid results, including inference-only ones without epochs or layers', () => {
    assert.deepEqual(validateResults(sample()), []);
    const inference = sample({ epochs: [] });
    delete inference.layers;
    assert.deepEqual(validateResults(inference), []);
  });

  it('locates each problem by JSON pointer', () => {
    const issues = validateResults({
      ...sample(),
      specHash: 'not-a-hash',
      fidelity: 'approximate',
      startedAt: 'yesterday',
      seed: 1.5,
      surprise: true,
      timing: { totalSeconds: 3, evalSeconds: 'fast' },
    });
    const at = (path: string) => issues.filter((i) => i.path === path).map((i) => i.message);
    assert.equal(at('/specHash').length, 1);
    assert.match(at('/fidelity')[0]!, /must be one of \["ideal","fast","exact"\]/);
    assert.equal(at('/startedAt').length, 1);
    assert.match(at('/seed')[0]!, /integer/);
    assert.match(at('/timing/evalSeconds')[0]!, /number/);
    assert.deepEqual(at(''), ['unknown property "surprise"']);
  });

  it('requires a name on every layer entry', () => {
    const issues = validateResults(sample({ layers: [{ tiles: 3 } as unknown as { name: string }] }));
    assert.deepEqual(issues, [{ path: '/layers/0', message: 'missing required property "name"' }]);
  });
});

describe('writeFileAtomic', () => {
  it('writes bytes and strings exactly', async () => {
    const path = join(dir, 'bytes.bin');
    await writeFileAtomic(path, new Uint8Array([0, 1, 255]));
    assert.deepEqual([...readFileSync(path)], [0, 1, 255]);
    await writeFileAtomic(path, 'héllo');
    assert.equal(readFileSync(path, 'utf8'), 'héllo');
  });

  it('removes its temp file when the final rename fails', async () => {
    const folder = join(dir, 'rename-fails');
    mkdirSync(join(folder, 'results.json'), { recursive: true }); // a directory in the way
    await assert.rejects(writeFileAtomic(join(folder, 'results.json'), '{}'));
    assert.deepEqual(tempFiles(folder), []);
  });
});
