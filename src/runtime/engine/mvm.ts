/**
 * The pluggable matrix–vector-multiply (MVM) emitter of weighted layers.
 *
 * A weighted layer (dense, conv2d) needs three products of its weight matrix W[K × N]:
 *   forward          y  = x · W            (the crossbar read)
 *   backwardInput    dx = dy · Wᵀ          (the transposed read, backward pass)
 *   backwardWeight   dW = xᵀ · dy          (the outer product, update)
 * Everything else of the layer (bias, activation, optimizer) is digital and stays in the layer
 * emitter. A crossbar model implements `MvmEmitter` (tiles as batched MatMul, ADC as scale/Round/
 * Clip, straight-through masks saved in `saved`) and is selected per layer; `idealMvm` and
 * `im2colMvm` are the float32 implementations.
 *
 * Tensor layouts (B = dynamic batch):
 *   dense   x [B, K]        W [K, N]            y [B, N]
 *   conv2d  x [B, C, H, W]  W [O, C, kh, kw]    y [B, O, Ho, Wo]     (K = C·kh·kw, N = O)
 */

import type { GraphBuilder } from './onnx.js';

export interface DenseMvmSpec {
  kind: 'dense';
  layer: string;
  K: number;
  N: number;
}

export interface ConvMvmSpec {
  kind: 'conv2d';
  layer: string;
  C: number;
  H: number;
  W: number;
  O: number;
  kernel: [number, number];
  stride: [number, number];
  /** [top, left, bottom, right] (the ONNX `pads` order). */
  pads: [number, number, number, number];
  Ho: number;
  Wo: number;
}

export type MvmSpec = DenseMvmSpec | ConvMvmSpec;

/** What the forward emitted: the output and any tensors the backward products may reuse. */
export interface MvmForward {
  y: string;
  saved: Record<string, string>;
}

export interface MvmEmitter {
  readonly name: string;
  forward(g: GraphBuilder, spec: MvmSpec, x: string, w: string): MvmForward;
  backwardInput(g: GraphBuilder, spec: MvmSpec, dy: string, w: string, fwd: MvmForward): string;
  backwardWeight(g: GraphBuilder, spec: MvmSpec, dy: string, x: string, fwd: MvmForward): string;
}

/** Chooses the MVM emitter of each weighted layer (the crossbar issue plugs in here). */
export type MvmSelector = (layer: string, spec: MvmSpec) => MvmEmitter;

// ---------------------------------------------------------------------------------------------
// Dense: the same three GEMMs in both float implementations.

function denseForward(g: GraphBuilder, x: string, w: string): MvmForward {
  return { y: g.op('MatMul', [x, w]), saved: {} };
}

function denseBackwardInput(g: GraphBuilder, dy: string, w: string): string {
  return g.op('Gemm', [dy, w], { transB: 1 }); // [B,N]·[K,N]ᵀ
}

function denseBackwardWeight(g: GraphBuilder, dy: string, x: string): string {
  return g.op('Gemm', [x, dy], { transA: 1 }); // [B,K]ᵀ·[B,N]
}

// ---------------------------------------------------------------------------------------------
// Ideal: ORT's native Conv kernels.

/** ConvTranspose output_padding that restores the exact input size lost to floor division. */
export function convOutputPadding(s: ConvMvmSpec): [number, number] {
  const [kh, kw] = s.kernel;
  const [sh, sw] = s.stride;
  const [pt, pl, pb, pr] = s.pads;
  return [s.H - (sh * (s.Ho - 1) + kh - pt - pb), s.W - (sw * (s.Wo - 1) + kw - pl - pr)];
}

function convAttrs(s: ConvMvmSpec): Record<string, number[]> {
  return { kernel_shape: [...s.kernel], strides: [...s.stride], pads: [...s.pads] };
}

export const idealMvm: MvmEmitter = {
  name: 'ideal',
  forward(g, spec, x, w) {
    if (spec.kind === 'dense') return denseForward(g, x, w);
    return { y: g.op('Conv', [x, w], convAttrs(spec)), saved: {} };
  },
  backwardInput(g, spec, dy, w) {
    if (spec.kind === 'dense') return denseBackwardInput(g, dy, w);
    // ConvTranspose's weight layout [Cin=O, Cout=C, kh, kw] is exactly the forward W.
    return g.op('ConvTranspose', [dy, w], { ...convAttrs(spec), output_padding: convOutputPadding(spec) });
  },
  backwardWeight(g, spec, dy, x) {
    if (spec.kind === 'dense') return denseBackwardWeight(g, dy, x);
    return convWeightGradByConv(g, spec, dy, x);
  },
};

/**
 * dW[o,c,i,j] = Σ_b,y,x dy[b,o,y,x] · xpad[b,c,y·s+i,x·s+j]: a Conv of the input with the batch
 * as channels, dy as kernel and the forward stride as dilation. Its spatial output can exceed the
 * kernel by the rows floor division dropped; those are sliced off.
 */
function convWeightGradByConv(g: GraphBuilder, s: ConvMvmSpec, dy: string, x: string): string {
  const xT = g.op('Transpose', [x], { perm: [1, 0, 2, 3] });
  const dyT = g.op('Transpose', [dy], { perm: [1, 0, 2, 3] });
  const r = g.op('Conv', [xT, dyT], { pads: [...s.pads], strides: [1, 1], dilations: [...s.stride] }); // [C,O,kh',kw']
  const [kh, kw] = s.kernel;
  const hasExtra = s.H + s.pads[0] + s.pads[2] - s.stride[0] * (s.Ho - 1) !== kh || s.W + s.pads[1] + s.pads[3] - s.stride[1] * (s.Wo - 1) !== kw;
  const cut = hasExtra ? g.op('Slice', [r, g.constInt64([0, 0]), g.constInt64([kh, kw]), g.constInt64([2, 3])]) : r;
  return g.op('Transpose', [cut], { perm: [1, 0, 2, 3] });
}

// ---------------------------------------------------------------------------------------------
// im2col: the explicit matrix form the crossbar model builds on (ENGINE.md rule 2). Conv patches
// are unfolded channel-major into cols[B, K, L] (L = Ho·Wo) by a one-hot Conv, multiplied as
// W[O, K] × cols, and the transposed product is folded back into an image with Col2Im.

/** cols[B, K, L]: each output channel k of a one-hot Conv copies patch element k. */
export function unfoldPatches(g: GraphBuilder, s: ConvMvmSpec, x: string): string {
  const K = s.C * s.kernel[0] * s.kernel[1];
  // EyeLike builds the one-hot kernel in-graph: no K² initializer in the model.
  const eye = g.op('EyeLike', [g.zeros([K, K])]);
  const oneHot = g.op('Reshape', [eye, g.constInt64([K, s.C, s.kernel[0], s.kernel[1]])]);
  const patches = g.op('Conv', [x, oneHot], convAttrs(s)); // [B, K, Ho, Wo]
  return g.op('Reshape', [patches, g.constInt64([0, K, s.Ho * s.Wo])]);
}

function weightMatrix(g: GraphBuilder, s: ConvMvmSpec, w: string): string {
  return g.op('Reshape', [w, g.constInt64([s.O, s.C * s.kernel[0] * s.kernel[1]])]);
}

export const im2colMvm: MvmEmitter = {
  name: 'im2col',
  forward(g, spec, x, w) {
    if (spec.kind === 'dense') return denseForward(g, x, w);
    const cols = unfoldPatches(g, spec, x);
    const y = g.op('MatMul', [weightMatrix(g, spec, w), cols]); // [B, O, L]
    return { y: g.op('Reshape', [y, g.constInt64([0, spec.O, spec.Ho, spec.Wo])]), saved: { cols } };
  },
  backwardInput(g, spec, dy, w) {
    if (spec.kind === 'dense') return denseBackwardInput(g, dy, w);
    const wT = g.op('Transpose', [weightMatrix(g, spec, w)], { perm: [1, 0] }); // [K, O]
    const dyM = g.op('Reshape', [dy, g.constInt64([0, spec.O, spec.Ho * spec.Wo])]);
    const dcols = g.op('MatMul', [wT, dyM]); // [B, K, L]
    return g.op('Col2Im', [dcols, g.constInt64([spec.H, spec.W]), g.constInt64([...spec.kernel])], {
      strides: [...spec.stride],
      pads: [...spec.pads],
    });
  },
  backwardWeight(g, spec, dy, x, fwd) {
    if (spec.kind === 'dense') return denseBackwardWeight(g, dy, x);
    const cols = fwd.saved['cols'] ?? unfoldPatches(g, spec, x);
    // Transpose the small dy (O rows) rather than the K-row patch matrix.
    const dyT = g.op('Transpose', [g.op('Reshape', [dy, g.constInt64([0, spec.O, spec.Ho * spec.Wo])])], { perm: [0, 2, 1] });
    const perSample = g.op('MatMul', [cols, dyT]); // [B, K, O]
    const dwKO = g.op('ReduceSum', [perSample, g.constInt64([0])], { keepdims: 0 });
    const dwOK = g.op('Transpose', [dwKO], { perm: [1, 0] });
    return g.op('Reshape', [dwOK, g.constInt64([spec.O, spec.C, spec.kernel[0], spec.kernel[1]])]);
  },
};

export const idealSelector: MvmSelector = () => idealMvm;
