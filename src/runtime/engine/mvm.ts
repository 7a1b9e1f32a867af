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

import { nchwcConv, nchwcFits } from './nchwc.js';
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

/** Forms forced instead of the measured choice (tests of every form, benchmarks). */
export interface ConvForms {
  forward?: ConvForwardForm;
  weight?: ConvWeightGradForm;
  input?: ConvInputGradForm;
}

/** Float32 MVMs with ORT's native kernels; conv in the forms `forced`, else the measured fastest per shape. */
export function idealMvmWith(forced: ConvForms = {}): MvmEmitter {
  return {
    name: 'ideal',
    forward(g, spec, x, w) {
      if (spec.kind === 'dense') return denseForward(g, x, w);
      return { y: CONV_FORWARDS[forced.forward ?? forwardForm(spec)](g, spec, x, w), saved: {} };
    },
    backwardInput(g, spec, dy, w) {
      if (spec.kind === 'dense') return denseBackwardInput(g, dy, w);
      return CONV_INPUT_GRADS[forced.input ?? inputGradForm(spec)](g, spec, dy, w);
    },
    backwardWeight(g, spec, dy, x) {
      if (spec.kind === 'dense') return denseBackwardWeight(g, dy, x);
      return CONV_WEIGHT_GRADS[forced.weight ?? weightGradForm(spec)](g, spec, dy, x);
    },
  };
}

export const idealMvm: MvmEmitter = idealMvmWith();

// ---------------------------------------------------------------------------------------------
// The alternative graph forms of the two conv gradients. All compute the same sums (in different
// orders: float32 results differ in the last bits); bench/forms.bench.ts times them per shape, and
// `weightGradForm` / `inputGradForm` pick the measured fastest.

export type ConvForwardForm = 'conv' | 'convTranspose' | 'nchwc';
export type ConvWeightGradForm = 'conv' | 'im2col' | 'unfold';
export type ConvInputGradForm = 'convTranspose' | 'conv' | 'col2im' | 'nchwc';

export const CONV_FORWARDS: Record<ConvForwardForm, (g: GraphBuilder, s: ConvMvmSpec, x: string, w: string) => string> = {
  conv: (g, s, x, w) => g.op('Conv', [x, w], convAttrs(s)),
  convTranspose: convForwardByConvTranspose,
  nchwc: convForwardByNchwc,
};

export const CONV_WEIGHT_GRADS: Record<ConvWeightGradForm, (g: GraphBuilder, s: ConvMvmSpec, dy: string, x: string) => string> = {
  conv: convWeightGradByConv,
  im2col: convWeightGradByIm2col,
  unfold: convWeightGradByUnfold,
};

export const CONV_INPUT_GRADS: Record<ConvInputGradForm, (g: GraphBuilder, s: ConvMvmSpec, dy: string, w: string) => string> = {
  convTranspose: convInputGradByConvTranspose,
  conv: convInputGradByConv,
  col2im: convInputGradByCol2Im,
  nchwc: convInputGradByNchwc,
};

/**
 * The weight gradient's form: Conv over swapped axes for strided kernels larger than 3×3, else
 * `unfold` (per-channel one-hot Conv, per-image GEMMs) up to `UNFOLD_MAX_ROWS` patch rows, else
 * im2col. Measured before `unfold` existed (bench/forms.bench.ts, 2-core AMD EPYC, onnxruntime 1.30):
 * the one-GEMM im2col form was 1.3–3× faster than the Conv over swapped axes on the unstrided
 * ResNet-20 and ResNet-18 layers, 3.5–7× on strided 1×1 shortcuts and 1.3–1.4× on ResNet-20's
 * strided 3×3 (that Conv has the image as its kernel: thin GEMMs per input channel). Strided
 * kernels larger than 3×3 keep the Conv form: onnxruntime's strided Slice is slow, and 49 of them
 * made ResNet-18's 7×7/2 stem 3–4× slower as im2col.
 */
export function weightGradForm(s: ConvMvmSpec): ConvWeightGradForm {
  const strided = s.stride[0] > 1 || s.stride[1] > 1;
  if (strided && s.kernel[0] * s.kernel[1] > 9) return 'conv';
  return s.C * s.kernel[0] * s.kernel[1] <= UNFOLD_MAX_ROWS ? 'unfold' : 'im2col';
}

/**
 * Largest patch length K = C·kh·kw of the `unfold` weight gradient (2026-12-06, bench/forms.bench.ts,
 * two interleaved runs): 0.45–0.89× the im2col form's time on every ResNet-20 layer (K ≤ 576),
 * 0.45–0.56× on ResNet-18's 64-channel 3×3 layer (K = 576, 56²), but 1.34–1.57× on its
 * 256-channel layer (K = 2,304, 14²), where one deep GEMM over the whole batch beats per-image
 * ones. On the 7×7/2 stem (K = 147) it was 0.74–1.14× the Conv form: not beyond the noise, so
 * strided kernels larger than 3×3 keep the Conv.
 */
const UNFOLD_MAX_ROWS = 576;

/**
 * The input gradient's form: at stride 1, the flipped-kernel Conv through the NCHWc kernels where
 * the channels fit the machine's block (2026-12-06, bench/forms.bench.ts: 0.64–0.87× ConvTranspose
 * on ResNet-20's layers, 0.55–0.76× the plain Conv on ResNet-18's). Else a plain Conv with the flipped, transposed kernel where the forward
 * stride is 1 and the per-image GEMM is large (MLAS's Conv was faster than its ConvTranspose on
 * ResNet-18's layers), ConvTranspose otherwise (faster on CIFAR ResNet layers; a strided forward
 * would need a dilated input for the Conv form). bench/forms.bench.ts.
 */
export function inputGradForm(s: ConvMvmSpec): ConvInputGradForm {
  if (s.stride[0] === 1 && s.stride[1] === 1 && fullPadsFit(s) && nchwcFits(s.O, s.C)) return 'nchwc';
  return s.stride[0] === 1 && s.stride[1] === 1 && perImageMacs(s) >= SMALL_GEMM_MACS && fullPadsFit(s) ? 'conv' : 'convTranspose';
}

/**
 * The forward's form: the NCHWc kernels (engine/nchwc.ts) where the channels fit the machine's
 * block, at stride 1 or with a kernel larger than 3×3 (2026-12-06, bench/forms.bench.ts: 0.50–0.73×
 * Conv's time on every stride-1 layer of ResNet-20 and ResNet-18 with the channel reorders
 * included, 0.82× on ResNet-18's 7×7/2 stem; 1.11–1.15× on ResNet-20's 3×3/2 and 1×1/2), else
 * Conv. The ConvTranspose form (flipped kernel, stride 1) ran faster in
 * isolation on CIFAR ResNet shapes (bench/forms.bench.ts: up to 3× on 16 channels at 32², batch
 * 128) but not in the whole graphs: ResNet-20 evaluation end to end was 1.2–1.7× slower with it
 * and the training step no faster beyond the noise (2026-12-04, bench/RESULTS.md), so it is
 * measured, not chosen.
 */
export function forwardForm(s: ConvMvmSpec): ConvForwardForm {
  const strided = s.stride[0] > 1 || s.stride[1] > 1;
  return nchwcFits(s.C, s.O) && (!strided || s.kernel[0] * s.kernel[1] > 9) ? 'nchwc' : 'conv';
}

/** Multiply-adds of one image's conv GEMM (either form). */
function perImageMacs(s: ConvMvmSpec): number {
  return s.C * s.O * s.kernel[0] * s.kernel[1] * s.Ho * s.Wo;
}

/** Below this per-image GEMM size ConvTranspose beat Conv in bench/forms.bench.ts (R20: 2.4 M; R18: 115 M). */
const SMALL_GEMM_MACS = 16e6;

/** The forward padding is at most kernel − 1 on every side (the flipped form's padding is ≥ 0). */
function fullPadsFit(s: ConvMvmSpec): boolean {
  return s.pads[0] < s.kernel[0] && s.pads[2] < s.kernel[0] && s.pads[1] < s.kernel[1] && s.pads[3] < s.kernel[1];
}

/** W'[c,o,i,j] = W[o,c,kh−1−i,kw−1−j]: the kernel of the adjoint correlation (stride 1). */
function flippedTransposedKernel(g: GraphBuilder, s: ConvMvmSpec, w: string): string {
  const [kh, kw] = s.kernel;
  const wT = g.op('Transpose', [w], { perm: [1, 0, 2, 3] });
  if (kh === 1 && kw === 1) return wT;
  return g.op('Slice', [wT, g.constInt64([-1, -1]), g.constInt64([-kh - 1, -kw - 1]), g.constInt64([2, 3]), g.constInt64([-1, -1])]);
}

/** Padding of the adjoint correlation: kernel − 1 − the forward padding, per side. */
function adjointPads(s: ConvMvmSpec): number[] {
  const [kh, kw] = s.kernel;
  const [pt, pl, pb, pr] = s.pads;
  return [kh - 1 - pt, kw - 1 - pl, kh - 1 - pb, kw - 1 - pr];
}

/**
 * Stride 1: Conv(x, W, pads p) = ConvTranspose(x, W', pads k − 1 − p) with the flipped,
 * transposed kernel W' (ConvTranspose correlates with the flipped kernel, whose [C, O] layout is
 * its [Cin, Cout]).
 */
function convForwardByConvTranspose(g: GraphBuilder, s: ConvMvmSpec, x: string, w: string): string {
  if (s.stride[0] !== 1 || s.stride[1] !== 1 || !fullPadsFit(s)) return g.op('Conv', [x, w], convAttrs(s));
  return g.op('ConvTranspose', [x, flippedTransposedKernel(g, s, w)], { kernel_shape: [...s.kernel], pads: adjointPads(s) });
}

/** The forward through onnxruntime's NCHWc kernels (engine/nchwc.ts); plain Conv where the channels do not fit the machine's block. */
function convForwardByNchwc(g: GraphBuilder, s: ConvMvmSpec, x: string, w: string): string {
  if (!nchwcFits(s.C, s.O)) return g.op('Conv', [x, w], convAttrs(s));
  return nchwcConv(g, x, w, s, convAttrs(s));
}

/** Stride 1: the flipped-kernel Conv of `convInputGradByConv` through the NCHWc kernels; else ConvTranspose. */
function convInputGradByNchwc(g: GraphBuilder, s: ConvMvmSpec, dy: string, w: string): string {
  if (s.stride[0] !== 1 || s.stride[1] !== 1 || !fullPadsFit(s) || !nchwcFits(s.O, s.C)) return convInputGradByConvTranspose(g, s, dy, w);
  return nchwcConv(g, dy, flippedTransposedKernel(g, s, w), { C: s.O, O: s.C, kernel: s.kernel }, { kernel_shape: [...s.kernel], pads: adjointPads(s) });
}

function convInputGradByConvTranspose(g: GraphBuilder, s: ConvMvmSpec, dy: string, w: string): string {
  // ConvTranspose's weight layout [Cin=O, Cout=C, kh, kw] is exactly the forward W.
  return g.op('ConvTranspose', [dy, w], { ...convAttrs(s), output_padding: convOutputPadding(s) });
}

/**
 * Stride 1 only: dx = Conv(dy, W'), W'[c,o,i,j] = W[o,c,kh−1−i,kw−1−j], padded by kernel − 1 −
 * the forward padding on each side (a "full" correlation with the flipped kernel).
 */
function convInputGradByConv(g: GraphBuilder, s: ConvMvmSpec, dy: string, w: string): string {
  if (s.stride[0] !== 1 || s.stride[1] !== 1 || !fullPadsFit(s)) return convInputGradByConvTranspose(g, s, dy, w);
  return g.op('Conv', [dy, flippedTransposedKernel(g, s, w)], { kernel_shape: [...s.kernel], pads: adjointPads(s) });
}

/** dcols[B, K, L] = Wᵀ · dy per sample, folded back into the image by Col2Im (sums overlaps). */
function convInputGradByCol2Im(g: GraphBuilder, s: ConvMvmSpec, dy: string, w: string): string {
  const wT = g.op('Transpose', [weightMatrix(g, s, w)], { perm: [1, 0] }); // [K, O]
  const dcols = g.op('MatMul', [wT, g.op('Reshape', [dy, g.constInt64([0, s.O, s.Ho * s.Wo])])]);
  return g.op('Col2Im', [dcols, g.constInt64([s.H, s.W]), g.constInt64([...s.kernel])], { strides: [...s.stride], pads: [...s.pads] });
}

/**
 * dW[O, K] = dy[O, B·L] · cols[K, B·L]ᵀ: one GEMM over the whole batch. The columns are built
 * from the input with the batch moved behind the channels ([C, B, H, W], one small Transpose),
 * padded once, then one strided Slice per kernel offset (i, j) gives the [C, B, Ho, Wo] plane of
 * x[c, b, y·s + i, x·s + j]; concatenated they are cols[(i, j, c), B·L]. The GEMM's [O, kh·kw·C]
 * result is permuted to W's [O, C, kh, kw] (a tensor of the weight's size).
 */
function convWeightGradByIm2col(g: GraphBuilder, s: ConvMvmSpec, dy: string, x: string): string {
  const [kh, kw] = s.kernel;
  const cols = offsetMajorColumns(g, s, x);
  const dyT = g.op('Reshape', [g.op('Transpose', [dy], { perm: [1, 0, 2, 3] }), g.constInt64([s.O, -1])]); // [O, B·L]
  const dW = g.op('Gemm', [dyT, cols], { transB: 1 }); // [O, kh·kw·C]
  if (kh * kw === 1) return g.op('Reshape', [dW, g.constInt64([s.O, s.C, 1, 1])]);
  return g.op('Transpose', [g.op('Reshape', [dW, g.constInt64([s.O, kh, kw, s.C])])], { perm: [0, 3, 1, 2] });
}

/**
 * dW[O, K] = Σ_b dy_b[O, L] · cols_b[K, L]ᵀ: per-image GEMMs over the patches of `unfoldPatches`
 * (one small Conv, no Slice/Concat/Pad copies), summed over the batch. The small dy is transposed
 * ([B, L, O]) so that the products come out as [B, K, O]; the sum's [K, O] is transposed to W's
 * [O, C, kh, kw] (the size of the weight).
 */
function convWeightGradByUnfold(g: GraphBuilder, s: ConvMvmSpec, dy: string, x: string): string {
  const cols = unfoldPatches(g, s, x); // [B, K, L]
  const dyT = g.op('Transpose', [g.op('Reshape', [dy, g.constInt64([0, s.O, s.Ho * s.Wo])])], { perm: [0, 2, 1] }); // [B, L, O]
  const dwKO = g.op('ReduceSum', [g.op('MatMul', [cols, dyT]), g.constInt64([0])], { keepdims: 0 });
  return g.op('Reshape', [g.op('Transpose', [dwKO], { perm: [1, 0] }), g.constInt64([s.O, s.C, ...s.kernel])]);
}

/**
 * The patches of every input channel, [B·C, kh·kw, Ho, Wo] (= cols[B, (c, i, j), L], W's own
 * K order): the images as B·C one-channel images through a Conv whose kh·kw output channels are
 * one-hot kernels (a constant of (kh·kw)² values), with the layer's stride and padding.
 */
function channelPatches(g: GraphBuilder, s: ConvMvmSpec, x: string): string {
  const [kh, kw] = s.kernel;
  const kk = kh * kw;
  const oneHot = new Float32Array(kk * kk);
  for (let m = 0; m < kk; m++) oneHot[m * kk + m] = 1;
  const images = g.op('Reshape', [x, g.constInt64([-1, 1, s.H, s.W])]);
  return g.op('Conv', [images, g.constFloat(oneHot, [kk, 1, kh, kw])], convAttrs(s));
}

/** cols[(i, j, c), B·L]: see `convWeightGradByIm2col`. */
function offsetMajorColumns(g: GraphBuilder, s: ConvMvmSpec, x: string): string {
  const [kh, kw] = s.kernel;
  const [sh, sw] = s.stride;
  const [pt, pl, pb, pr] = s.pads;
  const xT = g.op('Transpose', [x], { perm: [1, 0, 2, 3] }); // [C, B, H, W]
  const padded = pt + pl + pb + pr === 0 ? xT : g.op('Pad', [xT, g.constInt64([0, 0, pt, pl, 0, 0, pb, pr])]);
  const whole = kh * kw === 1 && sh === 1 && sw === 1;
  const plane = (i: number, j: number): string =>
    whole
      ? padded
      : g.op('Slice', [
          padded,
          g.constInt64([i, j]),
          g.constInt64([i + sh * (s.Ho - 1) + 1, j + sw * (s.Wo - 1) + 1]),
          g.constInt64([2, 3]),
          g.constInt64([sh, sw]),
        ]);
  const planes: string[] = [];
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) planes.push(plane(i, j));
  const stacked = planes.length === 1 ? planes[0]! : g.op('Concat', planes, { axis: 0 });
  return g.op('Reshape', [stacked, g.constInt64([s.C * kh * kw, -1])]);
}

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

/**
 * cols[B, K, L]: each channel's patches by `channelPatches` (one-hot kernels over one channel at a
 * time: (kh·kw)² multiply-adds per pixel and channel, not the K² of a one-hot kernel over all
 * channels; the copies are exact either way).
 */
export function unfoldPatches(g: GraphBuilder, s: ConvMvmSpec, x: string): string {
  const K = s.C * s.kernel[0] * s.kernel[1];
  return g.op('Reshape', [channelPatches(g, s, x), g.constInt64([-1, K, s.Ho * s.Wo])]);
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
