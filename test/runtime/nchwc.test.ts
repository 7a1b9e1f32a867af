/**
 * onnxruntime's NCHWc kernels used directly (engine/nchwc.ts): the probed block, and the blocked
 * Conv with in-graph reordered weights against plain Conv (itself checked against the float64
 * reference in engine-gradients.test.ts) on the layouts it takes: blocked input, an NCHW input
 * of fewer channels than a block, strides and padding.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { NCHWC_BLOCK, nchwcConv, nchwcFits } from '../../src/runtime/engine/nchwc.js';
import { GraphBuilder } from '../../src/runtime/engine/onnx.js';
import { openSession } from '../../src/runtime/engine/session.js';
import { Rng } from '../../src/runtime/rng.js';

test('the probed block is a power of two the kernels use (1: no NCHWc kernels); x86-64 builds have them', () => {
  assert.ok([1, 4, 8, 16].includes(NCHWC_BLOCK), `block ${NCHWC_BLOCK}`);
  if (process.arch === 'x64') assert.ok(NCHWC_BLOCK >= 8, `MLAS on x86-64 blocks by 8 (AVX2) or 16 (AVX-512), probed ${NCHWC_BLOCK}`);
  assert.equal(nchwcFits(16, 16, 1), false, 'no kernels, no blocked form');
  assert.equal(nchwcFits(16, 24, 16), false, 'output channels must fill whole blocks');
  assert.equal(nchwcFits(3, 16, 16), true, 'an NCHW input of fewer channels than a block');
});

const cases: Array<{ C: number; O: number; k: number; stride: number; pad: [number, number, number, number] }> = [
  { C: 16, O: 32, k: 3, stride: 1, pad: [1, 1, 1, 1] },
  { C: 32, O: 16, k: 3, stride: 2, pad: [1, 0, 1, 0] },
  { C: 3, O: 16, k: 3, stride: 1, pad: [1, 1, 1, 1] },
  { C: 16, O: 16, k: 1, stride: 2, pad: [0, 0, 0, 0] },
];

for (const c of cases) {
  test(`blocked Conv ${c.C} → ${c.O}, ${c.k}×${c.k}/${c.stride}, pads ${c.pad.join(',')} equals Conv within float32 rounding`, async (t) => {
    if (!nchwcFits(c.C, c.O)) return t.skip(`block ${NCHWC_BLOCK}: this machine has no kernel for it`);
    const B = 3;
    const H = 9;
    const attrs = { kernel_shape: [c.k, c.k], strides: [c.stride, c.stride], pads: c.pad };
    const Ho = Math.floor((H + c.pad[0] + c.pad[2] - c.k) / c.stride) + 1;
    const Wo = Math.floor((H + c.pad[1] + c.pad[3] - c.k) / c.stride) + 1;
    const build = (blocked: boolean): Uint8Array => {
      const g = new GraphBuilder('c');
      g.input('x', 'float', [B, c.C, H, H]);
      g.input('w', 'float', [c.O, c.C, c.k, c.k]);
      const y = blocked ? nchwcConv(g, 'x', 'w', { C: c.C, O: c.O, kernel: [c.k, c.k] }, attrs) : g.op('Conv', ['x', 'w'], attrs);
      g.output('y', y, 'float', [B, c.O, Ho, Wo]);
      return g.toBytes();
    };
    const rng = new Rng(2, 'test/nchwc');
    const feeds = {
      x: new ort.Tensor('float32', rng.fillNormal(new Float32Array(B * c.C * H * H)), [B, c.C, H, H]),
      w: new ort.Tensor('float32', rng.fillNormal(new Float32Array(c.O * c.C * c.k * c.k)), [c.O, c.C, c.k, c.k]),
    };
    const out: Float32Array[] = [];
    for (const blocked of [false, true]) {
      const s = await openSession(build(blocked), { threads: 1 });
      try {
        out.push((await s.run(feeds))['y']!.data as Float32Array);
      } finally {
        await s.release();
      }
    }
    const [ref, got] = out as [Float32Array, Float32Array];
    assert.equal(got.length, ref.length);
    const scale = Math.max(...ref.map(Math.abs));
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i]! - ref[i]!));
    assert.ok(worst <= 1e-5 * scale, `max difference ${worst} (values up to ${scale})`);
  });
}
