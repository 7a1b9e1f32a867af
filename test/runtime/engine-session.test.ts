import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/runtime/engine/onnx.js';
import { DEFAULT_SPIN, DEFAULT_THREADS, engineRecord, openSession, resolveEngine, sessionOptions } from '../../src/runtime/engine/session.js';

test('engine defaults are fixed numbers, not the machine: 2 threads, no spinning', () => {
  assert.equal(DEFAULT_THREADS, 2);
  assert.equal(DEFAULT_SPIN, false);
  assert.deepEqual(resolveEngine(), { threads: 2, spin: false });
  assert.deepEqual(resolveEngine({ threads: 1 }), { threads: 1, spin: false });
  assert.deepEqual(resolveEngine({ spin: true }), { threads: 2, spin: true });
  for (const bad of [0, -1, 1.5, Number.NaN, 1e6]) assert.throws(() => resolveEngine({ threads: bad }), /threads must be an integer/);
});

test('session options: the thread count and the spinning entry reach onnxruntime as its config keys', () => {
  const o = sessionOptions({ threads: 3, spin: false });
  assert.equal(o.intraOpNumThreads, 3);
  assert.equal(o.interOpNumThreads, 1);
  assert.deepEqual(o.extra, { session: { intra_op: { allow_spinning: '0' } } });
  assert.deepEqual(sessionOptions({ threads: 1, spin: true }).extra, { session: { intra_op: { allow_spinning: '1' } } });
});

test('openSession: onnxruntime accepts every combination, and the numbers do not depend on spinning', async () => {
  const g = new GraphBuilder('mm');
  g.input('a', 'float', [64, 300]);
  g.input('b', 'float', [300, 200]);
  g.output('c', g.op('MatMul', ['a', 'b']), 'float', [64, 200]);
  const bytes = g.toBytes();
  const a = Float32Array.from({ length: 64 * 300 }, (_, i) => Math.sin(i));
  const b = Float32Array.from({ length: 300 * 200 }, (_, i) => Math.cos(i * 0.7));
  const feeds = { a: new ort.Tensor('float32', a, [64, 300]), b: new ort.Tensor('float32', b, [300, 200]) };
  const outputs: Float32Array[] = [];
  for (const spin of [false, true]) {
    const s = await openSession(bytes, { threads: 2, spin });
    try {
      outputs.push((await s.run(feeds))['c']!.data as Float32Array);
    } finally {
      await s.release();
    }
  }
  assert.deepEqual(outputs[0], outputs[1]);
});

test('engineRecord: the settings and what else the bits depend on', () => {
  const r = engineRecord({ threads: 2, spin: false });
  assert.equal(r.threads, 2);
  assert.equal(r.spin, false);
  assert.match(r.onnxruntime, /^\d+\.\d+\.\d+/);
  assert.equal(r.arch, process.arch);
  assert.equal(r.platform, process.platform);
});
