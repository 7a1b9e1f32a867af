/** The ONNX graph builder: serialization, dead-code removal, zero constants, and one graph per purpose. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { buildEvalGraph, buildGradsGraph, buildTrainGraph } from '../../src/runtime/engine/graphs.js';
import { DataType, GraphBuilder, IR_VERSION, OPSET } from '../../src/runtime/engine/onnx.js';
import { lenet5, sgd } from '../support/plan-builder.js';

test('a built graph runs in ORT, with opset 18 / IR 8 and unused nodes pruned', async () => {
  const g = new GraphBuilder('tiny');
  g.input('a', 'float', ['N', 3]);
  const doubled = g.op('Mul', ['a', g.scalar(2)]);
  g.op('Exp', ['a']); // dead: no output depends on it
  g.output('y', g.op('Add', [doubled, g.constFloat([1, 2, 3])]), 'float', ['N', 3]);
  const bytes = g.toBytes();
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  assert.equal(Number(model.irVersion), IR_VERSION);
  assert.equal(Number(model.opsetImport[0]!.version), OPSET);
  assert.deepEqual(
    (model.graph?.node ?? []).map((n) => n.opType),
    ['Mul', 'Add', 'Identity'],
  );
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ a: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]) });
  assert.deepEqual(Array.from(out['y']!.data as Float32Array), [3, 6, 9, 9, 12, 15]);
});

test('large zero tensors are ConstantOfShape nodes, not initializers', async () => {
  const g = new GraphBuilder('zeros');
  g.output('z', g.zeros([512, 512]), 'float', [512, 512]);
  const bytes = g.toBytes();
  assert.ok(bytes.length < 1000, `model is ${bytes.length} bytes`);
  const session = await ort.InferenceSession.create(bytes);
  const z = (await session.run({}))['z']!.data as Float32Array;
  assert.equal(z.length, 512 * 512);
  assert.ok(z.every((v) => v === 0));
});

test("the element types by name are onnx.proto's TensorProto.DataType", () => {
  assert.deepEqual(Object.entries(DataType), Object.entries(onnxProto.onnx.TensorProto.DataType));
});

test('float attributes must be wrapped, so an int attribute never silently truncates', () => {
  const g = new GraphBuilder('attrs');
  g.input('a', 'float', [1]);
  g.output('y', g.op('LeakyRelu', ['a'], { alpha: 0.1 }));
  assert.throws(() => g.toBytes(), /not an integer/);
});

test('one graph per purpose: eval has no backward, train has no gradient outputs', () => {
  const net = lenet5();
  const train = buildTrainGraph(net, sgd(0.1, 0.9));
  const evalGraph = buildEvalGraph(net);
  const grads = buildGradsGraph(net);
  const nodes = (bytes: Uint8Array) => onnxProto.onnx.ModelProto.decode(bytes).graph?.node ?? [];
  const ops = (bytes: Uint8Array, scope = ''): string[] =>
    nodes(bytes)
      .filter((n) => (n.name ?? '').startsWith(scope))
      .map((n) => n.opType ?? '');
  const evalOps = ops(evalGraph.bytes);
  for (const backwardOp of ['ScatterElements', 'Gemm']) assert.ok(!evalOps.includes(backwardOp), `eval graph contains ${backwardOp}`);
  assert.ok(!nodes(evalGraph.bytes).some((n) => n.name?.includes('/bwd/')), 'eval graph has backward nodes');
  assert.ok(evalGraph.nodes < grads.nodes && grads.nodes < train.nodes);
  // conv1 reads the network input: its input gradient is dead code and must be gone; conv2 has one.
  // (A Conv with a constant kernel is the weight gradient's patch unfold, not an input gradient.)
  const constants = new Set((onnxProto.onnx.ModelProto.decode(train.bytes).graph?.initializer ?? []).map((t) => t.name ?? ''));
  const inputGradOps = (scope: string): string[] =>
    nodes(train.bytes)
      .filter((n) => (n.name ?? '').startsWith(scope) && !(n.opType === 'Conv' && !n.domain && constants.has(n.input?.[1] ?? '')))
      .map((n) => n.opType ?? '')
      .filter((o) => o === 'ConvTranspose' || o === 'Conv' || o === 'Col2Im');
  assert.deepEqual(inputGradOps('conv1/bwd/'), []);
  assert.equal(inputGradOps('conv2/bwd/').length, 1);
  const outputs = (onnxProto.onnx.ModelProto.decode(train.bytes).graph?.output ?? []).map((o) => o.name ?? '');
  assert.ok(outputs.every((n) => n === 'loss' || n === 'correct' || n.startsWith('next:')));
  assert.equal(Object.keys(train.next).length, 2 * 10); // 10 parameter tensors + their velocities
});
