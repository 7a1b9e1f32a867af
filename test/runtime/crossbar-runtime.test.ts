/**
 * Crossbar execution of whole experiments: TxSim-style training at fidelity fast (forward and
 * backward on the crossbar, D2D variation and read noise), inference at fidelity exact after
 * software training, the worker path, reproducibility, and clear errors for what is not supported.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withMerges } from '../../src/compiler/merges.js';
import type { PlanCrossbar, PlanExperiment, NonidealStage } from '../../src/compiler/plan-types.js';
import { assertCrossbarSupported } from '../../src/runtime/crossbar/runtime.js';
import { loadDataset, type Dataset } from '../../src/runtime/data/index.js';
import { runExperiment, runExperimentInWorker } from '../../src/runtime/engine/run-experiment.js';
import { planCrossbar, smallCrossbarExperiment } from './crossbar-helpers.js';

const crossbar = planCrossbar;

function experiment(fidelity: PlanExperiment['fidelity'], nonideal: NonidealStage[], xb: PlanCrossbar, seed = 3): PlanExperiment {
  const exp = smallCrossbarExperiment(fidelity, nonideal, xb, { seed });
  // The merge decisions, as the compiler records them in the plan.
  return withMerges(exp);
}

let cached: Dataset | null = null;
async function data(exp: PlanExperiment): Promise<Dataset> {
  cached ??= await loadDataset(exp.data, exp.seed);
  return cached;
}

test('fast fidelity trains through crossbar forward and backward (D2D, read noise), reproducibly, with per-layer stats', async () => {
  const exp = experiment('fast', ['forward', 'backward', 'update'], crossbar({}, { d2d_sigma: 0.03, read_noise: 0.02, update: { kind: 'txsim', v: 0.01, gamma: 0.05 } }));
  const d = await data(exp);
  const a = await runExperiment(exp, d, { trainer: { threads: 1 } });
  const b = await runExperiment(exp, d, { trainer: { threads: 1 } });
  assert.ok(a.final.testAccuracy > 0.6, `accuracy ${a.final.testAccuracy}`);
  assert.equal(a.final.testAccuracy, b.final.testAccuracy);
  assert.equal(a.epochs[0]!.trainLoss, b.epochs[0]!.trainLoss);
  assert.deepEqual(a.layers!.map((l) => l.name), ['conv1', 'fc1']);
  for (const l of a.layers!) {
    assert.ok(l.adcSaturation >= 0 && l.adcSaturation < 0.05, `${l.name} saturation ${l.adcSaturation}`);
    assert.ok(l.snrDb !== null && l.snrDb > 10 && l.snrDb < 60, `${l.name} SNR ${l.snrDb}`);
    assert.match(l.update, /^device: txsim\(v=0.01, gamma=0.05\) on differential pairs/);
  }
  // Another seed samples other devices (and noise): a different run.
  const c = await runExperiment({ ...exp, seed: 4 }, d, { trainer: { threads: 1 } });
  assert.notEqual(c.epochs[0]!.trainLoss, a.epochs[0]!.trainLoss);
});

test('exact inference after software training (nonideal = []) stays within 2 points of ideal with lossless 8-bit ADCs', async () => {
  const exact = experiment('exact', [], crossbar());
  const d = await data(exact);
  const ideal = await runExperiment({ ...exact, fidelity: 'ideal' }, d, { trainer: { threads: 1 } });
  const r = await runExperiment(exact, d, { trainer: { threads: 1 } });
  // Training is identical (software); only the evaluation differs.
  assert.equal(r.epochs[0]!.trainLoss, ideal.epochs[0]!.trainLoss);
  assert.ok(Math.abs(r.final.testAccuracy - ideal.final.testAccuracy) <= 0.02, `exact ${r.final.testAccuracy} vs ideal ${ideal.final.testAccuracy}`);
  assert.ok(r.layers!.every((l) => l.adcSaturation === 0 && (l.snrDb ?? 0) > 25), JSON.stringify(r.layers));
  // 8-bit ADCs on 32-row tiles with 2-bit cells and 1-bit DACs are lossless: the conversions merge.
  assert.ok(r.layers!.every((l) => typeof l['mergedExact'] === 'string' && /lossless 8-bit ADC/.test(l['mergedExact'] as string)), JSON.stringify(r.layers));
  const unmerged = await runExperiment(exact, d, { trainer: { threads: 1 }, crossbar: { mergeLossless: false } });
  assert.equal(unmerged.final.testAccuracy, r.final.testAccuracy, 'merged and per-conversion exact evaluation agree');
  assert.ok(unmerged.layers!.every((l) => l['mergedExact'] === null));
  // A 3-bit ADC loses accuracy and SNR.
  const coarse = experiment('exact', [], crossbar({ adc: { bits: 3, range: { kind: 'calibrate', percentile: 0.999 }, offset: 0, gain_error: 0, inl: 0 } }));
  const rc = await runExperiment(coarse, d, { trainer: { threads: 1 } });
  assert.ok(rc.layers![0]!.snrDb! < r.layers![0]!.snrDb! - 6, `3-bit SNR ${rc.layers![0]!.snrDb} vs 8-bit ${r.layers![0]!.snrDb}`);
  assert.equal(rc.layers![0]!['mergedExact'], null);
});

test('exact fidelity also trains through the crossbar (forward and backward, offset mapping, 2-bit DACs)', async () => {
  const exp = experiment('exact', ['forward', 'backward'], crossbar({ mapping: 'offset', dac_bits: 2, size: [16, 8] }, { d2d_sigma: 0.02, p_sa0: 0.01 }));
  const d = await data(exp);
  const r = await runExperiment(exp, d, { trainer: { threads: 1 } });
  const ideal = await runExperiment({ ...exp, fidelity: 'ideal' }, d, { trainer: { threads: 1 } });
  // One epoch of 800 samples: well above chance and not far below the software-trained network.
  assert.ok(r.final.testAccuracy > 0.5 && r.final.testAccuracy > ideal.final.testAccuracy - 0.15, `exact-trained ${r.final.testAccuracy} vs ideal ${ideal.final.testAccuracy}`);
  assert.ok(Number.isFinite(r.epochs[0]!.trainLoss));
  assert.equal(r.layers![1]!.fidelity, 'exact');
});

test('the worker path builds the crossbar selector inside the worker', async () => {
  const exp = experiment('fast', ['forward'], crossbar({ mapping: 'offset' }));
  const d = await data(exp);
  const inWorker = await runExperimentInWorker(exp, d, { threads: 1 });
  const direct = await runExperiment(exp, d, { trainer: { threads: 1 } });
  assert.equal(inWorker.final.testAccuracy, direct.final.testAccuracy);
  assert.equal(inWorker.layers!.length, 2);
});

test('unsupported crossbar features fail with a message that says what and where', () => {
  // Parasitics (fcm, aam) run at fast and exact fidelity (test/runtime/parasitics-training.test.ts).
  assert.doesNotThrow(() => assertCrossbarSupported(experiment('fast', [], crossbar({ parasitics: { kind: 'fcm', refresh: 1, backward: 'transposed' } }))));
  assert.throws(() => assertCrossbarSupported(experiment('exact', [], crossbar({}, { read_noise: 0.01 }))), /read noise at fidelity exact/);
  assert.doesNotThrow(() => assertCrossbarSupported(experiment('ideal', [], crossbar({ parasitics: { kind: 'fcm' } }))));
});
