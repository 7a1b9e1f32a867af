/**
 * Weight transforms of a graph spec, applied to a layer's weight before its MVM, each with the
 * backward that maps the gradient with respect to the transformed weight onto the raw weight:
 *   mask       W ⊙ M, M fed as `mask:<layer>` (or frozen): pruning; gradient ⊙ M
 *   quantize   symmetric uniform to `bits` (scale max|W|/(2^(bits−1) − 1), round half to even);
 *              straight-through gradient
 *   binarize   sign(W) (+1 at 0), times mean|W| with `scale = mean` (XNOR-Net's α); straight-through
 *              gradient clipped to |W| ≤ 1 (BinaryConnect)
 * The transforms run in the graph. (At fidelity fast the crossbar runtime programs the folded
 * matrix from the raw weight state in TypeScript, so a transform on a crossbar layer needs
 * in-graph programming: see docs/crossbar.md.)
 */

import { DataType, type GraphBuilder } from './onnx.js';

export type WeightTransform = { kind: 'mask' } | { kind: 'quantize'; bits: number } | { kind: 'binarize'; scale: 'none' | 'mean' };

export const maskName = (layer: string): string => `mask:${layer}`;

/** Smallest scale: an all-zero weight quantizes to zeros instead of NaN. */
const TINY = 1e-30;

export function emitTransform(g: GraphBuilder, t: WeightTransform, w: string, layer: string, dims: number[]): { w: string; backward: (dw: string) => string } {
  switch (t.kind) {
    case 'mask': {
      const m = g.sideInput({ name: maskName(layer), owner: 'transform', layer, kind: 'mask', dims });
      return { w: g.op('Mul', [w, m]), backward: (dw) => g.op('Mul', [dw, m]) };
    }
    case 'quantize': {
      const qmax = 2 ** (t.bits - 1) - 1;
      const scale = g.op('Max', [g.op('Div', [g.op('ReduceMax', [g.op('Abs', [w])], { keepdims: 0 }), g.scalar(qmax)]), g.scalar(TINY)]);
      const q = g.op('Clip', [g.op('Round', [g.op('Div', [w, scale])]), g.scalar(-qmax), g.scalar(qmax)]);
      return { w: g.op('Mul', [q, scale]), backward: (dw) => dw };
    }
    case 'binarize': {
      const sign = g.op('Sub', [g.op('Mul', [g.op('Cast', [g.op('GreaterOrEqual', [w, g.scalar(0)])], { to: DataType.FLOAT }), g.scalar(2)]), g.scalar(1)]);
      const wb = t.scale === 'mean' ? g.op('Mul', [sign, g.op('ReduceMean', [g.op('Abs', [w])], { keepdims: 0 })]) : sign;
      const inside = g.op('Cast', [g.op('LessOrEqual', [g.op('Abs', [w]), g.scalar(1)])], { to: DataType.FLOAT });
      return { w: wb, backward: (dw) => g.op('Mul', [dw, inside]) };
    }
  }
}
