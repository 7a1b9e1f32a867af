/**
 * The TextMate grammar (grammar/xbar.tmLanguage.json) against the real lexer and parser: every
 * keyword token, every unit after a number and every comment in the standard library and the
 * example experiments gets the right scope, and the grammar knows every keyword (tokens.ts), unit
 * (units.ts), constructor and enum option (schema.ts) — so adding one without updating the
 * grammar fails here.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { IToken as ChevToken } from 'chevrotain';
import { keywordTokens, keywordWord, xbarLexer, Cross, True, False, LineComment, BlockComment } from '../../grammar/tokens.js';
import { parseSource } from '../../src/compiler/parse.js';
import { Diagnostics } from '../../src/compiler/diagnostics.js';
import { packageRoot } from '../../src/compiler/resolve.js';
import { unitNames } from '../../src/compiler/units.js';
import { constructors, declSchemas, type ObjectSchema, type ParamType } from '../../src/compiler/schema.js';

const require = createRequire(import.meta.url);
const vsctm = require('vscode-textmate') as typeof import('vscode-textmate');
const oniguruma = require('vscode-oniguruma') as typeof import('vscode-oniguruma');

interface LineToken {
  start: number;
  end: number;
  scopes: string[];
}
type Tokenized = LineToken[][];

let grammar: import('vscode-textmate').IGrammar;

before(async () => {
  const wasm = readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns: string[]) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName: string) => {
      if (scopeName !== 'source.xbar') return null;
      const path = join(packageRoot, 'grammar', 'xbar.tmLanguage.json');
      return vsctm.parseRawGrammar(readFileSync(path, 'utf8'), path);
    },
  });
  const loaded = await registry.loadGrammar('source.xbar');
  assert.ok(loaded, 'the grammar source.xbar loads');
  grammar = loaded;
});

function tokenize(text: string): Tokenized {
  let state = vsctm.INITIAL;
  const out: Tokenized = [];
  for (const line of text.split(/\r?\n/)) {
    const r = grammar.tokenizeLine(line, state);
    out.push(r.tokens.map((t) => ({ start: t.startIndex, end: Math.min(t.endIndex, line.length), scopes: t.scopes })));
    state = r.ruleStack;
  }
  return out;
}

/** TextMate tokens covering 0-based columns [from, to) of 1-based line `line`. */
function covering(tm: Tokenized, line: number, from: number, to: number): LineToken[] {
  const tokens = tm[line - 1] ?? [];
  return tokens.filter((t) => t.end > from && t.start < to);
}

const hasScope = (t: LineToken, re: RegExp): boolean => t.scopes.some((s) => re.test(s));

function where(file: string, line: number, col: number, image: string, tokens: LineToken[]): string {
  return `${file}:${line}:${col} ${JSON.stringify(image)} got ${JSON.stringify(tokens.map((t) => t.scopes.slice(1)))}`;
}

/** Keywords must carry a keyword.* scope; true/false are keyword tokens scoped as boolean constants. */
function keywordScope(tokenType: ChevToken['tokenType']): RegExp {
  return tokenType === True || tokenType === False ? /^constant\.language\.boolean\./ : /^keyword\./;
}

const UNIT = /^keyword\.other\.unit\./;
const COMMENT = /^comment\./;

function assertFileScopes(file: string, text: string): { keywords: number; units: number; comments: number } {
  const tm = tokenize(text);
  const lexed = xbarLexer.tokenize(text);
  const keywordTypes = new Set([...keywordTokens, Cross]);
  let keywords = 0;
  for (const tok of lexed.tokens) {
    if (!keywordTypes.has(tok.tokenType)) continue;
    const col0 = (tok.startColumn ?? 1) - 1;
    const tms = covering(tm, tok.startLine ?? 1, col0, col0 + tok.image.length);
    assert.ok(
      tms.length > 0 && tms.every((t) => hasScope(t, keywordScope(tok.tokenType))),
      `keyword ${where(file, tok.startLine ?? 1, col0 + 1, tok.image, tms)}`,
    );
    keywords++;
  }
  let comments = 0;
  for (const tok of (lexed.groups['comments'] ?? []) as ChevToken[]) {
    assert.ok(tok.tokenType === LineComment || tok.tokenType === BlockComment);
    const lines = tok.image.split(/\r?\n/);
    lines.forEach((segment, i) => {
      const line = (tok.startLine ?? 1) + i;
      const from = i === 0 ? (tok.startColumn ?? 1) - 1 : 0;
      if (segment.length === 0) return;
      const tms = covering(tm, line, from, from + segment.length);
      assert.ok(tms.length > 0 && tms.every((t) => hasScope(t, COMMENT)), `comment ${where(file, line, from + 1, segment, tms)}`);
    });
    comments++;
  }
  // Units as the parser sees them: every number expression with a unit, anywhere in the AST.
  const parsed = parseSource(file, text, new Diagnostics());
  let units = 0;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const n = node as { kind?: string; unit?: { text: string; span: { line: number; col: number } } };
    if (n.kind === 'number' && n.unit) {
      const from = n.unit.span.col - 1;
      const tms = covering(tm, n.unit.span.line, from, from + n.unit.text.length);
      assert.ok(tms.length > 0 && tms.every((t) => hasScope(t, UNIT)), `unit ${where(file, n.unit.span.line, n.unit.span.col, n.unit.text, tms)}`);
      units++;
    }
    for (const [k, v] of Object.entries(node)) if (k !== 'span') visit(v);
  };
  visit(parsed.ast);
  return { keywords, units, comments };
}

const specFiles = ['stdlib', 'experiments'].flatMap((dir) =>
  readdirSync(join(packageRoot, dir))
    .filter((f) => f.endsWith('.xbar'))
    .sort()
    .map((f) => ({ name: `${dir}/${f}`, path: join(packageRoot, dir, f) })),
);

test('there are spec files to highlight', () => {
  assert.ok(specFiles.length >= 5, `found ${specFiles.length} .xbar files`);
});

for (const spec of specFiles) {
  test(`${spec.name}: keywords, units and comments get their scopes`, () => {
    const counts = assertFileScopes(spec.name, readFileSync(spec.path, 'utf8'));
    assert.ok(counts.keywords > 0, 'the file has keywords');
    assert.ok(counts.comments > 0, 'the file has comments');
  });
}

const sample = `/* A block comment
   spanning lines: device x = 1 kOhm */
import { TaOx_HfOx as T, ideal } from "std/devices" // trailing
import * from "./other.xbar"

device rram = T { r_on = 100 kOhm, on_off = 10, d2d_sigma = 3 %, v_read = 250mV, update = nonlinear(c2c = 3.7 %) }
crossbar xb64 = txsim64 {
  size = 64 x 64; device = rram
  adc = { bits = 8 bits, range = calibrate(99.9 %) }
  parasitics = fcm(refresh = 50 batches) /* inline */ wires { row = 1 Ohm }
}
network Net(classes = 10) {
  input = 1 x 28 x 28
  block b1 { shortcut { conv = conv2d(4, kernel = 1) } add }
  flatten
  fc = dense(classes)
}
experiment exp1 {
  data = mnist(train = 100, test = 50)
  model = Net(classes = 10)
  map * -> xb64, fc -> digital, "f?" -> xb64
  sweep xb64.device in [rram]
  fidelity = fast
  train { epochs = 1, nonideal = [forward, backward], optimizer = sgd(lr = 1e-2, nesterov = true) }
  evaluate { time = 1 h, repeats = 2 }
  sweep xb64.adc.bits in 4 .. 8 by 2 * zip(rram.d2d_sigma in [0 %, 5 %], seed in [1, 2])
  output = "out\\"dir"
}
`;

test('a sample touching every construct: keywords, units, comments', () => {
  const counts = assertFileScopes('<sample>', sample);
  assert.ok(counts.keywords >= 20, `keywords ${counts.keywords}`);
  assert.equal(counts.units, 11);
  assert.equal(counts.comments, 3);
});

test('declaration names, presets, fields, calls, enum values and map rules get their scopes', () => {
  const tm = tokenize(sample);
  const scopeOf = (line: number, word: string, nth = 0): string[] => {
    const text = sample.split('\n')[line - 1]!;
    let col = -1;
    for (let i = 0; i <= nth; i++) col = text.indexOf(word, col + 1);
    assert.ok(col >= 0, `${word} on line ${line}`);
    const tms = covering(tm, line, col, col + word.length);
    assert.equal(tms.length, 1, `${word} is one token on line ${line}: ${JSON.stringify(tms)}`);
    return tms[0]!.scopes;
  };
  const expect = (line: number, word: string, re: RegExp, nth = 0): void => {
    const scopes = scopeOf(line, word, nth);
    assert.ok(
      scopes.some((s) => re.test(s)),
      `${word} (line ${line}) has ${re}: ${scopes.join(' ')}`,
    );
  };
  expect(6, 'rram', /^entity\.name\.type\.device\./);
  expect(6, 'T', /^entity\.other\.inherited-class\./);
  expect(7, 'xb64', /^entity\.name\.type\.crossbar\./);
  expect(7, 'txsim64', /^entity\.other\.inherited-class\./);
  expect(12, 'Net', /^entity\.name\.type\.network\./);
  expect(18, 'exp1', /^entity\.name\.type\.experiment\./);
  expect(14, 'b1', /^entity\.name\.section\.block\./);
  expect(6, 'r_on', /^variable\.other\.property\./);
  expect(9, 'adc', /^variable\.other\.property\./);
  expect(10, 'wires', /^variable\.other\.property\./);
  expect(13, 'input', /^keyword\./);
  expect(6, 'nonlinear', /^support\.function\.constructor\./);
  expect(15, 'flatten', /^support\.function\.constructor\./);
  expect(14, 'add', /^support\.function\.constructor\./);
  expect(19, 'mnist', /^support\.function\.constructor\./);
  expect(20, 'Net', /^entity\.name\.function\./);
  expect(23, 'fast', /^constant\.language\.enum\./);
  expect(24, 'forward', /^constant\.language\.enum\./);
  expect(21, '->', /^keyword\.operator\.arrow\./);
  expect(21, 'xb64', /^entity\.name\.type\.crossbar\./);
  expect(21, 'digital', /^constant\.language\.digital\./);
  expect(26, '..', /^keyword\.operator\.range\./);
  expect(8, '64', /^constant\.numeric\./);
  expect(24, '1e-2', /^constant\.numeric\./);
  expect(3, 'std/devices', /^string\.quoted\.double\./);
  expect(27, '\\"', /^constant\.character\.escape\./);
  expect(2, 'kOhm', /^comment\.block\./);
  expect(22, 'device', /^keyword\./);
  expect(22, 'rram', /^variable\.other\./);
});

test('no unit scope where the parser sees none: x, fields on the same line, calls', () => {
  const tm = tokenize('size = 64 x 64\ntrain { epochs = 5 batch = 64 }\nv = 3 s(1)\nr = 2 MOhm.x\n');
  const scopes = (line: number, from: number, to: number) => covering(tm, line, from, to).flatMap((t) => t.scopes);
  assert.ok(!scopes(1, 10, 11).some((s) => UNIT.test(s)), 'x is the dimension operator');
  assert.ok(scopes(1, 10, 11).some((s) => /^keyword\.operator\.dimension\./.test(s)));
  assert.ok(!scopes(2, 19, 24).some((s) => UNIT.test(s)), 'batch = is a field, not a unit');
  assert.ok(!scopes(3, 6, 7).some((s) => UNIT.test(s)), 's( is a call, not a unit');
  assert.ok(!scopes(4, 6, 10).some((s) => UNIT.test(s)), 'MOhm. is a path, not a unit');
});

// ---- drift: the grammar must know everything the language defines -------------------------

test('every keyword of tokens.ts (and the x operator) is highlighted as a keyword', () => {
  const words = [
    ...keywordTokens.map((t) => ({ word: keywordWord(t), re: keywordScope(t) })),
    { word: keywordWord(Cross), re: /^keyword\.operator\.dimension\./ },
  ];
  assert.ok(words.length >= 18);
  const missing: string[] = [];
  for (const { word, re } of words) {
    const line = `  ${word}  `;
    const tms = covering(tokenize(line), 1, 2, 2 + word.length);
    if (!(tms.length === 1 && hasScope(tms[0]!, re))) missing.push(`${word} (${JSON.stringify(tms.map((t) => t.scopes))})`);
  }
  assert.deepEqual(missing, [], 'keywords the TextMate grammar does not highlight; add them to grammar/xbar.tmLanguage.json');
});

test('every unit of units.ts is highlighted after a number, with and without a space', () => {
  assert.ok(unitNames.length > 20);
  const missing: string[] = [];
  for (const unit of unitNames) {
    for (const sep of [' ', '']) {
      const line = `v = 12.5${sep}${unit}`;
      const from = 8 + sep.length;
      const tms = covering(tokenize(line), 1, from, from + unit.length);
      if (!(tms.length === 1 && hasScope(tms[0]!, UNIT))) missing.push(`${JSON.stringify(line)} ${JSON.stringify(tms.map((t) => t.scopes))}`);
    }
  }
  assert.deepEqual(missing, [], 'units the TextMate grammar does not highlight; add them to grammar/xbar.tmLanguage.json');
});

test('every constructor of schema.ts is highlighted as a call, and every enum option as a constant', () => {
  const missing: string[] = [];
  for (const c of constructors) {
    for (const line of [`f = ${c.name}(1)`, `f = ${c.name}`]) {
      const tms = covering(tokenize(line), 1, 4, 4 + c.name.length);
      if (!(tms.length === 1 && (hasScope(tms[0]!, /^support\.function\.constructor\./) || hasScope(tms[0]!, /^constant\.language\.enum\./))))
        missing.push(`${line} ${JSON.stringify(tms.map((t) => t.scopes))}`);
    }
    const call = `f = ${c.name}(1)`;
    const tms = covering(tokenize(call), 1, 4, 4 + c.name.length);
    if (!hasScope(tms[0]!, /^support\.function\.constructor\./)) missing.push(`${call} ${JSON.stringify(tms.map((t) => t.scopes))}`);
  }
  const options = new Set<string>();
  const collect = (type: ParamType): void => {
    if (type.t === 'enum') type.options.forEach((o) => options.add(o));
    if (type.t === 'list') collect(type.of);
    if (type.t === 'object') walkSchema(type.schema);
  };
  const walkSchema = (schema: ObjectSchema | { params: ObjectSchema['params'] }): void => schema.params.forEach((p) => collect(p.type));
  Object.values(declSchemas).forEach(walkSchema);
  constructors.forEach(walkSchema);
  assert.ok(options.size >= 10);
  for (const option of options) {
    const line = `f = ${option}`;
    const tms = covering(tokenize(line), 1, 4, 4 + option.length);
    if (!(tms.length === 1 && hasScope(tms[0]!, /^constant\.language\.enum\./))) missing.push(`${line} ${JSON.stringify(tms.map((t) => t.scopes))}`);
  }
  assert.deepEqual(missing, [], 'names the TextMate grammar does not highlight; update grammar/xbar.tmLanguage.json');
});

test('language-configuration.json declares comments, brackets and auto-closing pairs', () => {
  const config = JSON.parse(readFileSync(join(packageRoot, 'grammar', 'language-configuration.json'), 'utf8')) as {
    comments: { lineComment: string; blockComment: [string, string] };
    brackets: [string, string][];
    autoClosingPairs: { open: string; close: string }[];
    indentationRules: { increaseIndentPattern: string; decreaseIndentPattern: string };
  };
  assert.equal(config.comments.lineComment, '//');
  assert.deepEqual(config.comments.blockComment, ['/*', '*/']);
  assert.deepEqual(config.brackets.map((b) => b.join('')).sort(), ['()', '[]', '{}']);
  for (const open of ['{', '[', '(', '"'])
    assert.ok(
      config.autoClosingPairs.some((p) => p.open === open),
      `auto-close ${open}`,
    );
  const increase = new RegExp(config.indentationRules.increaseIndentPattern);
  const decrease = new RegExp(config.indentationRules.decreaseIndentPattern);
  assert.ok(increase.test('crossbar xb {'));
  assert.ok(increase.test('  adc = {'));
  assert.ok(!increase.test('  adc = { bits = 8 }'));
  assert.ok(!increase.test('// {'));
  assert.ok(decrease.test('  }'));
  assert.ok(!decrease.test('  bits = 8'));
});
