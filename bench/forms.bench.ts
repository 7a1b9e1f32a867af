/**
 * Graph forms of the conv products (issue 23, item 2): the forward (Conv, ConvTranspose with the
 * flipped kernel at stride 1, onnxruntime's NCHWc kernels with in-graph reordered weights), the
 * weight gradient (Conv over swapped batch/channel axes, im2col × one GEMM, `unfold`: one-hot
 * Conv per channel × per-image GEMMs) and the input gradient (ConvTranspose, Conv with the
 * flipped kernel at stride 1, MatMul + Col2Im, the flipped Conv through NCHWc), timed on the
 * layer shapes of ResNet-20 (CIFAR, batch 128) and ResNet-18 (224², batch 16), interleaved. The
 * rows are each form's time against the form the emitter picks (`forwardForm`, `weightGradForm`,
 * `inputGradForm` in src/runtime/engine/mvm.ts): a ratio below 1 means the rule picks the slower
 * form on this machine. The NCHWc forms fall back to the plain ones where the machine has no
 * NCHWc kernels or the channels do not fit its block (src/runtime/engine/nchwc.ts).
 *
 *   node dist/bench/run.js forms
 */

import ort from 'onnxruntime-node';
import {
  CONV_FORWARDS,
  CONV_INPUT_GRADS,
  forwardForm,
  type ConvForwardForm,
  CONV_WEIGHT_GRADS,
  inputGradForm,
  weightGradForm,
  type ConvInputGradForm,
  type ConvMvmSpec,
  type ConvWeightGradForm,
} from '../src/runtime/engine/mvm.js';
import { GraphBuilder } from '../src/runtime/engine/onnx.js';
import { openSession } from '../src/runtime/engine/session.js';
import { Rng } from '../src/runtime/rng.js';
import { interleavedMedians, type Row, type Section } from './harness.js';

interface Shape {
  label: string;
  batch: number;
  spec: ConvMvmSpec;
}

function conv(label: string, batch: number, C: number, H: number, O: number, k: number, stride: number, pad: number): Shape {
  const Ho = Math.floor((H + 2 * pad - k) / stride) + 1;
  return {
    label,
    batch,
    spec: { kind: 'conv2d', layer: label, C, H, W: H, O, kernel: [k, k], stride: [stride, stride], pads: [pad, pad, pad, pad], Ho, Wo: Ho },
  };
}

/** The distinct conv shapes of ResNet-20 (batch 128) and ResNet-18 at 224² (batch 16). */
export const SHAPES: Shape[] = [
  conv('R20 conv1, 3→16 3×3 @32²', 128, 3, 32, 16, 3, 1, 1),
  conv('R20 stage 1, 16→16 3×3 @32²', 128, 16, 32, 16, 3, 1, 1),
  conv('R20 stage 2 in, 16→32 3×3/2 @32²', 128, 16, 32, 32, 3, 2, 1),
  conv('R20 shortcut, 16→32 1×1/2 @32²', 128, 16, 32, 32, 1, 2, 0),
  conv('R20 stage 2, 32→32 3×3 @16²', 128, 32, 16, 32, 3, 1, 1),
  conv('R20 stage 3, 64→64 3×3 @8²', 128, 64, 8, 64, 3, 1, 1),
  conv('R18 conv1, 3→64 7×7/2 @224²', 16, 3, 224, 64, 7, 2, 3),
  conv('R18 layer 1, 64→64 3×3 @56²', 16, 64, 56, 64, 3, 1, 1),
  conv('R18 layer 3, 256→256 3×3 @14²', 16, 256, 14, 256, 3, 1, 1),
];

const THREADS = 2;

async function session(build: (g: GraphBuilder) => string, inputs: Record<string, number[]>, outDims: number[]): Promise<() => Promise<unknown>> {
  const g = new GraphBuilder('form');
  for (const [name, dims] of Object.entries(inputs)) g.input(name, 'float', dims);
  g.output('out', build(g), 'float', outDims);
  const s = await openSession(g.toBytes(), { threads: THREADS });
  const rng = new Rng(1, 'bench/forms');
  const feeds = Object.fromEntries(
    Object.entries(inputs).map(([name, dims]) => [name, new ort.Tensor('float32', rng.fillNormal(new Float32Array(dims.reduce((a, b) => a * b, 1))), dims)]),
  );
  return () => s.run(feeds);
}

/** Median ms of each form of one gradient on one shape, interleaved. */
export async function timeForms<F extends string>(
  forms: readonly F[],
  build: (form: F, g: GraphBuilder) => string,
  inputs: Record<string, number[]>,
  outDims: number[],
  reps = 12,
): Promise<Record<F, number>> {
  const runs = await Promise.all(forms.map((f) => session((g) => build(f, g), inputs, outDims)));
  for (const r of runs) await r();
  const ms = await interleavedMedians(runs, reps, 4);
  return Object.fromEntries(forms.map((f, i) => [f, ms[i]!])) as Record<F, number>;
}

function inputForms(s: ConvMvmSpec): ConvInputGradForm[] {
  return s.stride[0] === 1 && s.stride[1] === 1 ? ['convTranspose', 'conv', 'col2im', 'nchwc'] : ['convTranspose', 'col2im'];
}

export const section: Section = {
  name: 'forms (conv gradient graph forms, 2 threads)',
  async run(): Promise<Row[]> {
    const rows: Row[] = [];
    for (const { label, batch, spec: s } of SHAPES) {
      const xDims = [batch, s.C, s.H, s.W];
      const dyDims = [batch, s.O, s.Ho, s.Wo];
      const wDims = [s.O, s.C, ...s.kernel];
      {
        const yForms: ConvForwardForm[] = s.stride[0] === 1 ? ['conv', 'convTranspose', 'nchwc'] : ['conv', 'nchwc'];
        const y = await timeForms(yForms, (f, g) => CONV_FORWARDS[f](g, s, 'x', 'w'), { x: xDims, w: wDims }, dyDims);
        const chosenY = forwardForm(s);
        for (const f of yForms)
          rows.push({ name: `${label}: y by ${f}`, value: y[f], unit: 'ms', baseline: { name: `y by ${chosenY} (chosen)`, value: y[chosenY] } });
      }
      const wForms: ConvWeightGradForm[] = ['conv', 'im2col', 'unfold'];
      const dw = await timeForms(wForms, (f, g) => CONV_WEIGHT_GRADS[f](g, s, 'dy', 'x'), { x: xDims, dy: dyDims }, wDims);
      const chosenW = weightGradForm(s);
      for (const f of wForms)
        rows.push({ name: `${label}: dW by ${f}`, value: dw[f], unit: 'ms', baseline: { name: `dW by ${chosenW} (chosen)`, value: dw[chosenW] } });
      const dForms = inputForms(s);
      const dx = await timeForms(dForms, (f, g) => CONV_INPUT_GRADS[f](g, s, 'dy', 'w'), { dy: dyDims, w: wDims }, xDims);
      const chosenX = inputGradForm(s);
      for (const f of dForms)
        rows.push({ name: `${label}: dx by ${f}`, value: dx[f], unit: 'ms', baseline: { name: `dx by ${chosenX} (chosen)`, value: dx[chosenX] } });
    }
    return rows;
  },
};
