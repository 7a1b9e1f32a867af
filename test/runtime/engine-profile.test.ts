/**
 * Profiling (`EngineSettings.profile`): every session writes onnxruntime's trace on release, and
 * the summary attributes kernel time to the layers and phases the graph builder scoped the node
 * names with.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatProfile, nodeScope, summarizeProfiles } from '../../src/runtime/engine/profile.js';
import { Trainer } from '../../src/runtime/engine/trainer.js';
import { Rng } from '../../src/runtime/rng.js';
import { lenet5, mnistExperiment, sgd } from '../support/plan-builder.js';

test('node names carry their layer and phase; other names fall in (other)', () => {
  assert.deepEqual(nodeScope('s1b1.conv1/bwd/Conv#12'), { layer: 's1b1.conv1', phase: 'bwd' });
  assert.deepEqual(nodeScope('fc3/loss/LogSoftmax#3'), { layer: 'fc3', phase: 'loss' });
  assert.deepEqual(nodeScope('conv1/update/Sub#40'), { layer: 'conv1', phase: 'update' });
  assert.deepEqual(nodeScope('out/loss'), { layer: '(other)', phase: '(other)' });
});

test('a profiled trainer writes one trace per session; the summary splits it by layer, phase and op', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-profile-'));
  try {
    const batch = 8;
    const exp = mnistExperiment({ network: lenet5(), train: { epochs: 1, batch, optimizer: sgd(0.01, 0.9) } });
    const trainer = await Trainer.create(exp, { threads: 1, profile: dir });
    const rng = new Rng(1, 'test/profile');
    const x = rng.fillNormal(new Float32Array(batch * 784));
    const y = Int32Array.from({ length: batch }, () => rng.int(10));
    for (let i = 0; i < 3; i++) await trainer.step(x, y, 0.01);
    await trainer.evaluate(x, y);
    await trainer.release();
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.json')).length, 2, 'one trace per session (train, eval)');

    const summary = summarizeProfiles(dir);
    const train = summary.graphs.find((g) => g.graph === 'LeNet5.train');
    const evaluation = summary.graphs.find((g) => g.graph === 'LeNet5.eval');
    assert.ok(train && evaluation, `graphs: ${summary.graphs.map((g) => g.graph).join(', ')}`);
    assert.equal(train.runs, 3);
    assert.equal(evaluation.runs, 1);
    assert.ok(train.kernelMs > 0 && train.kernelMs <= train.runMs * 1.05, `kernel ${train.kernelMs} ms, runs ${train.runMs} ms`);
    const phases = train.byPhase.map((e) => e.name);
    for (const p of ['fwd', 'bwd', 'update', 'loss']) assert.ok(phases.includes(p), `phase ${p} in ${phases.join(', ')}`);
    const layers = train.byLayer.map((e) => e.name);
    for (const l of ['conv1', 'conv2', 'fc1', 'fc3']) assert.ok(layers.includes(l), `layer ${l} in ${layers.join(', ')}`);
    assert.ok(
      train.byOpType.some((e) => e.name === 'Conv' || e.name === 'ConvTranspose'),
      'conv kernels are counted',
    );
    // Shares add up: every kernel is counted once per grouping.
    const sum = (entries: { ms: number }[]): number => entries.reduce((s, e) => s + e.ms, 0);
    for (const entries of [train.byOpType, train.byLayer, train.byPhase]) assert.ok(Math.abs(sum(entries) - train.kernelMs) < 1e-6 * train.kernelMs + 1e-9);
    assert.match(formatProfile(summary), /LeNet5\.train: 3 runs in 1 session/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
