/**
 * onnxruntime's blocked-channel (NCHWc) convolution used directly: `com.microsoft.nchwc` ops
 * ReorderInput (NCHW → channel blocks), Conv, ReorderOutput. Level 'all' rewrites Conv into them
 * only where the weights are initializers; the kernel itself reads its weights as an ordinary
 * input (onnxruntime contrib_ops/cpu/nchwc_ops.cc), so a training graph, whose weights are inputs,
 * can reorder them in-graph (a Reshape and a Transpose of a small tensor) and use it.
 *
 * The block is MLAS's vector width in floats (16 with AVX-512, 8 with AVX2, …; 1: no NCHWc
 * kernels), a property of the machine: it is probed once, when this module loads, by reordering a
 * known tensor. Graphs built with a block only run correctly where that block is the machine's.
 */

import ort from 'onnxruntime-node';
import { GraphBuilder } from './onnx.js';

const NCHWC = 'com.microsoft.nchwc';

/**
 * The block: ReorderInput of x[0, c, 0, s] = 2c + s (64 channels, 2 positions) puts channel 0 at
 * position 1 right after the block's channels at position 0, so its index is the block size.
 */
async function probeBlock(): Promise<number> {
  const g = new GraphBuilder('nchwc-probe');
  g.input('x', 'float', [1, 64, 1, 2]);
  g.output('y', g.contribOp(NCHWC, 'ReorderInput', ['x']), 'float', [1, 64, 1, 2]);
  try {
    const s = await ort.InferenceSession.create(g.toBytes(), { executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
    try {
      const x = Float32Array.from({ length: 128 }, (_, i) => i);
      const y = (await s.run({ x: new ort.Tensor('float32', x, [1, 64, 1, 2]) }))['y']!.data as Float32Array;
      const block = y.indexOf(1);
      return block > 1 && 64 % block === 0 ? block : 1;
    } finally {
      await s.release();
    }
  } catch {
    return 1; // no NCHWc kernels in this build or on this CPU
  }
}

/** This machine's NCHWc block (channels per block), 1 where the kernels are missing. */
export const NCHWC_BLOCK: number = await probeBlock();

/** Whether a conv of C input and O output channels can run blocked without padding channels. */
export function nchwcFits(C: number, O: number, block = NCHWC_BLOCK): boolean {
  return block > 1 && O % block === 0 && (C % block === 0 || C < block);
}

/**
 * W[O, C, kh, kw] in the kernel's layout: OIHWBiBo ([O/b, C/b, kh, kw, b_in, b_out]) for blocked
 * inputs, OIHWBo ([O/b, C, kh, kw, b_out]) for an NCHW input of fewer than `block` channels
 * (MlasReorderFilterOIHWBiBo / OIHWBo), shaped [O, C, kh, kw] as the kernel expects.
 */
function blockedWeight(g: GraphBuilder, w: string, O: number, C: number, kh: number, kw: number, block: number): string {
  const blockedIn = C >= block;
  const split = blockedIn ? [O / block, block, C / block, block, kh, kw] : [O / block, block, C, kh, kw];
  const perm = blockedIn ? [0, 2, 4, 5, 3, 1] : [0, 2, 3, 4, 1];
  return g.op('Reshape', [g.op('Transpose', [g.op('Reshape', [w, g.constInt64(split)])], { perm }), g.constInt64([O, C, kh, kw])]);
}

/** Conv(x, w) with `attrs` through the NCHWc kernels; x NCHW [B, C, H, W], w [O, C, kh, kw], result NCHW. */
export function nchwcConv(
  g: GraphBuilder,
  x: string,
  w: string,
  dims: { C: number; O: number; kernel: [number, number] },
  attrs: Record<string, number[]>,
  block = NCHWC_BLOCK,
): string {
  const { C, O, kernel } = dims;
  const input = C >= block ? g.contribOp(NCHWC, 'ReorderInput', [x]) : x;
  const y = g.contribOp(NCHWC, 'Conv', [input, blockedWeight(g, w, O, C, kernel[0], kernel[1], block)], attrs);
  return g.contribOp(NCHWC, 'ReorderOutput', [y], { channels: O });
}
