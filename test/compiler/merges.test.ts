/**
 * Provably exact merges are decided by the compiler (src/compiler/merges.ts), recorded in the
 * plan (LayerMapping.merges, schema-valid), printed by `xbarc plan`, and followed by the runtime.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertValidPlan, compile } from '../../src/compiler/compile.js';
import { crossbarMerges, decideMerge, withMerges } from '../../src/compiler/merges.js';
import type { LayerMerge, Plan, PlanExperiment } from '../../src/model/plan.js';
import { packageRoot } from '../../src/compiler/resolve.js';
import { CrossbarMvm } from '../../src/runtime/crossbar/emitter.js';
import { loadDataset } from '../../src/runtime/data/index.js';
import { runExperiment } from '../../src/runtime/engine/run-experiment.js';
import { adc, layerXb, xbConfig } from '../runtime/crossbar-helpers.js';

function spec(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-merges-'));
  const file = join(dir, 'spec.xbar');
  writeFileSync(file, text);
  return file;
}

/** 64 × 64 tiles, 2-bit cells, 1-bit DACs (largest partial sum 64 · 1 · 3 = 192), LeNet-5. */
function lenet(o: { adc?: string; device?: string; fidelity?: string; train?: string; evaluate?: string; crossbar?: string } = {}): string {
  return `import { LeNet5 } from "std/networks"
import { PUMA_RRAM } from "std/devices"
device dev = PUMA_RRAM { ${o.device ?? ''} }
crossbar xb { size = 64 x 64, device = dev, weight_bits = 8, cell_bits = 2, input_bits = 8, dac_bits = 1, adc = { bits = ${o.adc ?? '8'} } ${o.crossbar ?? ''} }
experiment e {
  data = mnist(train = 200, test = 100)
  model = LeNet5(classes = 10)
  map * -> xb
  fidelity = ${o.fidelity ?? 'exact'}
  ${o.train ?? ''}
  ${o.evaluate ?? ''}
}
`;
}

function planOf(text: string): PlanExperiment {
  const r = compile(spec(text));
  assert.equal(r.hasErrors, false, r.diagnostics.map((d) => d.message).join('\n'));
  return r.plan!.experiments[0]!;
}

function mergesOf(exp: PlanExperiment): Record<string, LayerMerge[]> {
  return Object.fromEntries(exp.network.layers.filter((l) => l.mapping?.target === 'crossbar').map((l) => [l.name, l.mapping!.merges ?? []]));
}

test('a lossless 8-bit ADC on 64-row tiles (2-bit cells, 1-bit DACs) merges every crossbar layer', () => {
  const m = mergesOf(planOf(lenet()));
  assert.deepEqual(Object.keys(m), ['conv1', 'conv2', 'fc1', 'fc2', 'fc3']);
  for (const [name, list] of Object.entries(m)) {
    // Inference only: the forward direction is all the runtime executes on the crossbar.
    assert.deepEqual(
      list.map((e) => [e.direction, e.applied]),
      [['forward', true]],
      name,
    );
    assert.match(list[0]!.what, /slices, streams and tiles merged into one integer GEMM/);
  }
  assert.match(m['fc1']![0]!.reason, /^lossless 8-bit ADC: 255 codes ≥ 192 = 64 rows × 1 × 3 \(largest partial sum\)/);
  assert.match(m['fc1']![0]!.what, /7 row tiles × 4 slices × 2 planes × 8 streams = 448 ADC conversions/);
  // conv1 has 25 rows (1 channel × 5 × 5): its partial sums stay below 75.
  assert.match(m['conv1']![0]!.reason, /≥ 75 = 25 rows × 1 × 3/);
});

test('subtract = analog: the plan carries it, halves the conversions, and its signed ADC needs one bit more to merge', () => {
  const exp = planOf(lenet({ adc: '9', crossbar: 'subtract = analog' }));
  assert.equal(exp.crossbars['xb']!.subtract, 'analog');
  const m = mergesOf(exp);
  assert.match(m['fc1']![0]!.what, /7 row tiles × 4 slices × 1 plane difference \(I⁺ − I⁻ in analog\) × 8 streams = 224 ADC conversions/);
  assert.match(m['fc1']![0]!.reason, /^lossless 9-bit signed ADC on I⁺ − I⁻: ±255 codes ≥ 192 = 64 rows × 1 × 3/);
  // 8 bits: lossless per plane, one bit short for the signed difference.
  const short = mergesOf(planOf(lenet({ crossbar: 'subtract = analog' })));
  assert.equal(short['fc1']![0]!.reason, 'adc.bits = 8 < 9 needed for 64-row tiles (signed ADC): plane differences up to ±192 would be quantized');
  assert.equal(planOf(lenet()).crossbars['xb']!.subtract, 'digital', 'the default keeps per-plane conversion');
});

test('a 7-bit ADC is one bit short for 64-row tiles: not applied, with the partial-sum reason', () => {
  const m = mergesOf(planOf(lenet({ adc: '7' })));
  assert.equal(m['fc1']![0]!.applied, false);
  assert.equal(m['fc1']![0]!.reason, 'adc.bits = 7 < 8 needed for 64-row tiles: partial sums up to 192 would be quantized');
  // conv1's 25-row tile sums to at most 75 < 127: lossless at 7 bits too.
  assert.equal(m['conv1']![0]!.applied, true);
});

test('narrow slices: the widest slice sets the largest partial sum (8-bit weights on 3-bit cells: 7 levels; 2-bit weights on 4-bit cells: 3)', () => {
  const forward = (over: Parameters<typeof xbConfig>[0]): LayerMerge =>
    decideMerge({ fidelity: 'exact', xb: xbConfig({ rows: 64, inputBits: 8, dacBits: 1, ...over }), K: 200, N: 10, direction: 'forward', signedInput: false });
  // 64 rows × 1 × 7 = 448 needs 9 bits; 3 slices (3, 3, 2 bits).
  const wide = forward({ weightBits: 8, cellBits: 3, adc: adc(8) });
  assert.equal(wide.applied, false);
  assert.equal(wide.reason, 'adc.bits = 8 < 9 needed for 64-row tiles: partial sums up to 448 would be quantized');
  assert.match(wide.what, /4 row tiles × 3 slices × 2 planes × 8 streams/);
  assert.match(forward({ weightBits: 8, cellBits: 3, adc: adc(9) }).reason, /^lossless 9-bit ADC: 511 codes ≥ 448 = 64 rows × 1 × 7/);
  // A 2-bit weight on a 4-bit cell uses its lowest 4 levels: partial sums up to 64 · 3 = 192, not 64 · 15.
  const one = forward({ weightBits: 2, cellBits: 4, adc: adc(8) });
  assert.equal(one.applied, true, one.reason);
  assert.match(one.reason, /255 codes ≥ 192 = 64 rows × 1 × 3/);
});

test('device variation, faults, drift and a non-ideal ADC transfer each prevent the merge, and say so', () => {
  const d2d = mergesOf(planOf(lenet({ device: 'd2d_sigma = 3 %' })));
  assert.ok(Object.values(d2d).every((l) => !l[0]!.applied));
  assert.equal(d2d['fc1']![0]!.reason, "d2d_sigma = 3 % makes each slice's conductances differ");
  const stuck = mergesOf(planOf(lenet({ device: 'p_sa0 = 1 %' })));
  assert.match(stuck['fc2']![0]!.reason, /stuck-at faults \(p_sa0 = 1 %, p_sa1 = 0 %\)/);
  // Drift only counts at the evaluation time, which the plan now carries.
  const driftExp = planOf(lenet({ device: 'drift_nu = 0.05', evaluate: 'evaluate { time = 1 h }' }));
  assert.equal(driftExp.evaluate.time, 3600);
  assert.match(mergesOf(driftExp)['fc1']![0]!.reason, /^drift_nu = 0\.05 at evaluate\.time = 3600 s scales conductances by 0\.66/);
  const noDriftYet = planOf(lenet({ device: 'drift_nu = 0.05' }));
  assert.equal(noDriftYet.evaluate.time, 0);
  assert.equal(mergesOf(noDriftYet)['fc1']![0]!.applied, true);
  // Several reasons are all listed.
  const both = decideMerge({ fidelity: 'exact', xb: xbConfig({ adc: { ...adc(6), offset: 0.5 } }, { d2dSigma: 0.02 }), K: 400, N: 120, direction: 'forward' });
  assert.equal(both.applied, false);
  assert.match(
    both.reason,
    /d2d_sigma = 2 %.*; adc transfer is not ideal \(offset 0\.5 LSB\); adc\.bits = 6 < 8 needed for 64-row tiles: partial sums up to 192/,
  );
  // A fixed ADC range whose step exceeds one level.
  const fixed = decideMerge({ fidelity: 'exact', xb: xbConfig({ adc: adc(8, { kind: 'fixed', current: 1e-3 }) }), K: 64, N: 10, direction: 'forward' });
  assert.equal(fixed.applied, false);
  assert.match(fixed.reason, /adc\.range = fixed\(0\.001 A\) gives a step of .* levels/);
});

test('training with backward in nonideal lists the backward direction with its own ADC', () => {
  const m = mergesOf(planOf(lenet({ train: 'train { epochs = 1, batch = 32, nonideal = [forward, backward] }' })));
  assert.deepEqual(
    m['fc1']!.map((e) => [e.direction, e.applied]),
    [
      ['forward', true],
      ['backward', true],
    ],
  );
  const narrow = mergesOf(
    planOf(
      lenet({ adc: '8', train: 'train { epochs = 1, batch = 32, nonideal = [forward, backward] }' }).replace(
        'dac_bits = 1,',
        'dac_bits = 1, backward = { adc = { bits = 7 } },',
      ),
    ),
  );
  assert.equal(narrow['fc1']![1]!.direction, 'backward');
  assert.equal(narrow['fc1']![1]!.applied, false);
  assert.match(narrow['fc1']![1]!.reason, /^backward\.adc\.bits = 7 < 8 needed for 64-column tiles/);
  // Forward only in training: no backward entry.
  const fwdOnly = mergesOf(planOf(lenet({ train: 'train { epochs = 1, batch = 32, nonideal = [forward] }' })));
  assert.deepEqual(
    fwdOnly['fc1']!.map((e) => e.direction),
    ['forward'],
  );
});

test('fidelity fast is reported as folded by definition; fidelity ideal maps nothing to crossbars', () => {
  const fast = mergesOf(
    planOf(lenet({ fidelity: 'fast', device: 'd2d_sigma = 3 %', train: 'train { epochs = 1, batch = 32, nonideal = [forward, backward, update] }' })),
  );
  for (const list of Object.values(fast)) {
    assert.deepEqual(
      list.map((e) => e.direction),
      ['forward', 'backward'],
    );
    for (const e of list) {
      assert.equal(e.applied, true);
      assert.equal(e.reason, 'fidelity fast folds slices and tiles by definition: one GEMM, layer-level ADC');
      assert.match(e.what, /folded into one GEMM/);
    }
  }
  const ideal = planOf(lenet({ fidelity: 'ideal' }));
  assert.ok(ideal.network.layers.every((l) => l.mapping?.merges === undefined));
});

test('plans with merges validate against the schema, and a malformed merge does not', () => {
  const r = compile(spec(lenet({ adc: '7', train: 'train { epochs = 1, batch = 32, nonideal = [forward, backward] }' })));
  assert.equal(r.hasErrors, false);
  assert.doesNotThrow(() => assertValidPlan(r.plan!));
  const bad = JSON.parse(JSON.stringify(r.plan)) as Plan;
  const fc1 = bad.experiments[0]!.network.layers.find((l) => l.name === 'fc1')!;
  (fc1.mapping!.merges![0] as unknown as Record<string, unknown>)['applied'] = 'yes';
  assert.throws(() => assertValidPlan(bad), /merges\/0\/applied/);
  // withMerges recomputes from the facts: the same list the compiler wrote.
  const exp = r.plan!.experiments[0]!;
  assert.deepEqual(mergesOf(withMerges(exp)), mergesOf(exp));
});

test('xbarc plan prints the merges section; --json carries it', () => {
  const file = spec(lenet({ adc: '7' }));
  const run = (args: string[]) =>
    spawnSync(process.execPath, [join(packageRoot, 'bin', 'xbarc.js'), ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const r = run(['plan', file]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\n {2}merges {4}slices, streams and tiles of each crossbar layer merged into one integer GEMM where provably exact\n/);
  assert.match(r.stdout, /\n {4}conv1 +forward +applied +lossless 7-bit ADC: 127 codes ≥ 75 = 25 rows/);
  assert.match(r.stdout, /\n {4}fc1 +forward +not applied +adc\.bits = 7 < 8 needed for 64-row tiles: partial sums up to 192 would be quantized\n/);
  const j = run(['plan', file, '--json']);
  assert.equal(j.status, 0, j.stderr);
  const plan = JSON.parse(j.stdout) as Plan;
  const fc1 = plan.experiments[0]!.network.layers.find((l) => l.name === 'fc1')!;
  assert.deepEqual(
    fc1.mapping!.merges!.map((e) => [e.direction, e.applied]),
    [['forward', false]],
  );
  const fast = run(['plan', join(packageRoot, 'experiments', 'txsim-lenet5.xbar')]);
  assert.match(fast.stdout, /\n {4}fc2 +backward +folded +fidelity fast folds slices and tiles by definition/);
});

test('the emitter follows the plan: merged only where the plan applies it; a contradicting plan is an error', () => {
  const xb = xbConfig();
  const merges = crossbarMerges(xb, { fidelity: 'exact', K: 100, N: 10 });
  assert.deepEqual(
    merges.map((e) => e.applied),
    [true, true],
  );
  assert.match(new CrossbarMvm(layerXb(xb, { merges })).mergeReason('forward') ?? '', /^lossless 8-bit ADC/);
  assert.equal(new CrossbarMvm(layerXb(xb)).mergeReason('forward'), null, 'no plan entry: per conversion');
  assert.equal(new CrossbarMvm(layerXb(xb, { merges, mergeLossless: false })).mergeReason('forward'), null, 'forced off');
  const forced = merges.map((e) => ({ ...e, applied: false, reason: 'forced by the test' }));
  assert.equal(new CrossbarMvm(layerXb(xb, { merges: forced })).mergeReason('backward'), null);
  assert.throws(
    () => new CrossbarMvm(layerXb(xb, { merges, variation: true })).mergeReason('forward'),
    /plan merges its forward conversions, but its devices vary/,
  );
});

test('a run follows the plan: merged where it says applied, per conversion where it says not, with equal results', async () => {
  const exp = planOf(lenet());
  const data = await loadDataset(exp.data, exp.seed);
  const merged = await runExperiment(exp, data, { trainer: { threads: 1 } });
  assert.ok(
    merged.layers!.every((l) => typeof l['mergedExact'] === 'string' && /^lossless 8-bit ADC/.test(l['mergedExact'] as string)),
    JSON.stringify(merged.layers),
  );
  // The same plan with every merge forced "not applied": the per-conversion path runs.
  const forced: PlanExperiment = JSON.parse(JSON.stringify(exp)) as PlanExperiment;
  for (const l of forced.network.layers)
    for (const m of l.mapping?.merges ?? []) Object.assign(m, { applied: false, reason: 'forced not applied by the test' });
  const unmerged = await runExperiment(forced, data, { trainer: { threads: 1 } });
  assert.ok(
    unmerged.layers!.every((l) => l['mergedExact'] === null),
    JSON.stringify(unmerged.layers),
  );
  // Provably exact: the same predictions either way.
  assert.equal(unmerged.final.testAccuracy, merged.final.testAccuracy);
  assert.equal(unmerged.final.testLoss, merged.final.testLoss);
});
