/**
 * Generated documentation: the parameter reference in docs/language.md (from the parameter table
 * in src/compiler/schema.ts), docs/diagnostics.md (from the diagnostics registry) and
 * docs/syntax-diagrams.html (chevrotain railroad diagrams of the grammar, with chevrotain's
 * scripts and stylesheet inlined so that the page works offline).
 *
 * Pure functions: `gen-docs.ts` writes the files, `test/compiler/docs.test.ts` compares them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createSyntaxDiagramsCode } from 'chevrotain';
import { xbarParser } from '../../grammar/parser.js';
import { diagnosticCodes, type DiagnosticCode } from '../../src/compiler/diagnostics.js';
import { packageRoot } from '../../src/compiler/resolve.js';
import {
  constructors,
  crossbarSchema,
  deviceSchema,
  experimentSchema,
  familyNames,
  adcSchema,
  wiresSchema,
  backwardSchema,
  trainSchema,
  evaluateSchema,
  type Constructor,
  type DefaultSpec,
  type Family,
  type ObjectSchema,
  type ParamSpec,
  type ParamType,
} from '../../src/compiler/schema.js';
import { dimName, isDimensionless, lookupUnit, siUnit, trimNumber } from '../../src/compiler/units.js';

export const BEGIN_MARKER = '<!-- BEGIN GENERATED REFERENCE -->';
export const END_MARKER = '<!-- END GENERATED REFERENCE -->';
export const REGENERATE_COMMAND = 'npm run docs';

export const docPaths = {
  language: join(packageRoot, 'docs', 'language.md'),
  diagnostics: join(packageRoot, 'docs', 'diagnostics.md'),
  diagrams: join(packageRoot, 'docs', 'syntax-diagrams.html'),
};

// ---- parameter reference ---------------------------------------------------------------------

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (s: string): string => `\`${s}\``;

/** Section anchors, so types can link to the block or family they name. */
const blockAnchor = (schema: ObjectSchema): string => `block-${schema.name}`;
const familyAnchor = (family: Family): string => `family-${family}`;

/** A number in SI shown in the parameter's display unit: 1e5 with kOhm → "100 kOhm". */
function inUnit(value: number, p: Pick<ParamSpec, 'unit'>): string {
  const unit = p.unit ? lookupUnit(p.unit) : undefined;
  if (!p.unit || !unit) return trimNumber(value);
  const scaled = trimNumber(Number((value / unit.scale).toPrecision(12)));
  return p.unit === '%' ? `${scaled} %` : `${scaled} ${p.unit}`;
}

function typeText(type: ParamType): string {
  switch (type.t) {
    case 'number': {
      if (isDimensionless(type.dim)) return type.int ? 'integer' : 'number';
      const name = dimName(type.dim);
      return type.int ? `${name} (integer)` : name;
    }
    case 'bool':
      return 'bool';
    case 'string':
      return 'string';
    case 'enum':
      return type.options.map(code).join(' | ');
    case 'list':
      return `list of ${typeText(type.of)}`;
    case 'shape':
      return type.square ? `shape ${code('a x b')} or ${code('n')} (n x n)` : `shape of ${type.rank}`;
    case 'ref':
      return `${type.kind} name`;
    case 'object':
      return `[${type.schema.name} block](#${blockAnchor(type.schema)})`;
    case 'variant':
      return `[${familyNames[type.family]}](#${familyAnchor(type.family)})`;
    case 'model':
      return `network call`;
  }
}

function unitText(p: ParamSpec): string {
  if (p.unit) return p.unit;
  if (p.type.t === 'number' && !isDimensionless(p.type.dim)) return siUnit(p.type.dim);
  return '';
}

function literal(value: number | string | boolean, p: ParamSpec): string {
  if (typeof value === 'number') return inUnit(value, p);
  if (typeof value === 'boolean') return String(value);
  return p.type.t === 'string' ? JSON.stringify(value) : value;
}

function defaultText(d: DefaultSpec, p: ParamSpec): string {
  switch (d.kind) {
    case 'required':
      return '**required**';
    case 'computed':
      return `*${d.describe}*`;
    case 'none':
      return `*${d.describe}*`;
    case 'call': {
      const ctor = constructors.find((c) => c.name === d.name && p.type.t === 'variant' && c.family === p.type.family);
      const args = Object.entries(d.args ?? {}).map(([k, v]) => {
        const param = ctor?.params.find((q) => q.name === k);
        return `${k} = ${param ? literal(v, param) : String(v)}`;
      });
      return code(args.length ? `${d.name}(${args.join(', ')})` : d.name);
    }
    case 'value': {
      const v = d.value;
      if (Array.isArray(v)) {
        if (p.type.t === 'shape') return code((v as number[]).join(' x '));
        return code(`[${v.map((x) => String(x)).join(', ')}]`);
      }
      return code(literal(v, p));
    }
  }
}

function rangeText(p: ParamSpec): string {
  const t = p.type;
  if (t.t === 'shape') {
    if (t.min === undefined && t.max === undefined) return '';
    return `each ${t.min ?? '−∞'} … ${t.max ?? '∞'}`;
  }
  if (t.t !== 'number') return '';
  const hasMin = t.min !== undefined;
  const hasMax = t.max !== undefined && t.max < Number.MAX_SAFE_INTEGER;
  const show = (v: number): string => (v === 0 ? '0' : inUnit(v, p));
  if (hasMin && hasMax) return `${t.minExclusive ? '(' : '['}${show(t.min!)}, ${show(t.max!)}${t.maxExclusive ? ')' : ']'}`;
  if (hasMin) return `${t.minExclusive ? '>' : '≥'} ${show(t.min!)}`;
  if (hasMax) return `${t.maxExclusive ? '<' : '≤'} ${show(t.max!)}`;
  return '';
}

function paramTable(params: ParamSpec[]): string[] {
  if (params.length === 0) return ['*No parameters.*', ''];
  const rows = ['| Parameter | Type | Unit | Default | Range | Meaning |', '|---|---|---|---|---|---|'];
  for (const p of params) {
    const doc = p.optional ? `${p.doc} (Optional: absent unless written.)` : p.doc;
    rows.push(
      `| ${code(p.name)} | ${cell(typeText(p.type))} | ${cell(unitText(p))} | ${cell(defaultText(p.default, p))} | ${cell(rangeText(p))} | ${cell(doc)} |`,
    );
  }
  return [...rows, ''];
}

function schemaSection(level: string, title: string, anchor: string, schema: ObjectSchema, usage: string): string[] {
  return [`<a id="${anchor}"></a>`, '', `${level} ${title}`, '', schema.doc, '', usage, '', ...paramTable(schema.params)];
}

const familyOrder: Family[] = ['layer', 'data', 'optimizer', 'schedule', 'init', 'update', 'iv', 'adcRange', 'parasitics'];
const familyUsage: Record<Family, string> = {
  layer: 'Members of a `network` body: `conv1 = conv2d(6, kernel = 5)`, or anonymous: `relu`.',
  data: 'The `data` field of an experiment: `data = mnist(train = 8000, test = 2000)`.',
  optimizer: 'The `optimizer` field of a `train` block: `optimizer = sgd(lr = 0.05, momentum = 0.9)`.',
  schedule: 'The `schedule` field of a `train` block: `schedule = step(every = 10, gamma = 0.1)`.',
  init: 'The `init` field of a `train` block: `init = uniform(limit = 1, levels = 7)`.',
  update: 'The `update` field of a device: `update = nonlinear(ltp = 0.04, ltd = -0.63, c2c = 3.7 %)`.',
  iv: 'The `iv` field of a device: `iv = sinh(v0 = 0.2 V)`, `iv = table(v = [0.1 V, 0.2 V], i = [0.1 V, 0.21 V])`.',
  adcRange: 'The `range` field of an `adc` block: `range = calibrate(99.9 %)`.',
  parasitics: 'The `parasitics` field of a crossbar: `parasitics = fcm(refresh = 50 batches)`.',
};

function constructorSection(c: Constructor): string[] {
  const signature = c.params.length ? `${c.name}(${c.params.map((p) => p.name).join(', ')})` : c.name;
  return [
    `#### ${code(c.name)}`,
    '',
    `${c.doc} Written ${code(signature)}; arguments may be positional (in this order) or named.`,
    '',
    ...paramTable(c.params),
  ];
}

/** The generated reference section of docs/language.md (without the markers). */
export function languageReference(): string {
  const out: string[] = [
    '## Reference: every parameter',
    '',
    '*Generated from the parameter table (`src/compiler/schema.ts`) by `' + REGENERATE_COMMAND + '`; do not edit by hand.*',
    '',
    'Conventions: **Unit** is the unit the value is usually written in (any unit of the same dimension is accepted and stored in SI);',
    'a number parameter with no unit takes a bare number. **Range** is an interval: `[a, b]` includes both ends, `(a, b)` excludes them.',
    'Percentages are fractions: `3 %` is 0.03, so a range of `[0, 100 %]` means 0 to 1 written bare.',
    '*Italic* defaults are computed or describe an absent value.',
    '',
    '### Declarations',
    '',
    ...schemaSection('####', '`device`', 'decl-device', deviceSchema, 'Written `device NAME { … }` or `device NAME = PRESET { overrides }`.'),
    ...schemaSection('####', '`crossbar`', 'decl-crossbar', crossbarSchema, 'Written `crossbar NAME { … }` or `crossbar NAME = PRESET { overrides }`.'),
    ...schemaSection(
      '####',
      '`experiment`',
      'decl-experiment',
      experimentSchema,
      'Written `experiment NAME { … }`. Besides the fields below, an experiment body holds `map` rules and `sweep` statements (see the guide above).',
    ),
    '#### `network`',
    '',
    'Written `network NAME(param = default, …) { layers }`. A network has no fixed fields: its parameters are the ones it declares, and its body is a sequence of [layers](#family-layer), networks used as layers, `input = C x H x W`, `block NAME { … }` and `shortcut { … }`.',
    '',
    '### Nested blocks',
    '',
    "Written `name { field = value, … }` or `name = { … }`. Overriding one field of a block keeps the preset's other fields.",
    '',
  ];
  const blocks: [ObjectSchema, string][] = [
    [adcSchema, 'In a crossbar (`adc = { bits = 8, range = calibrate(99.9 %) }`) and in its `backward` block.'],
    [wiresSchema, 'In a crossbar: `wires = { row = 1 Ohm, col = 4.6 Ohm }`.'],
    [backwardSchema, 'In a crossbar: `backward { input_bits = 8, adc = { bits = 8 } }`.'],
    [trainSchema, 'In an experiment: `train { epochs = 5, batch = 64, optimizer = sgd(lr = 0.05) }`.'],
    [evaluateSchema, 'In an experiment: `evaluate { batch = 500, repeats = 3 }`.'],
  ];
  for (const [schema, usage] of blocks) out.push(...schemaSection('####', code(schema.name), blockAnchor(schema), schema, usage));
  out.push('### Constructors', '', 'A constructor is called like a function; a bare name is a call with no arguments (`relu`, `max`, `none`).', '');
  const families = [...familyOrder, ...(Object.keys(familyNames) as Family[]).filter((f) => !familyOrder.includes(f))];
  for (const family of families) {
    const members = constructors.filter((c) => c.family === family);
    if (members.length === 0) continue;
    const title = familyNames[family];
    out.push(
      `<a id="${familyAnchor(family)}"></a>`,
      '',
      `### ${title[0]!.toUpperCase()}${title.slice(1)}s`,
      '',
      `${familyUsage[family]} Choices: ${members.map((c) => code(c.name)).join(', ')}.`,
      '',
    );
    for (const c of members) out.push(...constructorSection(c));
  }
  while (out[out.length - 1] === '') out.pop();
  return out.join('\n');
}

/** Put a freshly generated reference between the markers of docs/language.md, keeping the prose. */
export function spliceReference(languageMd: string, reference: string = languageReference()): string {
  const begin = languageMd.indexOf(BEGIN_MARKER);
  const end = languageMd.indexOf(END_MARKER);
  if (begin < 0 || end < begin) throw new Error(`docs/language.md must contain ${BEGIN_MARKER} followed by ${END_MARKER}`);
  return `${languageMd.slice(0, begin + BEGIN_MARKER.length)}\n${reference}\n${languageMd.slice(end)}`;
}

/** The text between the markers (trimmed), or undefined when the markers are missing. */
export function generatedSection(languageMd: string): string | undefined {
  const begin = languageMd.indexOf(BEGIN_MARKER);
  const end = languageMd.indexOf(END_MARKER);
  if (begin < 0 || end < begin) return undefined;
  return languageMd.slice(begin + BEGIN_MARKER.length, end).trim();
}

// ---- diagnostics -----------------------------------------------------------------------------

export function diagnosticsDoc(): string {
  const codes = Object.keys(diagnosticCodes) as DiagnosticCode[];
  const out = [
    '# Diagnostics',
    '',
    `*Generated from the diagnostics registry (\`src/compiler/diagnostics.ts\`) by \`${REGENERATE_COMMAND}\`; do not edit by hand.*`,
    '',
    'Every diagnostic xbarc reports — from `xbarc check`, `xbarc run`, the language server and the library — has one of these codes,',
    'a severity, a message and a source span (`file:line:col-endLine:endCol`). Errors stop `xbarc run`; warnings do not.',
    'Placeholders in braces are filled in from the spec.',
    '',
    `${codes.length} codes: ${(['error', 'warning', 'info'] as const)
      .map((s) => [s, codes.filter((c) => diagnosticCodes[c].severity === s).length] as const)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${s}${n === 1 ? '' : 's'}`)
      .join(', ')}.`,
    '',
    '| Code | Severity | Message | Meaning |',
    '|---|---|---|---|',
  ];
  for (const c of codes) {
    const info = diagnosticCodes[c];
    out.push(`| <a id="${c}"></a>${code(c)} | ${info.severity} | ${cell(code(info.template))} | ${cell(info.doc)} |`);
  }
  return out.join('\n') + '\n';
}

// ---- syntax diagrams -------------------------------------------------------------------------

const RESOURCE_BASE = 'chevrotain-diagrams/';
const CSS_URL = 'chevrotain-diagrams/diagrams.css';

/** Inline a script so it cannot end the <script> element early. */
const scriptText = (js: string): string => js.replace(/<\/(script)/gi, '<\\/$1');

/** The diagrams/ folder of the installed chevrotain package (its exports hide package.json). */
function chevrotainDiagramsDir(): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve('chevrotain'));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'diagrams', 'diagrams.css'))) return join(dir, 'diagrams');
    dir = dirname(dir);
  }
  throw new Error('cannot find the diagrams/ folder of the chevrotain package');
}

/**
 * Railroad diagrams of every grammar rule, as one self-contained HTML page: chevrotain's
 * generator links its scripts and stylesheet from a CDN; they are replaced by the files shipped in
 * the chevrotain package (diagrams/), inlined.
 */
export function syntaxDiagramsHtml(): string {
  const diagramsDir = chevrotainDiagramsDir();
  let html = createSyntaxDiagramsCode(xbarParser.getSerializedGastProductions(), { resourceBase: RESOURCE_BASE, css: CSS_URL });
  html = html.replace(/<!-- This is a generated file -->\s*/, '');
  html = html.replace(/<link rel='stylesheet' href='([^']+)'>/g, (_, href: string) => {
    if (href !== CSS_URL) throw new Error(`unexpected stylesheet ${href}`);
    return `<style>\n${readFileSync(join(diagramsDir, 'diagrams.css'), 'utf8')}\n</style>`;
  });
  html = html.replace(/<script src='([^']+)'><\/script>/g, (_, src: string) => {
    if (!src.startsWith(RESOURCE_BASE)) throw new Error(`unexpected script ${src}`);
    const file = join(diagramsDir, src.slice(RESOURCE_BASE.length));
    return `<script>\n${scriptText(readFileSync(file, 'utf8'))}\n</script>`;
  });
  if (/(src|href)=['"]https?:/i.test(html)) throw new Error('the syntax diagrams still link a remote resource');
  const title =
    '<title>xbar syntax diagrams</title>\n<!-- Generated by ' +
    REGENERATE_COMMAND +
    ' from grammar/parser.ts; do not edit. Self-contained: works offline. -->\n<h1 style="font-family: sans-serif">The .xbar grammar</h1>\n<p style="font-family: sans-serif">One railroad diagram per parser rule (grammar/parser.ts). Rule names are links; hover to highlight. The language guide is <a href="language.md">language.md</a>.</p>\n';
  html = html.replace('<meta charset="utf-8">', `<meta charset="utf-8">\n${title}`);
  return html.replace(/[ \t]+$/gm, '');
}
