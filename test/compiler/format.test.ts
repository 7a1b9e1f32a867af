import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatXbar } from '../../src/compiler/format.js';
import { parseSource } from '../../src/compiler/parse.js';
import { Diagnostics } from '../../src/compiler/diagnostics.js';
import { packageRoot } from '../../src/compiler/resolve.js';
import { xbarLexer } from '../../grammar/tokens.js';

function fmt(text: string): string {
  const r = formatXbar(text);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.text;
}

/** Golden pairs: input → expected output. */
const goldens: { name: string; input: string; output: string }[] = [
  {
    name: 'one member per line, separators dropped, `=` aligned within the group',
    input: 'device rram=AgSi_TxSim{d2d_sigma=3%;update=txsim(v=0.01,gamma=5)}\n',
    output: 'device rram = AgSi_TxSim {\n  d2d_sigma = 3 %\n  update    = txsim(v = 0.01, gamma = 5)\n}\n',
  },
  {
    name: 'inline blocks stay inline with `, `; multi-line blocks get one member per line',
    input: 'crossbar c {\n  adc = {bits=8;range=calibrate( 99.9 % )}\n  wires = {\n    row = 1 Ohm, col = 4.6 Ohm\n  }\n  weight_bits = 8, cell_bits = 2\n}\n',
    output:
      'crossbar c {\n  adc         = { bits = 8, range = calibrate(99.9 %) }\n  wires       = {\n    row = 1 Ohm\n    col = 4.6 Ohm\n  }\n  weight_bits = 8\n  cell_bits   = 2\n}\n',
  },
  {
    name: 'comments kept, blank lines kept (at most one), groups aligned separately',
    input: '// header\n\n\n\ndevice d {   // trailing\n\n  levels = 4\n  r_on = 1 kOhm\n\n\n  /* block\n     comment */\n  on_off = 10  // kept gap\n\n}\n',
    output: '// header\n\ndevice d {   // trailing\n  levels = 4\n  r_on   = 1 kOhm\n\n  /* block\n     comment */\n  on_off = 10  // kept gap\n}\n',
  },
  {
    name: 'experiment: map and sweep line up with the fields; map patterns stay glued; unary signs',
    input:
      'experiment e {\n  model = LeNet5 ( classes = 10 )\n  map *->xb,fc3->digital , conv* -> digital\n  sweep xb.adc.bits in [4,6,8] * d.d2d_sigma in [0 %, 5 %]\n  seed = - 7\n}\n',
    output:
      'experiment e {\n  model = LeNet5(classes = 10)\n  map   * -> xb, fc3 -> digital, conv* -> digital\n  sweep xb.adc.bits in [4, 6, 8] * d.d2d_sigma in [0 %, 5 %]\n  seed  = -7\n}\n',
  },
  {
    name: 'networks: not aligned; inline blocks kept; continuation lines re-indented',
    input: 'network N(a = 1,b = 2) { conv1 = conv2d(a) ; relu\n  block b1 { y = dense(3) }\n  shortcut {}\n  fc = dense(a,\n        bias = false)\n}\n',
    output: 'network N(a = 1, b = 2) {\n  conv1 = conv2d(a)\n  relu\n  block b1 { y = dense(3) }\n  shortcut {}\n  fc = dense(a,\n    bias = false)\n}\n',
  },
  {
    name: 'imports and top-level semicolons; empty bodies',
    input: 'import {A,B as C} from "std/devices";   import * from "./x"\ndevice e {}\n',
    output: 'import { A, B as C } from "std/devices"\nimport * from "./x"\ndevice e {}\n',
  },
];

for (const g of goldens) {
  test(`format: ${g.name}`, () => {
    assert.equal(fmt(g.input), g.output);
    assert.equal(fmt(g.output), g.output, 'idempotent');
  });
}

test('empty and comment-only files', () => {
  assert.equal(fmt(''), '');
  assert.equal(fmt('\n\n  \n'), '');
  assert.equal(fmt('// only a comment   \n\n\n/* and a block */'), '// only a comment\n\n/* and a block */\n');
  assert.equal(fmt('device d {} // trailing\r\ndevice e {}\r\n'), 'device d {} // trailing\ndevice e {}\n', 'CRLF becomes LF');
});

test('syntax errors leave the text alone and say where', () => {
  const r = formatXbar('device d {\n  levels = \n}\n');
  assert.equal(r.ok, false);
  assert.ok(!r.ok && /syntax error: unexpected '}'/.test(r.reason) && r.line === 3, JSON.stringify(r));
  const lex = formatXbar('device d { levels = 4 $ }');
  assert.ok(!lex.ok && /unexpected character "\$"/.test(lex.reason));
});

test('a unit never leaves its number line; a newline inside an expression is kept', () => {
  const text = 'device d {\n  r_on = 100\n  kOhm = 3\n}\n';
  // `kOhm = 3` is a (bad) field, not the unit of 100: joining the lines would change the meaning.
  const r = formatXbar(text);
  assert.ok(r.ok);
  assert.equal(r.text, 'device d {\n  r_on = 100\n  kOhm = 3\n}\n');
});

function tokenImages(text: string): string[] {
  const lexed = xbarLexer.tokenize(text);
  return lexed.tokens.map((t) => t.image).filter((i) => i !== ',' && i !== ';');
}

function commentImages(text: string): string[] {
  return (xbarLexer.tokenize(text).groups['comments'] ?? []).map((t) => t.image);
}

/** The AST without spans: what the text means. */
function meaning(text: string): string {
  const parsed = parseSource('<f>', text, new Diagnostics());
  return JSON.stringify(parsed.ast, (key, value: unknown) => (key === 'span' || key === 'path' ? undefined : value));
}

const files = ['stdlib', 'experiments'].flatMap((d) =>
  readdirSync(join(packageRoot, d))
    .filter((f) => f.endsWith('.xbar'))
    .map((f) => join(packageRoot, d, f)),
);

test('property: every stdlib/experiment file formats idempotently, keeping tokens, comments and meaning', () => {
  assert.ok(files.length >= 5);
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const once = fmt(text);
    const twice = fmt(once);
    assert.equal(twice, once, `${file}: formatting twice gives the same text`);
    assert.deepEqual(tokenImages(once), tokenImages(text), `${file}: token stream (minus whitespace and separators) unchanged`);
    assert.deepEqual(commentImages(once), commentImages(text), `${file}: comments unchanged`);
    assert.equal(meaning(once), meaning(text), `${file}: same syntax tree`);
    assert.ok(!/\n\n\n/.test(once) && !/[ \t]+\n/.test(once) && once.endsWith('\n'), `${file}: at most one blank line, no trailing spaces`);
  }
});

test('property: the checked-in stdlib and experiments are already formatted', () => {
  for (const file of files) assert.equal(fmt(readFileSync(file, 'utf8')), readFileSync(file, 'utf8'), file);
});

test('property: re-spaced and re-indented files format back to the checked-in text', () => {
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    // Indentation removed, extra spaces before punctuation and operators.
    // (Lines with comments are only re-indented: comment text is not whitespace to play with.)
    const mangled = text
      .split('\n')
      .map((line) => line.trimStart())
      .map((line) => (/\/\/|\/\*/.test(line) ? line : line.replace(/ (?=[=,{}()[\]])/g, '   ').replace(/(\S),(?=\S)/g, '$1 ,')))
      .join('\n');
    assert.equal(fmt(mangled), text, file);
  }
});

test('property: random whitespace, comment and separator insertions format idempotently or are refused', async () => {
  const { Rng } = await import('../../src/runtime/rng.js');
  const rng = new Rng(7, 'format/fuzz');
  const pieces = [' ', '\n', '\n\n', ',', ';', '// c\n', '/* b */', '  ', '\t'];
  const texts = files.map((f) => readFileSync(f, 'utf8'));
  let formatted = 0;
  for (let i = 0; i < 800; i++) {
    let t = texts[rng.int(texts.length)]!;
    for (let k = 0; k < 3; k++) {
      const at = rng.int(t.length);
      t = t.slice(0, at) + pieces[rng.int(pieces.length)]! + t.slice(at);
    }
    const r = formatXbar(t);
    if (!r.ok) {
      assert.match(r.reason, /^syntax error|^unexpected character/, 'only syntax errors are refused');
      continue;
    }
    formatted++;
    assert.equal(fmt(r.text), r.text, `case ${i} is idempotent`);
  }
  assert.ok(formatted > 100, `${formatted} cases formatted`);
});

test('a separator before a member that opens with ( is kept: dropping it would join the two members into a call', () => {
  const r = formatXbar('network A() {\n  p = maxpool, (2)\n  relu\n}\n');
  assert.ok(r.ok, r.ok ? '' : r.reason);
  assert.equal(r.text, 'network A() {\n  p = maxpool,\n  (2)\n  relu\n}\n');
  assert.equal(fmt(r.text), r.text);
});

test('a dropped separator at the start of a line leaves the comment after it on its own line (idempotent)', () => {
  const text = 'device d {\n  levels = 4\n}\n\n// c\n;// d\ndevice e {\n  levels = 4\n}\n';
  const once = fmt(text);
  assert.equal(once, 'device d {\n  levels = 4\n}\n\n// c\n// d\ndevice e {\n  levels = 4\n}\n');
  assert.equal(fmt(once), once);
  assert.equal(fmt('device d {\n  levels = 4\n} ;// c\n'), 'device d {\n  levels = 4\n} // c\n', 'on the same line it stays a trailing comment');
});
