/** Shared helpers of the crossbar tests: configs, and running one crossbar MVM as a small ONNX graph. */

import ort from 'onnxruntime-node';
import type { AdcSpec, CrossbarSpec, DeviceSpec, WiresSpec } from '../../src/model/crossbar.js';
import { CrossbarMvm, debugTensors, type LayerCrossbar } from '../../src/runtime/crossbar/emitter.js';
import type { MvmSpec } from '../../src/runtime/engine/mvm.js';
import { GraphBuilder } from '../../src/runtime/engine/onnx.js';
import type { NonidealStage, PlanCrossbar, PlanExperiment } from '../../src/model/plan.js';
import { buildNetwork, conv, dense, flatten, maxpool, mnistExperiment, relu, sgd } from '../support/plan-builder.js';

export function adc(bits: number, range: AdcSpec['range'] = { kind: 'max' }): AdcSpec {
  return { bits, range, offset: 0, gainError: 0, inl: 0, rounding: 'nearest' };
}

/** A plan device (an ideal 4-level 100 kΩ / 1 MΩ cell, 0.25 V reads); G_on and G_off follow r_on and r_off unless given. */
export function deviceSpec(over: Partial<DeviceSpec> = {}): DeviceSpec {
  const rOn = over.rOn ?? 100e3;
  const rOff = over.rOff ?? rOn * 10;
  const gOn = 1 / rOn;
  return {
    name: 'dev',
    levels: 4,
    rOn,
    rOff,
    gOn,
    gOff: gOn / (rOff / rOn),
    vRead: 0.25,
    d2dSigma: 0,
    d2dDist: 'normal',
    readNoise: 0,
    driftNu: 0,
    driftT0: 1,
    pSa0: 0,
    pSa1: 0,
    update: { kind: 'ideal' },
    iv: { kind: 'linear' },
    ...over,
  };
}

/** A crossbar with 64×64 tiles, 8-bit weights on 2-bit cells, 8-bit inputs on 1-bit DACs, 8-bit `max` ADCs. */
export function xbConfig(over: Partial<CrossbarSpec> = {}, device: Partial<DeviceSpec> = {}): CrossbarSpec {
  return {
    name: 'xb',
    rows: 64,
    cols: 64,
    mapping: 'differential',
    subtract: 'digital',
    weightBits: 8,
    cellBits: 2,
    inputBits: 8,
    dacBits: 1,
    adc: adc(8),
    backward: { inputBits: 8, dacBits: 1, adc: adc(8) },
    wires: NO_WIRES,
    parasitics: { kind: 'none' },
    device: deviceSpec(device),
    ...over,
  };
}

export function layerXb(xb: CrossbarSpec, over: Partial<LayerCrossbar> = {}): LayerCrossbar {
  return {
    layer: 'L',
    xb,
    fidelity: 'exact',
    forward: true,
    backward: false,
    ranges: 'static',
    outputs: 'none',
    variation: false,
    readNoise: false,
    signedInput: true,
    ...over,
  };
}

export interface MvmRun {
  y: Float32Array;
  acc?: Float32Array;
  lsb?: number;
  dx?: Float32Array;
  bacc?: Float32Array;
  blsb?: number;
  out: ort.InferenceSession.OnnxValueMapType;
}

/**
 * Run one crossbar MVM: forward y = x·W (static ranges fed: xrange, lsb) and, when `dy` is
 * given, the backward input product of a second emitter with an ideal forward.
 */
export async function runMvm(
  cfg: LayerCrossbar,
  spec: MvmSpec,
  x: { data: Float32Array; dims: number[] },
  w: { data: Float32Array; dims: number[] },
  feeds: Record<string, ort.Tensor> = {},
  dy?: { data: Float32Array; dims: number[] },
): Promise<MvmRun> {
  const g = new GraphBuilder('mvm-test');
  g.input('x', 'float', x.dims);
  g.input('w', 'float', w.dims);
  const m = new CrossbarMvm(cfg);
  const fwd = m.forward(g, spec, 'x', 'w');
  g.output('y', fwd.y);
  const dbg = debugTensors(g);
  const layer = cfg.layer;
  if (dbg[`acc:${layer}`]) {
    g.output('acc', dbg[`acc:${layer}`]!);
    g.output('lsb', dbg[`lsb:${layer}`]!);
  }
  if (dy) {
    g.input('dy', 'float', dy.dims);
    const mb = new CrossbarMvm({ ...cfg, layer: `${layer}.b`, forward: false, backward: true });
    const fb = mb.forward(g, spec, 'x', 'w');
    g.output('dx', mb.backwardInput(g, spec, 'dy', 'w', fb));
    g.output('bacc', dbg[`bacc:${layer}.b`]!);
    g.output('blsb', dbg[`blsb:${layer}.b`]!);
  }
  const session = await ort.InferenceSession.create(g.toBytes(), { intraOpNumThreads: 1 });
  const all: Record<string, ort.Tensor> = {
    x: new ort.Tensor('float32', x.data, x.dims),
    w: new ort.Tensor('float32', w.data, w.dims),
    ...feeds,
  };
  if (dy) all['dy'] = new ort.Tensor('float32', dy.data, dy.dims);
  const wanted = new Set(session.inputNames);
  const out = await session.run(Object.fromEntries(Object.entries(all).filter(([k]) => wanted.has(k))));
  await session.release();
  const f32 = (k: string): Float32Array | undefined => (out[k] ? (out[k]!.data as Float32Array) : undefined);
  const r: MvmRun = { y: f32('y')!, out };
  if (out['acc']) {
    r.acc = f32('acc')!;
    r.lsb = f32('lsb')![0]!;
  }
  if (out['dx']) {
    r.dx = f32('dx')!;
    r.bacc = f32('bacc')!;
    r.blsb = f32('blsb')![0]!;
  }
  return r;
}

export const scalarTensor = (v: number): ort.Tensor => new ort.Tensor('float32', Float32Array.of(v), []);
/** A fed ADC step `xb/<layer>/step` = [a, b, s] (LSB = b/a level units, s the integer core's multiplier or 0; exact-int.ts fedStep). */
export const stepTensor = (step: readonly number[] = [1, 1, 1]): ort.Tensor => new ort.Tensor('float32', Float32Array.from(step), [3]);

// ---- plan-level fixtures shared by the crossbar training tests ---------------------------------

export const NO_WIRES: WiresSpec = { row: 0, col: 0, source: 0, sense: 0 };

/**
 * A plan crossbar `xb` as lowering would write it: 32×32 differential tiles, 8-bit weights on
 * 2-bit cells, 8-bit inputs on 1-bit DACs, calibrated 8-bit ADCs, no wires, an ideal 4-level
 * device; `over` and `device` override any of these.
 */
export function planCrossbar(over: Partial<CrossbarSpec> = {}, device: Partial<DeviceSpec> = {}): PlanCrossbar {
  const calibrated = adc(8, { kind: 'calibrate', percentile: 0.999 });
  return xbConfig({ rows: 32, cols: 32, adc: calibrated, backward: { inputBits: 8, dacBits: 1, adc: calibrated }, ...over }, device);
}

/** A small conv + dense network on MNIST with both weighted layers on crossbar `xb`. */
export function smallCrossbarExperiment(
  fidelity: PlanExperiment['fidelity'],
  nonideal: NonidealStage[],
  xb: PlanCrossbar,
  opts: { seed?: number; train?: number; test?: number } = {},
): PlanExperiment {
  const net = buildNetwork('small', [1, 28, 28], 10, [
    { name: 'conv1', op: conv(4, 5, 2) },
    { name: 'relu1', op: relu() },
    { name: 'pool1', op: maxpool(2) },
    { name: 'flatten', op: flatten() },
    { name: 'fc1', op: dense(10) },
  ]);
  for (const l of net.layers) if (l.mapping) Object.assign(l.mapping, { target: 'crossbar', crossbar: 'xb' });
  const exp = mnistExperiment({
    network: net,
    train: { epochs: 1, batch: 32, optimizer: sgd(0.05, 0.9) },
    mnist: { train: opts.train ?? 800, test: opts.test ?? 300 },
    evalBatch: 100,
    seed: opts.seed ?? 3,
  });
  exp.fidelity = fidelity;
  exp.crossbars = { xb };
  exp.train!.nonideal = nonideal;
  return exp;
}
