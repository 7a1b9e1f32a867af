/**
 * Execution-order hints (src/runtime/engine/onnx.ts `sideBranch`, `early`) change when
 * onnxruntime runs a node, never what it computes: whole crossbar runs (training with forward and
 * backward on the crossbar, calibration, evaluation, statistics) give the same bits with the hints
 * and without them, at fidelity fast and exact.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withMerges } from '../../src/compiler/merges.js';
import type { PlanExperiment } from '../../src/model/plan.js';
import { loadDataset } from '../../src/runtime/data/index.js';
import { CrossbarRuntime } from '../../src/runtime/crossbar/runtime.js';
import { buildTrainGraph } from '../../src/runtime/engine/graphs.js';
import { executionOrderHints } from '../../src/runtime/engine/onnx.js';
import { runExperiment, type ExperimentOutcome } from '../../src/runtime/engine/run-experiment.js';
import { adc, planCrossbar, smallCrossbarExperiment } from './crossbar-helpers.js';

async function runWith(hints: boolean, exp: PlanExperiment): Promise<ExperimentOutcome> {
  executionOrderHints.enabled = hints;
  try {
    const data = await loadDataset(exp.data, exp.seed);
    return await runExperiment(exp, data, { trainer: { threads: 1 }, returnWeights: true });
  } finally {
    executionOrderHints.enabled = true;
  }
}

function sameBits(a: ExperimentOutcome, b: ExperimentOutcome, what: string): void {
  assert.deepEqual(Object.keys(a.weights!).sort(), Object.keys(b.weights!).sort());
  for (const [name, w] of Object.entries(a.weights!)) {
    assert.ok(
      Buffer.from(w.buffer, w.byteOffset, w.byteLength).equals(
        Buffer.from(b.weights![name]!.buffer, b.weights![name]!.byteOffset, b.weights![name]!.byteLength),
      ),
      `${what}: ${name} differs`,
    );
  }
  const numbers = (o: ExperimentOutcome) => ({ epochs: o.epochs.map(({ seconds: _s, ...e }) => e), final: o.final, layers: o.layers });
  assert.deepEqual(numbers(a), numbers(b), `${what}: losses, accuracies or layer statistics differ`);
}

for (const fidelity of ['fast', 'exact'] as const) {
  test(`fidelity ${fidelity}: the same bits with and without execution-order hints (train, calibrate, evaluate, statistics)`, async () => {
    // A 6-bit ADC: exact conversions are not merged, so the straight-through masks and statistics come from every conversion.
    const calibrated = adc(6, { kind: 'calibrate', percentile: 0.999 });
    const xb = planCrossbar({ adc: calibrated, backward: { inputBits: 8, dacBits: 1, adc: calibrated } }, { readNoise: fidelity === 'fast' ? 0.05 : 0 });
    const exp = withMerges(smallCrossbarExperiment(fidelity, ['forward', 'backward'], xb, { train: 96, test: 64 }));
    // The hints are in effect: the training graph's nodes come in another order, with anchors.
    const graph = (hints: boolean): Uint8Array => {
      executionOrderHints.enabled = hints;
      try {
        return buildTrainGraph(exp.network, exp.train!.optimizer, CrossbarRuntime.create(exp)!.trainSelector).bytes;
      } finally {
        executionOrderHints.enabled = true;
      }
    };
    assert.ok(!Buffer.from(graph(true)).equals(Buffer.from(graph(false))), 'the hints should reorder the training graph');
    const hinted = await runWith(true, exp);
    const plain = await runWith(false, exp);
    assert.ok(hinted.layers && hinted.layers.length > 0, 'crossbar statistics expected');
    sameBits(hinted, plain, fidelity);
  });
}
