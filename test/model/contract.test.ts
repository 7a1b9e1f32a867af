/**
 * The plan contract (src/model/): every crossbar the stdlib and the example specs declare lowers to
 * a record that the strict plan schema accepts; the schema's update models are the parameter
 * table's; and the stages import in one direction only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { check } from '../../src/compiler/check.js';
import { compile } from '../../src/compiler/compile.js';
import { lowerCrossbar } from '../../src/compiler/lower-crossbar.js';
import { familyConstructors } from '../../src/compiler/schema.js';
import { packageRoot } from '../../src/model/tool.js';

const planSchema = JSON.parse(readFileSync(join(packageRoot, 'schemas', 'plan.schema.json'), 'utf8')) as { $defs: Record<string, unknown> };

function crossbarValidator() {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  ajv.addSchema(planSchema, 'plan');
  return ajv.getSchema('plan#/$defs/crossbar')!;
}

const specFiles = (dir: string) =>
  readdirSync(join(packageRoot, dir))
    .filter((f) => f.endsWith('.xbar'))
    .map((f) => join(packageRoot, dir, f));

test('every crossbar of the stdlib and of experiments/ lowers to a record the strict plan schema accepts', () => {
  const validate = crossbarValidator();
  let count = 0;
  for (const file of [...specFiles('stdlib'), ...specFiles('experiments')]) {
    const r = check(file);
    assert.equal(r.hasErrors, false, `${file} checks clean`);
    for (const [key, xb] of r.model!.crossbars) {
      const spec = lowerCrossbar(xb.name, xb);
      assert.ok(validate(spec), `${key}: ${JSON.stringify(validate.errors)}`);
      count++;
    }
  }
  assert.ok(count >= 5, `found ${count} crossbars`);
  // The same records sit in every compiled experiment's plan, which compile() validates whole.
  for (const file of specFiles('experiments')) {
    const compiled = compile(file);
    for (const exp of compiled.plan?.experiments ?? [])
      for (const xb of Object.values(exp.crossbars)) assert.ok(validate(xb), `${file} ${exp.name} ${xb.name}`);
  }
});

test('the strict schema rejects a crossbar with a field missing, a field too many, or a loose update model', () => {
  const validate = crossbarValidator();
  const r = check(join(packageRoot, 'experiments', 'txsim-lenet5.xbar'));
  const [xb] = [...r.model!.crossbars.values()];
  const spec = lowerCrossbar(xb!.name, xb!) as unknown as Record<string, unknown>;
  assert.ok(validate(spec));
  const { cellBits: _cellBits, ...missing } = spec;
  assert.equal(validate(missing), false, 'cellBits is required');
  assert.equal(validate({ ...spec, settings: {} }), false, 'no free-form fields');
  const device = spec['device'] as Record<string, unknown>;
  assert.equal(validate({ ...spec, device: { ...device, update: { kind: 'txsim', v: 0.01 } } }), false, 'txsim needs gamma');
  assert.equal(
    validate({ ...spec, device: { ...device, update: { kind: 'txsim', v: 0.01, gamma: 0, noise: 'gradient', nonlinearity: 'step', pulses: 1, extra: 1 } } }),
    false,
    'no extra update arguments',
  );
});

test("the schema's update models are the parameter table's constructors, argument for argument", () => {
  const variants = (planSchema.$defs['updateModel'] as { oneOf: { properties: Record<string, unknown>; required: string[] }[] }).oneOf;
  const byKind = new Map(variants.map((v) => [(v.properties['kind'] as { const: string }).const, v]));
  for (const ctor of familyConstructors('update')) {
    const v = byKind.get(ctor.name);
    assert.ok(v, `schema has update model ${ctor.name}`);
    assert.deepEqual([...v.required].sort(), ['kind', ...ctor.params.map((p) => p.name)].sort(), ctor.name);
  }
});

test("the schema's I-V models are the parameter table's constructors, and a spec's curves lower to records it accepts", () => {
  const variants = (planSchema.$defs['ivModel'] as { oneOf: { properties: Record<string, unknown>; required: string[] }[] }).oneOf;
  const byKind = new Map(variants.map((v) => [(v.properties['kind'] as { const: string }).const, v]));
  for (const ctor of familyConstructors('iv')) {
    const v = byKind.get(ctor.name);
    assert.ok(v, `schema has I-V model ${ctor.name}`);
    assert.deepEqual([...v.required].sort(), ['kind', ...ctor.params.map((p) => p.name)].sort(), ctor.name);
  }
  assert.equal(byKind.size, familyConstructors('iv').length);
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-iv-'));
  const file = join(dir, 'iv.xbar');
  writeFileSync(
    file,
    `device s { iv = sinh(v0 = 200 mV) }
device t { v_read = 0.2 V
  iv = table(v = [0.1 V, 0.2 V], i = [0.1 V, 0.23 V], fold_at = 50 %) }
device cu { iv = cubic }
crossbar a { device = s }
crossbar b { device = t }
crossbar c { device = cu }
`,
  );
  const r = check(file);
  assert.equal(r.hasErrors, false, JSON.stringify(r.diagnostics));
  const validate = crossbarValidator();
  const ivs = [...r.model!.crossbars.values()].map((xb) => {
    const spec = lowerCrossbar(xb.name, xb);
    assert.ok(validate(spec), JSON.stringify(validate.errors));
    return spec.device.iv;
  });
  assert.deepEqual(ivs, [
    { kind: 'sinh', v0: 0.2, fold_at: 1 },
    { kind: 'table', v: [0.1, 0.2], i: [0.1, 0.23], fold_at: 0.5 },
    { kind: 'cubic', k: -0.25, fold_at: 1 },
  ]);
  const spec = lowerCrossbar('a', [...r.model!.crossbars.values()][0]!) as unknown as { device: Record<string, unknown> };
  assert.equal(validate({ ...spec, device: { ...spec.device, iv: { kind: 'sinh', v0: 0.2 } } }), false, 'sinh needs fold_at');
  assert.equal(validate({ ...spec, device: { ...spec.device, iv: { kind: 'table', v: [], i: [], fold_at: 1 } } }), false, 'a table has points');
});

test('the checker locates an I-V table out of order and a cubic read past its increasing range', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-iv-bad-'));
  const file = join(dir, 'bad.xbar');
  writeFileSync(
    file,
    `device t {
  iv = table(v = [0.1 V, 0.05 V], i = [0.1 V, 0.09 V])
}
device c {
  v_read = 2 V
  iv = cubic(k = -0.25)
}
device ok {
  v_read = 1 V
  iv = cubic(k = -0.25)
}
`,
  );
  const r = check(file);
  const errors = r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.span.line}: ${d.message}`);
  assert.deepEqual(errors, [
    '2: table v[1] = 50 mV is out of range: must be > v[0] (strictly increasing)',
    '2: table i[1] = 90 mV is out of range: must be ≥ i[0] (non-decreasing)',
    '6: v_read = 2 V is out of range: must be < 1/sqrt(3·|k|) = 1.1547 V, where cubic(k = -0.25) stops increasing',
  ]);
});

/** Relative imports of every .ts file under src/, as [from, to] paths relative to src/. */
function imports(): [string, string][] {
  const srcDir = join(packageRoot, 'src');
  const out: [string, string][] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        const text = readFileSync(path, 'utf8');
        for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)) {
          out.push([
            relative(srcDir, path).split(sep).join('/'),
            relative(srcDir, resolve(dirname(path), m[1]!))
              .split(sep)
              .join('/'),
          ]);
        }
      }
    }
  };
  walk(srcDir);
  return out;
}

test('stages import in one direction: the compiler never imports the runtime, the runtime never the compiler, the model neither', () => {
  const all = imports();
  assert.ok(all.length > 100, 'imports were found');
  const bad = all.filter(
    ([from, to]) =>
      (from.startsWith('compiler/') && (to.startsWith('runtime/') || to.startsWith('cli/') || to.startsWith('lsp/'))) ||
      (from.startsWith('runtime/') && (to.startsWith('compiler/') || to.startsWith('cli/') || to.startsWith('lsp/'))) ||
      (from.startsWith('model/') && !to.startsWith('model/')) ||
      (from.startsWith('lsp/') && (to.startsWith('runtime/') || to.startsWith('cli/'))),
  );
  assert.deepEqual(bad, []);
});
