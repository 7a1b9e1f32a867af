import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { check } from '../../src/compiler/check.js';
import { formatDiagnostic } from '../../src/compiler/diagnostics.js';
import { packageRoot } from '../../src/compiler/resolve.js';

const dirs = ['stdlib', 'experiments'];

for (const dir of dirs) {
  for (const name of readdirSync(join(packageRoot, dir)).filter((f) => f.endsWith('.xbar'))) {
    test(`${dir}/${name} checks clean`, () => {
      const result = check(join(packageRoot, dir, name));
      assert.deepEqual(
        result.diagnostics.map((d) => formatDiagnostic(d)),
        [],
      );
    });
  }
}

test('the stdlib networks expand to the expected shapes', () => {
  const result = check(join(packageRoot, 'stdlib', 'networks.xbar'));
  const resnet = result.model?.networks.get('ResNet20');
  assert.ok(resnet?.complete);
  const weighted = resnet.layers.filter((l) => l.weighted);
  // 1 stem conv + 9 blocks x 2 convs + 2 projection convs + 1 dense = 22 weighted layers.
  assert.equal(weighted.length, 22);
  assert.deepEqual(resnet.layers[resnet.layers.length - 1]!.outputShape, [10]);
  const params = resnet.layers.reduce((s, l) => s + l.params, 0);
  // ResNet-20 has about 0.27 M parameters.
  assert.ok(params > 265_000 && params < 275_000, `ResNet-20 parameter count ${params}`);
  const r18 = result.model?.networks.get('ResNet18');
  assert.ok(r18?.complete);
  assert.deepEqual(r18.declaredInput?.shape, [3, 224, 224]);
  // torchvision's resnet18() has 11,689,512 parameters (batchnorm γ and β included); the same layers here.
  assert.equal(
    r18.layers.reduce((s, l) => s + l.params, 0),
    11_689_512,
  );
  assert.deepEqual(r18.layers.find((l) => l.name === 'pool1')?.outputShape, [64, 56, 56]);
  const mlp = result.model?.networks.get('MLP400');
  assert.deepEqual(
    mlp?.layers.map((l) => l.outputShape),
    [[400], [100], [100], [10]],
  );
  const sigmoidMlp = result.model?.networks.get('MLP400Sigmoid');
  assert.deepEqual(
    sigmoidMlp?.layers.map((l) => [l.op.kind, l.outputShape]),
    [
      ['flatten', [400]],
      ['dense', [100]],
      ['sigmoid', [100]],
      ['dense', [10]],
    ],
  );
});
