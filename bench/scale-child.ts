/**
 * One configuration of the scale bench (bench/scale.bench.ts), run in its own process so that its
 * peak resident set size (`process.resourceUsage().maxRSS`) is its own:
 *
 *   node dist/bench/scale-child.js '{"task":"epoch","spec":"…/resnet20.xbar","experiment":"ideal"}'
 *   node dist/bench/scale-child.js '{"task":"step","spec":"…","experiment":"fast","network":"ResNet18","batch":16,"reps":2}'
 *
 * `epoch`: the experiment as `xbarc run` runs it (runExperiment: one epoch, then the test set),
 * timed from the progress events: the epoch from the end of its first step to the end of its last
 * (the first step, which allocates onnxruntime's arenas, is the warm-up, as in the PyTorch script),
 * scaled to all steps; the evaluation likewise over its batches.
 * `step`: training steps of the experiment on a fixed random batch, with `network` (a stdlib
 * network, e.g. ResNet18 at 3×224×224) replacing the spec's: a warm-up step, then the median of `reps`.
 * `profile`: a directory for onnxruntime's session profiles (engine/profile.ts).
 * Prints one JSON line.
 */

import { join } from 'node:path';
import { compile } from '../src/compiler/compile.js';
import { check } from '../src/compiler/check.js';
import { crossbarMapping } from '../src/compiler/lower.js';
import { withMerges } from '../src/compiler/merges.js';
import { packageRoot } from '../src/compiler/resolve.js';
import type { PlanExperiment, PlanLayer, PlanNetwork } from '../src/model/plan.js';
import type { CrossbarSpec } from '../src/model/crossbar.js';
import { loadDataset } from '../src/runtime/data/index.js';
import { CrossbarRuntime } from '../src/runtime/crossbar/runtime.js';
import { runExperiment, type Progress } from '../src/runtime/engine/run-experiment.js';
import { Trainer } from '../src/runtime/engine/trainer.js';
import { Rng } from '../src/runtime/rng.js';
import { median } from './harness.js';

export interface ChildJob {
  task: 'epoch' | 'step';
  spec: string;
  experiment: string;
  network?: string;
  batch?: number;
  reps?: number;
  profile?: string;
}

export interface ChildResult {
  epochMs?: number;
  evalMs?: number;
  trainImages?: number;
  testImages?: number;
  stepMs?: number;
  minStepMs?: number;
  /** Peak resident set size of the process, KiB. */
  peakRssKiB: number;
}

function planOf(job: ChildJob): PlanExperiment {
  const result = compile(job.spec, { experiment: job.experiment });
  const plan = result.experiments[0]?.plan;
  if (result.hasErrors || !plan) throw new Error(`${job.spec}: ${result.diagnostics.map((d) => d.message).join('; ') || `no experiment ${job.experiment}`}`);
  return plan;
}

/** Seconds between the first and last progress event of a phase, scaled from n − 1 to n batches. */
function phaseMs(events: Progress[]): number {
  if (events.length < 2) throw new Error(`scale bench: need at least 2 batches per phase to time it, got ${events.length}`);
  const first = events[0]!;
  const last = events[events.length - 1]!;
  return ((last.elapsedMs - first.elapsedMs) * last.batches) / (events.length - 1);
}

async function epoch(job: ChildJob): Promise<ChildResult> {
  const plan = planOf(job);
  const data = await loadDataset(plan.data, plan.seed);
  const train: Progress[] = [];
  const evaluation: Progress[] = [];
  await runExperiment(plan, data, {
    ...(job.profile ? { trainer: { profile: job.profile } } : {}),
    onProgress: (p) => (p.phase === 'train' ? train : evaluation).push(p),
  });
  return {
    epochMs: phaseMs(train),
    evalMs: phaseMs(evaluation.filter((p) => p.epoch === 1)),
    trainImages: data.train.count,
    testImages: data.test.count,
    peakRssKiB: process.resourceUsage().maxRSS,
  };
}

/**
 * A stdlib network as a plan network, its weighted layers mapped as the spec maps its own: onto
 * the spec's one crossbar (except a last dense layer the spec keeps digital) or all digital.
 */
function stdlibNetwork(name: string, like: PlanExperiment): PlanNetwork {
  const checked = check(join(packageRoot, 'stdlib', 'networks.xbar')).model?.networks.get(name);
  if (!checked?.complete || !checked.declaredInput) throw new Error(`stdlib network ${name} is not a complete network with an input shape`);
  const xbName = Object.keys(like.crossbars)[0];
  const lastDigital = like.network.layers.filter((l) => l.mapping).at(-1)?.mapping?.target === 'digital';
  const weighted = checked.layers.filter((l) => l.op.kind === 'dense' || l.op.kind === 'conv2d');
  const layers: PlanLayer[] = checked.layers.map((l) => {
    const layer: PlanLayer = {
      name: l.name,
      op: l.op,
      inputs: l.inputs,
      inputShape: l.inputShape,
      outputShape: l.outputShape,
      params: l.params,
      flopsPerSample: l.flopsPerSample,
      activationBytesPerSample: l.activationBytesPerSample,
    };
    if (l.op.kind !== 'dense' && l.op.kind !== 'conv2d') return layer;
    const rows = l.op.kind === 'conv2d' ? l.inputShape[0]! * l.op.kernel[0] * l.op.kernel[1] : l.inputShape.reduce((a, b) => a * b, 1);
    const cols = l.op.kind === 'conv2d' ? l.op.outChannels : l.op.units;
    const digital = !xbName || (lastDigital && l === weighted.at(-1));
    layer.mapping = digital
      ? { target: 'digital', matrix: { rows, cols } }
      : { target: 'crossbar', crossbar: xbName, matrix: { rows, cols }, ...crossbarMapping(rows, cols, like.crossbars[xbName] as unknown as CrossbarSpec) };
    return layer;
  });
  return { name, inputShape: checked.declaredInput.shape, classes: layers.at(-1)!.outputShape[0]!, layers };
}

async function steps(job: ChildJob): Promise<ChildResult> {
  const base = planOf(job);
  const exp = job.network ? withMerges({ ...base, network: stdlibNetwork(job.network, base) }) : base;
  const batch = job.batch ?? exp.train!.batch;
  const engine = job.profile ? { profile: job.profile } : {};
  const xb = CrossbarRuntime.create(exp, engine);
  const trainer = await Trainer.create(exp, xb ? { ...engine, mvm: xb.trainSelector, evalMvm: xb.evalSelector, sideFeeds: xb.sideFeeds } : engine);
  xb?.setWeightSource((layer) => trainer.peekState(`${layer}/weight`));
  try {
    const rng = new Rng(1, 'bench/scale-batch');
    const x = rng.fillNormal(new Float32Array(batch * exp.network.inputShape.reduce((a, b) => a * b, 1)));
    const y = Int32Array.from({ length: batch }, () => rng.int(exp.network.classes));
    await trainer.step(x, y, 0.01);
    const times: number[] = [];
    for (let i = 0; i < (job.reps ?? 2); i++) {
      const t0 = performance.now();
      await trainer.step(x, y, 0.01);
      times.push(performance.now() - t0);
    }
    return { stepMs: median(times), minStepMs: Math.min(...times), peakRssKiB: process.resourceUsage().maxRSS };
  } finally {
    await trainer.release();
    await xb?.release();
  }
}

const job = JSON.parse(process.argv[2] ?? '{}') as ChildJob;
const result = job.task === 'step' ? await steps(job) : await epoch(job);
console.log(JSON.stringify(result));
