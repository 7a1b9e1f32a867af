/** Small networks whose gradients (and input gradients) tests check against the float64 reference: one per op and topology. */
import type { LayerOp, PlanNetwork } from '../../src/model/plan.js';
import { add, avgpool, batchnorm, buildNetwork, conv, dense, flatten, globalAvgpool, maxpool, relu, sigmoid, tanh } from './plan-builder.js';

const asymmetricConv: LayerOp = { kind: 'conv2d', outChannels: 2, kernel: [3, 2], stride: [2, 1], padding: [1, 0, 2, 1], bias: true };

export const gradientNets: Record<string, PlanNetwork> = {
  dense: buildNetwork('dense', [6], 3, [
    { name: 'fc1', op: dense(5) },
    { name: 'relu1', op: relu() },
    { name: 'fc2', op: dense(3) },
  ]),
  convStride2Pad: buildNetwork('convStride2Pad', [2, 7, 7], 3, [
    { name: 'conv1', op: conv(3, 3, 2, 1) },
    { name: 'relu1', op: relu() },
    { name: 'conv2', op: asymmetricConv },
    { name: 'flatten', op: flatten() },
    { name: 'fc', op: dense(3) },
  ]),
  // Stride 1 with a non-square kernel and asymmetric padding: the flipped-kernel forms' adjoint padding.
  convStride1Asym: buildNetwork('convStride1Asym', [2, 6, 5], 3, [
    { name: 'conv1', op: conv(2, 1) },
    { name: 'relu1', op: relu() },
    // Not the first layer: its input gradient is computed (and checked) too.
    { name: 'conv2', op: { kind: 'conv2d', outChannels: 3, kernel: [3, 2], stride: [1, 1], padding: [1, 0, 2, 1], bias: true } },
    { name: 'flatten', op: flatten() },
    { name: 'fc', op: dense(3) },
  ]),
  pools: buildNetwork('pools', [2, 6, 6], 3, [
    { name: 'conv1', op: conv(2, 3, 1, 1) },
    { name: 'pool1', op: maxpool(3, 2, 1) }, // overlapping windows + padding
    { name: 'pool2', op: avgpool(2, 1, 1) }, // padding counted in the divisor
    { name: 'conv2', op: conv(2, 1) },
    { name: 'gap', op: globalAvgpool() },
    { name: 'flatten', op: flatten() },
    { name: 'fc', op: dense(3) },
  ]),
  batchnorm: buildNetwork('batchnorm', [2, 5, 5], 3, [
    { name: 'conv1', op: conv(3, 3, 1, 1, false) },
    { name: 'bn1', op: batchnorm(0.1) },
    { name: 'relu1', op: relu() },
    { name: 'gap', op: globalAvgpool() },
    { name: 'flatten', op: flatten() },
    { name: 'fc1', op: dense(4, false) }, // a bias before batchnorm has a zero gradient
    { name: 'bn2', op: batchnorm(0.1) },
    { name: 'fc2', op: dense(3) },
  ]),
  residual: buildNetwork('residual', [2, 5, 5], 3, [
    { name: 'conv1', op: conv(2, 3, 1, 1) },
    { name: 'relu1', op: relu() },
    { name: 'conv2', op: conv(2, 3, 1, 1) },
    { name: 'add1', op: add(), inputs: ['conv2', 'relu1'] }, // relu1 fans out to conv2 and add1
    { name: 'add2', op: add(), inputs: ['add1', 'input'] },
    { name: 'relu2', op: relu() },
    { name: 'flatten', op: flatten() },
    { name: 'fc', op: dense(3) },
  ]),
  // NeuroSim-style MLP: sigmoid hidden layer; a second sigmoid feeds the logits layer.
  sigmoid: buildNetwork('sigmoid', [6], 3, [
    { name: 'fc1', op: dense(5) },
    { name: 'sig1', op: sigmoid() },
    { name: 'fc2', op: dense(4) },
    { name: 'sig2', op: sigmoid() },
    { name: 'fc3', op: dense(3) },
  ]),
  // tanh on images (through avgpool and flatten) and on vectors.
  tanh: buildNetwork('tanh', [2, 6, 6], 3, [
    { name: 'conv1', op: conv(3, 3, 1, 1) },
    { name: 'tanh1', op: tanh() },
    { name: 'pool1', op: avgpool(2) },
    { name: 'flatten', op: flatten() },
    { name: 'fc1', op: dense(4) },
    { name: 'tanh2', op: tanh() },
    { name: 'fc2', op: dense(3) },
  ]),
  maxpoolTies: buildNetwork('maxpoolTies', [1, 8, 8], 3, [
    { name: 'conv1', op: conv(2, 3, 1, 1) },
    { name: 'relu1', op: relu() },
    { name: 'pool1', op: maxpool(2) },
    { name: 'flatten', op: flatten() },
    { name: 'fc', op: dense(3) },
  ]),
};
