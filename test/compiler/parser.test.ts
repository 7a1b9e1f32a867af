/**
 * Parser tables: source snippets and the AST (printed as compact S-expressions) or the syntax
 * diagnostics they must produce. Covers the gates that resolve the grammar's ambiguities.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Expr, Member, NetMember } from '../../src/compiler/ast.js';
import { Diagnostics } from '../../src/compiler/diagnostics.js';
import { parseSource } from '../../src/compiler/parse.js';

function sx(e: Expr): string {
  switch (e.kind) {
    case 'number':
      return e.unit ? `${e.raw}${e.unit.text === '%' ? '%' : `[${e.unit.text}]`}` : e.raw;
    case 'string':
      return JSON.stringify(e.value);
    case 'bool':
      return String(e.value);
    case 'list':
      return `[${e.items.map(sx).join(' ')}]`;
    case 'object':
      return `{${e.members.map(member).join(' ')}}`;
    case 'ref':
      return e.path.map((p) => p.text).join('.');
    case 'call':
      return `(${e.callee.map((p) => p.text).join('.')}${e.args.map((a) => ` ${a.name ? `${a.name.text}=` : ''}${sx(a.value)}`).join('')})`;
    case 'binary':
      return `(${e.op} ${sx(e.left)} ${sx(e.right)})`;
    case 'unary':
      return `(${e.op} ${sx(e.operand)})`;
    case 'shape':
      return `(x ${e.dims.map(sx).join(' ')})`;
    case 'range':
      return `(.. ${sx(e.from)} ${sx(e.to)}${e.by ? ` by ${sx(e.by)}` : ''})`;
    case 'paren':
      return sx(e.inner);
    case 'const':
      return e.display;
    case 'error':
      return '?';
  }
}

function member(m: Member): string {
  if (m.kind === 'field') return `${m.name.text}=${sx(m.value)}`;
  if (m.kind === 'map') return `map(${m.entries.map((e) => `${e.pattern.text}->${e.target.text}`).join(', ')})`;
  return `sweep(${m.factors.map((f) => (f.zip ? 'zip:' : '') + f.axes.map((a) => `${a.path.map((p) => p.text).join('.')} in ${sx(a.values)}`).join(', ')).join(' * ')})`;
}

function netMember(m: NetMember): string {
  if (m.kind === 'layer') return `${m.name ? `${m.name.text}=` : ''}${sx(m.expr)}`;
  if (m.kind === 'block') return `block ${m.name.text}{${m.body.map(netMember).join(' ')}}`;
  return `shortcut{${m.body.map(netMember).join(' ')}}`;
}

function parse(text: string): { decls: string[]; imports: string[]; errors: string[] } {
  const diags = new Diagnostics();
  const { ast } = parseSource('t.xbar', text, diags);
  return {
    imports: ast.imports.map(
      (i) => `${i.names === null ? '*' : i.names.map((n) => n.name.text + (n.alias ? ` as ${n.alias.text}` : '')).join(',')} from ${i.source.text}`,
    ),
    decls: ast.declarations.map((d) =>
      d.kind === 'network'
        ? `network ${d.name.text}(${d.params.map((p) => p.name.text + (p.default ? `=${sx(p.default)}` : '')).join(',')}){${d.body.map(netMember).join(' ')}}`
        : `${d.kind} ${d.name.text}${d.preset ? `=${d.preset.map((p) => p.text).join('.')}` : ''}{${d.body.map(member).join(' ')}}`,
    ),
    errors: diags.items.map((d) => `${d.span.line}:${d.span.col} ${d.code}: ${d.message}`),
  };
}

const accepted: [string, string, string[]][] = [
  ['units follow numbers', 'device d { r_on = 100 kOhm  d2d_sigma = 3 % }', ['device d{r_on=100[kOhm] d2d_sigma=3%}']],
  ['a name on the next line is a field, not a unit', 'device d {\n  levels = 64\n  r_on = 1 kOhm\n}', ['device d{levels=64 r_on=1[kOhm]}']],
  ['a name before = on the same line is a field', 'device d { levels = 64 r_on = 2 MOhm }', ['device d{levels=64 r_on=2[MOhm]}']],
  [
    'precedence: * binds tighter than +, parentheses group',
    'device d { v = 1 + 2 * 3  w = (1 + 2) * 3  u = -0.63 }',
    ['device d{v=(+ 1 (* 2 3)) w=(* (+ 1 2) 3) u=-0.63}'],
  ],
  ['derived values reference fields', 'device d { r_off = r_on * on_off }', ['device d{r_off=(* r_on on_off)}']],
  [
    'shapes, ranges, lists, objects',
    'crossbar c { size = 64 x 64  r = 1 .. 9 by 2  l = [a, 1 V, "s"]  adc = { bits = 8, range = calibrate(99.9 %) } }',
    ['crossbar c{size=(x 64 64) r=(.. 1 9 by 2) l=[a 1[V] "s"] adc={bits=8 range=(calibrate 99.9%)}}'],
  ],
  ['block form of a field', 'experiment e { train { epochs = 5; batch = 64 } }', ['experiment e{train={epochs=5 batch=64}}']],
  ['presets with overrides; keywords as field names', 'crossbar c = std_xb { device = rram }', ['crossbar c=std_xb{device=rram}']],
  [
    'calls with positional and named arguments',
    'device d { update = nonlinear(0.04, ltd = -0.63, c2c = 3.7 %) }',
    ['device d{update=(nonlinear 0.04 ltd=-0.63 c2c=3.7%)}'],
  ],
  [
    'map rules with wildcards, globs, dotted and quoted patterns',
    'experiment e { map * -> xb, conv* -> xb, b1.* -> digital, "fc?" -> xb\n seed = 1 }',
    ['experiment e{map(*->xb, conv*->xb, b1.*->digital, fc?->xb) seed=1}'],
  ],
  ['glob patterns may hold digits after a wildcard', 'experiment e { map s*b1.* -> xb, *2 -> digital }', ['experiment e{map(s*b1.*->xb, *2->digital)}']],
  ['a comma after a map rule may start a field', 'experiment e { map * -> xb, seed = 3 }', ['experiment e{map(*->xb) seed=3}']],
  [
    'cartesian and zip sweeps',
    'experiment e { sweep xb.adc.bits in [4, 6] * zip(seed in 1 .. 3, rram.levels in [8, 16, 32]) }',
    ['experiment e{sweep(xb.adc.bits in [4 6] * zip:seed in (.. 1 3), rram.levels in [8 16 32])}'],
  ],
  [
    'networks: params, input, named and anonymous layers, blocks, shortcuts',
    'network N(classes = 10, w) {\n input = 1 x 28 x 28\n conv1 = conv2d(w, kernel = 3)\n relu\n block b { shortcut { c = conv2d(w, 1) } add }\n flatten\n fc = dense(classes)\n}',
    ['network N(classes=10,w){input=(x 1 28 28) conv1=(conv2d w kernel=3) relu block b{shortcut{c=(conv2d w 1)} add} flatten fc=(dense classes)}'],
  ],
  [
    'an input shape on the line before a layer does not swallow it as a unit',
    'network N {\n input = 1 x 28 x 28\n relu\n}',
    ['network N(){input=(x 1 28 28) relu}'],
  ],
];

for (const [name, text, decls] of accepted) {
  test(`parses: ${name}`, () => {
    const r = parse(text);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.decls, decls);
  });
}

test('parses imports: named, aliased, star', () => {
  const r = parse('import { A, B as C } from "std/devices"\nimport * from "./lib.xbar"');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.imports, ['A,B as C from std/devices', '* from ./lib.xbar']);
});

const rejected: [string, string, string[]][] = [
  ['a missing value', 'device d {\n  levels =\n}', ["3:1 syntax-error: unexpected '}'; expected a value"]],
  ['a missing declaration name', 'device { levels = 4 }', ['1:8 syntax-error']],
  ['a character that starts no token', 'device d { levels = 4 @ }', ['1:23 unexpected-character: unexpected character "@"']],
  ['an unterminated string', 'import { A } from "std/devices\n', ['1:19 unexpected-character']],
  ['junk at the top level', 'levels = 4', ["1:1 syntax-error: unexpected 'levels'; expected a declaration"]],
  ['an unclosed body at end of file', 'device d { levels = 4', ['1:22 syntax-error: unexpected end of file']],
];

for (const [name, text, expected] of rejected) {
  test(`reports: ${name}`, () => {
    const r = parse(text);
    assert.ok(r.errors.length >= 1, 'at least one diagnostic');
    for (const prefix of expected)
      assert.ok(
        r.errors.some((e) => e.startsWith(prefix)),
        `expected a diagnostic starting with ${JSON.stringify(prefix)}, got ${JSON.stringify(r.errors)}`,
      );
  });
}

test('error recovery keeps the declarations after a broken one', () => {
  const r = parse('device a { levels = }\ndevice b { levels = 4 }\ncrossbar c { size = 64 x 64 }');
  assert.ok(r.errors.length >= 1);
  assert.ok(r.decls.includes('device b{levels=4}'), JSON.stringify(r.decls));
  assert.ok(r.decls.includes('crossbar c{size=(x 64 64)}'), JSON.stringify(r.decls));
});
