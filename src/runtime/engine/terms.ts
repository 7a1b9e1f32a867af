/**
 * Extra loss terms of a graph spec (regularizers, pruning penalties) over named views of
 * parameters. A view is the weight as a matrix W[K × N] (conv weights [O, C, kh, kw] become
 * K = C·kh·kw rows × N = O columns, the crossbar's orientation) or the crossbar tile view
 * [rowTiles, rows, colTiles, cols]: the matrix zero-padded to whole tiles and cut as the layer's
 * mapping cuts it (`mapping.tiles`). A term supplies its scalar value and its gradient with
 * respect to each view; the builder maps those gradients back onto the parameters.
 */

import type { PlanNetwork } from '../../model/plan.js';
import { XbarcRuntimeError } from '../../model/errors.js';
import type { GraphBuilder } from './onnx.js';

export interface ParamView {
  /** Parameter name, `<layer>/weight`. */
  param: string;
  view: 'matrix' | 'tiles';
}

export interface LossTerm {
  name: string;
  /** Multiplies the term's value (and gradient) in the total loss. */
  weight: number;
  views: ParamView[];
  /** The term's value (a scalar) and its gradient with respect to each view tensor, in order. */
  emit(g: GraphBuilder, views: string[]): { value: string; grads: string[] };
}

export interface EmittedView {
  param: string;
  tensor: string;
  /** A gradient with respect to the view, as a gradient with respect to the parameter. */
  toParam(grad: string): string;
}

export function emitTerm(g: GraphBuilder, term: LossTerm, views: string[]): { value: string; grads: string[] } {
  const r = term.emit(g, views);
  if (r.grads.length !== views.length)
    throw new XbarcRuntimeError('engine/bad-term', `loss term "${term.name}" returned ${r.grads.length} gradients for ${views.length} views`);
  return r;
}

/** The view tensor of a parameter and the map of its gradient back onto the parameter. */
export function viewOf(g: GraphBuilder, net: PlanNetwork, v: ParamView): EmittedView {
  const [layerName, role] = v.param.split('/');
  const layer = net.layers.find((l) => l.name === layerName);
  if (!layer || role !== 'weight' || !layer.mapping)
    throw new XbarcRuntimeError('engine/bad-view', `"${v.param}" is not the weight of a dense or conv2d layer`);
  const { rows: K, cols: N } = layer.mapping.matrix;
  let matrix = v.param;
  let matrixToParam = (d: string): string => d;
  if (layer.op.kind === 'conv2d') {
    const dims = [N, layer.inputShape[0]!, ...layer.op.kernel];
    matrix = g.op('Transpose', [g.op('Reshape', [v.param, g.constInt64([N, K])])], { perm: [1, 0] });
    matrixToParam = (d) => g.op('Reshape', [g.op('Transpose', [d], { perm: [1, 0] }), g.constInt64(dims)]);
  }
  if (v.view === 'matrix') return { param: v.param, tensor: matrix, toParam: matrixToParam };
  const t = layer.mapping.tiles;
  if (!t) throw new XbarcRuntimeError('engine/bad-view', `layer "${layer.name}" is not mapped to crossbar tiles: it has no tile view`);
  const Kp = t.rowTiles * t.tileRows;
  const Np = t.colTiles * t.tileCols;
  const padded = g.op('Pad', [matrix, g.constInt64([0, 0, Kp - K, Np - N])]);
  const tiles = g.op('Reshape', [padded, g.constInt64([t.rowTiles, t.tileRows, t.colTiles, t.tileCols])]);
  const toParam = (d: string): string => {
    const full = g.op('Reshape', [d, g.constInt64([Kp, Np])]);
    return matrixToParam(g.op('Slice', [full, g.constInt64([0, 0]), g.constInt64([K, N])]));
  };
  return { param: v.param, tensor: tiles, toParam };
}

/** λ·Σ w² over a view (weight decay as a loss term); gradient 2w. */
export function l2Term(name: string, weight: number, view: ParamView): LossTerm {
  return {
    name,
    weight,
    views: [view],
    emit(g, [w]) {
      return { value: g.op('ReduceSum', [g.op('Mul', [w!, w!])], { keepdims: 0 }), grads: [g.op('Mul', [w!, g.scalar(2)])] };
    },
  };
}

/**
 * Group lasso over crossbar tiles: Σ_tiles sqrt(Σ_tile w² + ε). Drives whole tiles to zero (tile
 * pruning); gradient w / sqrt(Σ_tile w² + ε). ε keeps the gradient of an all-zero tile finite.
 */
export function tileGroupLassoTerm(name: string, weight: number, param: string, epsilon = 1e-12): LossTerm {
  return {
    name,
    weight,
    views: [{ param, view: 'tiles' }],
    emit(g, [w]) {
      const norms = g.op('Sqrt', [g.op('Add', [g.op('ReduceSum', [g.op('Mul', [w!, w!]), g.constInt64([1, 3])], { keepdims: 1 }), g.scalar(epsilon)])]);
      return { value: g.op('ReduceSum', [norms], { keepdims: 0 }), grads: [g.op('Div', [w!, norms])] };
    },
  };
}
