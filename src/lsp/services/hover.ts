/**
 * Hover: what the name under the cursor means. For a parameter: its resolved value (in the unit
 * it was written in and in SI), where that value comes from (written here, inherited from a
 * preset, or the default), the default, the allowed range and the documentation from the
 * parameter table. Also declarations, constructors, units, layers and map patterns.
 */
import type { ConfigDecl, Declaration, Span } from '../../compiler/ast.js';
import { globToRegex } from '../../compiler/check/mapping.js';
import { describeRange } from '../../compiler/evaluate.js';
import { shortName, type Module } from '../../compiler/resolve.js';
import { familyNames, type Constructor, type DefaultSpec, type ParamSpec, type ParamType } from '../../compiler/schema.js';
import { dimName, formatQuantity, isDimensionless, lookupUnit, siUnit, trimNumber, type Dimension } from '../../compiler/units.js';
import { showValue, type Value } from '../../compiler/values.js';
import { analyze, type Analysis, type ServiceOptions } from './analysis.js';
import type { Position, HoverInfo } from './types.js';
import { moduleOccurrences, occurrenceAt, type Occurrence, type Target, type ValueAccess } from './semantic.js';

export function hover(text: string, path: string, position: Position, options: ServiceOptions = {}): HoverInfo | null {
  const a = analyze(text, path, options);
  if (!a.module) return null;
  const offset = a.lines.offsetAt(position);
  const occurrences = moduleOccurrences(a.module, a.result.program);
  let occ = occurrenceAt(occurrences, offset);
  // On a value (a number, an enum option) the hover is the field's.
  if (!occ || occ.target.kind === 'option') occ = enclosingField(occurrences, offset) ?? occ;
  if (!occ) return null;
  const contents = describeTarget(occ.target, a, occ);
  return contents ? { contents, range: a.lines.spanRange(occ.span) } : null;
}

function enclosingField(occurrences: Occurrence[], offset: number): Occurrence | undefined {
  let best: Occurrence | undefined;
  for (const o of occurrences) {
    if (o.target.kind !== 'param' || !o.target.valueExpr) continue;
    const v = o.target.valueExpr.span;
    if (
      offset >= v.start &&
      offset <= v.end &&
      (!best ||
        v.end - v.start <
          (best.target as { valueExpr: { span: Span } }).valueExpr.span.end - (best.target as { valueExpr: { span: Span } }).valueExpr.span.start)
    )
      best = o;
  }
  return best;
}

export function describeTarget(t: Target, a: Analysis, occ?: Occurrence): string | undefined {
  switch (t.kind) {
    case 'param':
      return describeParam(t.param, t.owner, a, t.access);
    case 'decl':
      return describeDecl(t.decl, t.module, a);
    case 'ctor':
      return describeConstructor(t.ctor);
    case 'unit':
      return describeUnit(t.unit);
    case 'layer':
      return describeLayer(t, a);
    case 'netParam': {
      const p = t.network.params.find((x) => x.name.text === t.name);
      const def = p?.default ? ` = ${sliceOf(t.module, p.default.span)}` : ' (required)';
      return `**${t.name}**${def} · parameter of network \`${t.network.name.text}\``;
    }
    case 'pattern':
      return describePattern(t.experiment, t.pattern, a);
    case 'file':
      return `imports \`${shortName(t.path)}\`\n\n${t.path}`;
    case 'digital':
      return '**digital** · run the layer in float32 digital logic, not on a crossbar';
    case 'option':
      return occ ? `\`${t.value}\`` : undefined;
  }
}

// ---- parameters ------------------------------------------------------------------------------

export function describeParam(param: ParamSpec, owner: string, a: Analysis, access?: ValueAccess): string {
  const lines: string[] = [`**${param.name}** · ${owner} parameter — ${typeText(param.type, param.unit)}`];
  const value = access ? valueAt(a, access) : undefined;
  if (value) {
    lines.push('', `Value: ${valueText(value)}`);
    const origin = originText(value, access!, a);
    if (origin) lines.push(`${origin}`);
  }
  lines.push('', `Default: ${defaultText(param.default, param.type, param.unit)}`);
  const range = rangeText(param.type, param.unit);
  if (range) lines.push(`Range: ${range}`);
  lines.push('', param.doc);
  return lines.join('\n');
}

/** The evaluated value at an access path (the checker has evaluated every declaration). */
export function valueAt(a: Analysis, access: ValueAccess): Value | undefined {
  const ev = a.result.evaluator;
  if (!ev || access.path.length === 0) return undefined;
  try {
    const de = ev.declEval(access.module, access.decl);
    let v = de.get(access.path[0]!);
    for (const seg of access.path.slice(1)) {
      if (!v) return undefined;
      v = v.k === 'object' ? v.fields[seg] : v.k === 'call' ? v.args[seg] : undefined;
    }
    return v;
  } catch {
    return undefined;
  }
}

/** `100 kOhm (SI: 100000 Ohm)` */
export function valueText(v: Value): string {
  if (v.k !== 'num') return `\`${showValue(v)}\``;
  const si = siText(v.v, v.dim);
  const written = v.unit ? writtenText(v.v, v.unit) : undefined;
  if (written && written !== si) return `\`${written}\` (SI: ${si})`;
  const shown = showValue(v);
  return shown === si ? `\`${si}\`` : `\`${shown}\` (SI: ${si})`;
}

function writtenText(si: number, unit: string): string | undefined {
  const info = lookupUnit(unit);
  if (!info) return undefined;
  return `${trimNumber(si / info.scale)} ${unit}`;
}

function siText(v: number, dim: Dimension): string {
  const unit = siUnit(dim);
  return unit ? `${trimNumber(v)} ${unit}` : trimNumber(v);
}

/** Where a value came from: this declaration, a preset (which), an import, or the default. */
function originText(v: Value, access: ValueAccess, a: Analysis): string | undefined {
  if (v.isDefault) return '_Not set: the default applies._';
  const owner = declarationAt(a, v.file, v.span.start);
  const line = `${shortName(v.file)}:${v.span.line}`;
  if (!owner) return `_Set at ${line}._`;
  if (owner.decl === access.decl) return '_Set here._';
  const viaPreset = presetChainOf(access.decl, access.module).includes(owner.decl);
  return viaPreset ? `_Inherited from preset \`${owner.decl.name.text}\` (${line})._` : `_Set in ${owner.decl.kind} \`${owner.decl.name.text}\` (${line})._`;
}

function declarationAt(a: Analysis, file: string, offset: number): { decl: Declaration; module: Module } | undefined {
  const module = a.result.program.modules.get(file);
  if (!module) return undefined;
  const decl = module.parsed.ast.declarations.find((d) => offset >= d.span.start && offset <= d.span.end);
  return decl ? { decl, module } : undefined;
}

function presetChainOf(decl: ConfigDecl, module: Module): Declaration[] {
  const chain: Declaration[] = [];
  let current: ConfigDecl | undefined = decl;
  let mod = module;
  for (let i = 0; i < 16 && current?.preset?.[0]; i++) {
    const entry = mod.scope.get(current.preset[0].text);
    if (!entry || entry.decl.kind === 'network' || chain.includes(entry.decl)) break;
    chain.push(entry.decl);
    current = entry.decl;
    mod = entry.module;
  }
  return chain;
}

export function typeText(t: ParamType, unit?: string): string {
  switch (t.t) {
    case 'number':
      if (unit === '%') return 'fraction (write with %)';
      if (isDimensionless(t.dim)) return t.int ? 'whole number' : 'number';
      return `${dimName(t.dim)}${t.int ? ' (whole)' : ''}${unit ? `, e.g. in ${unit}` : ''}`;
    case 'bool':
      return 'true | false';
    case 'string':
      return 'string';
    case 'enum':
      return t.options.join(' | ');
    case 'list':
      return `list of ${typeText(t.of)}`;
    case 'shape':
      return t.square ? 'shape (`n x m`, or `n` for square)' : 'shape';
    case 'ref':
      return `name of a ${t.kind}`;
    case 'object':
      return `block of ${t.schema.name} settings`;
    case 'variant':
      return `${familyNames[t.family]}`;
    case 'model':
      return 'network instance, e.g. `LeNet5(classes = 10)`';
  }
}

export function defaultText(d: DefaultSpec, t: ParamType, unit?: string): string {
  switch (d.kind) {
    case 'required':
      return 'none (required)';
    case 'computed':
      return `computed: ${d.describe}`;
    case 'none':
      return d.describe;
    case 'call': {
      const args = Object.entries(d.args ?? {});
      return `\`${d.name}${args.length ? `(${args.map(([k, v]) => `${k} = ${k === 'percentile' ? `${trimNumber(Number(v) * 100)} %` : String(v)}`).join(', ')})` : ''}\``;
    }
    case 'value': {
      const v = d.value;
      if (typeof v === 'number' && t.t === 'number') {
        if (unit === '%') return `\`${trimNumber(v * 100)} %\``;
        return `\`${isDimensionless(t.dim) ? trimNumber(v) : formatQuantity(v, t.dim)}\``;
      }
      if (Array.isArray(v)) return t.t === 'shape' ? `\`${v.join(' x ')}\`` : `\`[${v.join(', ')}]\``;
      return `\`${typeof v === 'string' && t.t === 'string' ? JSON.stringify(v) : String(v)}\``;
    }
  }
}

export function rangeText(t: ParamType, unit?: string): string | undefined {
  if (t.t === 'number') {
    const f = (x: number) => (unit === '%' ? `${trimNumber(x * 100)} %` : isDimensionless(t.dim) ? trimNumber(x) : formatQuantity(x, t.dim));
    const lo = t.min !== undefined ? `${t.minExclusive ? '>' : '≥'} ${f(t.min)}` : undefined;
    const hi = t.max !== undefined ? `${t.maxExclusive ? '<' : '≤'} ${f(t.max)}` : undefined;
    const bounds = [lo, hi].filter((x) => x !== undefined).join(' and ');
    if (!bounds) return t.int ? 'any whole number' : undefined;
    return t.int ? `${bounds}, whole` : bounds;
  }
  if (t.t === 'shape') return `each dimension ${describeRange(t.min, t.max)}`;
  if (t.t === 'enum') return `one of ${t.options.join(', ')}`;
  return undefined;
}

// ---- other targets ------------------------------------------------------------------------------

function describeDecl(decl: Declaration, module: Module, a: Analysis): string {
  const where = `${shortName(module.path)}:${decl.name.span.line}`;
  if (decl.kind === 'network') {
    const params = decl.params.map((p) => (p.default ? `${p.name.text} = ${sliceOf(module, p.default.span)}` : p.name.text)).join(', ');
    const net = a.result.model?.networks.get(decl.name.text);
    const layers = net ? `\n\n${net.layers.length} layers, ${net.layers.filter((l) => l.weighted).length} weighted` : '';
    return `**network ${decl.name.text}**(${params}) · ${where}${layers}${leadingComment(module, decl.span)}`;
  }
  const preset = decl.preset ? ` = ${decl.preset.map((p) => p.text).join('.')}` : '';
  const lines = [`**${decl.kind} ${decl.name.text}**${preset} · ${where}`];
  const ev = a.result.evaluator;
  if (ev) {
    try {
      const de = ev.declEval(module, decl);
      const rows: string[] = [];
      for (const p of de.schema.params) {
        const v = de.get(p.name);
        if (!v) continue;
        const origin = v.isDefault
          ? 'default'
          : declarationAt(a, v.file, v.span.start)?.decl === decl
            ? 'here'
            : `from ${declarationAt(a, v.file, v.span.start)?.decl.name.text ?? shortName(v.file)}`;
        rows.push(`| ${p.name} | \`${showValue(v).replace(/\|/g, '\\|')}\` | ${origin} |`);
      }
      if (rows.length) lines.push('', '| parameter | value | from |', '| --- | --- | --- |', ...rows);
    } catch {
      /* a broken declaration still gets its header */
    }
  }
  return lines.join('\n') + leadingComment(module, decl.span);
}

/** The comment block right above a declaration (stdlib presets document themselves that way). */
function leadingComment(module: Module, span: Span): string {
  const comments = module.parsed.comments.filter((c) => c.startOffset < span.start);
  const lines: string[] = [];
  let expectLine = span.line - 1;
  for (let i = comments.length - 1; i >= 0; i--) {
    const c = comments[i]!;
    if ((c.endLine ?? c.startLine) !== expectLine) break;
    lines.unshift(c.image.replace(/^\/\/\s?|^\/\*|\*\/$/g, ''));
    expectLine = (c.startLine ?? 1) - 1;
  }
  return lines.length ? `\n\n${lines.join('\n')}` : '';
}

export function describeConstructor(c: Constructor): string {
  const params = c.params.map((p) => `- \`${p.name}\` — ${typeText(p.type, p.unit)}, default ${defaultText(p.default, p.type, p.unit)}: ${p.doc}`);
  return [`**${c.name}**(${c.params.map((p) => p.name).join(', ')}) · ${familyNames[c.family]}`, '', c.doc, ...(params.length ? ['', ...params] : [])].join(
    '\n',
  );
}

function describeUnit(name: string): string {
  const u = lookupUnit(name);
  if (!u) return `unknown unit ${name}`;
  const si = siUnit(u.dim);
  return `**${name}** · unit of ${dimName(u.dim)}${si && si !== name ? `: 1 ${name} = ${trimNumber(u.scale)} ${si}` : name === '%' ? ': 1 % = 0.01' : ''}`;
}

function describeLayer(t: Extract<Target, { kind: 'layer' }>, a: Analysis): string {
  const lines = [`**${t.name}** · layer of network \`${t.network.name.text}\``];
  for (const exp of a.result.model?.experiments ?? []) {
    const layer = exp.network?.name === t.network.name.text ? exp.network.layers.find((l) => l.name === t.name) : undefined;
    if (!layer) continue;
    const target = exp.mapping.get(layer.name);
    lines.push(
      '',
      `In experiment \`${exp.name}\`: ${layer.op.kind}, ${layer.inputShape.join(' x ')} → ${layer.outputShape.join(' x ')}${target ? `, on ${target.target === 'digital' ? 'digital' : `crossbar ${target.crossbar}`}` : ''}`,
    );
  }
  return lines.join('\n');
}

function describePattern(experiment: ConfigDecl, pattern: string, a: Analysis): string {
  const exp = a.result.model?.experiments.find((e) => e.name === experiment.name.text);
  const weighted = exp?.network?.layers.filter((l) => l.weighted) ?? [];
  const regex = globToRegex(pattern);
  const matched = weighted.filter((l) => regex.test(l.name));
  const head = `**map ${pattern}** · ${matched.length} weighted layer${matched.length === 1 ? '' : 's'} of \`${exp?.network?.name ?? '?'}\``;
  const rows = matched.slice(0, 24).map((l) => {
    const target = exp?.mapping.get(l.name);
    return `- \`${l.name}\` ${l.op.kind} ${l.inputShape.join(' x ')} → ${l.outputShape.join(' x ')}${target ? ` ⇒ ${target.target === 'digital' ? 'digital' : target.crossbar}` : ''}`;
  });
  return [head, '', ...rows].join('\n');
}

function sliceOf(module: Module, span: Span): string {
  return module.parsed.text.slice(span.start, span.end).trim();
}
