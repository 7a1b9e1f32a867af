/**
 * The memory model's structure (src/compiler/memory.ts): what grows with what, the parts adding
 * up to the peak, the largest batch that fits, and memory-exceeded naming it. Its calibration
 * against measured peak RSS is test/runtime/memory-estimate.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '../../src/compiler/compile.js';
import type { PlanExperiment, PlanMemory } from '../../src/model/plan.js';

function spec(fidelity: string, batch: number, adcBits = 8, evalBatch = batch): string {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-memory-'));
  const file = join(dir, 'spec.xbar');
  writeFileSync(
    file,
    `import { LeNet5 } from "std/networks"
import { txsim64 } from "std/crossbars"
crossbar xb = txsim64 { adc = { bits = ${adcBits}, range = calibrate(99.9 %) } }
experiment e {
  data = mnist(train = 1000, test = 500)
  model = LeNet5(classes = 10)
  map * -> xb
  fidelity = ${fidelity}
  train { epochs = 1, batch = ${batch}, optimizer = sgd(lr = 0.01), nonideal = [forward, backward] }
  evaluate { batch = ${evalBatch} }
}
`,
  );
  return file;
}

function planOf(file: string, limit = Number.MAX_SAFE_INTEGER): { exp: PlanExperiment; mem: PlanMemory } {
  const r = compile(file, { memoryLimitBytes: limit });
  assert.equal(r.hasErrors, false, r.diagnostics.map((d) => d.message).join('\n'));
  const exp = r.plan!.experiments[0]!;
  return { exp, mem: exp.estimate.memory! };
}

test('the peak is its parts, per layer and per phase, and memoryBytes is the peak', () => {
  const { exp, mem } = planOf(spec('fast', 64));
  assert.equal(exp.estimate.memoryBytes, mem.peakBytes);
  assert.equal(mem.peakBytes, mem.fixedBytes + mem.trainBytes + mem.evalBytes + Math.max(mem.calibrationBytes, mem.statisticsBytes) + mem.noiseBytes);
  assert.deepEqual(
    mem.layers.map((l) => l.name),
    exp.network.layers.map((l) => l.name),
  );
  const saved = mem.layers.reduce((s, l) => s + l.trainBytes, 0);
  assert.ok(saved > 0 && saved < mem.trainBytes, 'the training step holds the layers’ saved tensors and a transient');
  // flatten keeps nothing of its own for backward.
  assert.equal(mem.layers.find((l) => l.name === 'flatten')?.trainBytes ?? 0, 0);
});

test('the estimate follows batch, fidelity and mapping', () => {
  const at = (fidelity: string, batch: number, adcBits = 8) => planOf(spec(fidelity, batch, adcBits)).mem;
  assert.ok(at('fast', 128).trainBytes > 1.9 * at('fast', 64).trainBytes, 'training grows with the batch');
  assert.ok(at('fast', 64).peakBytes > at('ideal', 64).peakBytes, 'crossbar runs calibrate and keep masks');
  assert.equal(at('ideal', 64).calibrationBytes, 0);
  // 8-bit ADC on 64-row tiles: exact conversions merge (provably lossless); 5 bits: every partial sum is held.
  assert.ok(at('exact', 64, 5).peakBytes > 4 * at('exact', 64, 8).peakBytes, 'unmerged exact conversions hold every partial sum');
});

test('memory-exceeded names the largest batch that fits, and that batch fits', () => {
  const full = planOf(spec('fast', 256)).mem.peakBytes;
  // The search varies train.batch; evaluate.batch stays the spec's.
  const one = planOf(spec('fast', 1, 8, 256)).mem.peakBytes;
  const limit = Math.floor((full + one) / 2);
  const r = compile(spec('fast', 256), { memoryLimitBytes: limit });
  const d = r.diagnostics.find((x) => x.code === 'memory-exceeded');
  assert.ok(d, 'memory-exceeded expected');
  const m = /at train\.batch = 256, more than the .* available; the largest train\.batch that fits is (\d+)$/.exec(d.message);
  assert.ok(m, d.message);
  const fits = Number(m[1]);
  assert.ok(fits > 1 && fits < 256, d.message);
  assert.ok(planOf(spec('fast', fits, 8, 256)).mem.peakBytes <= limit, `batch ${fits} should fit`);
  assert.ok(planOf(spec('fast', fits + 1, 8, 256)).mem.peakBytes > limit, `batch ${fits + 1} should not`);
});
