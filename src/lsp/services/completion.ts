/**
 * Completion. The text being edited rarely parses, so the cursor's context comes from the tokens
 * before it: a stack of open `{ ( [` frames (what declaration, block or call each belongs to) and
 * the tokens of the current member. The parameter table then says what fits: parameter names in
 * a body, argument names in a call, enum options, constructors, units after a number, layer
 * names after `map`, crossbars after `->`, declarations in scope and in the standard library
 * (with the import they need).
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { IToken } from 'chevrotain';
import * as T from '../../../grammar/tokens.js';
import type { Declaration, NetworkDecl } from '../../compiler/ast.js';
import { globToRegex } from '../../compiler/check/mapping.js';
import { Program, shortName, stdlibDir, stdlibModules, type Module } from '../../compiler/resolve.js';
import { constructors, declSchemas, familyConstructors, findConstructor, type ParamSpec, type ParamType } from '../../compiler/schema.js';
import { isDimensionless, sameDim, unitNames, lookupUnit } from '../../compiler/units.js';
import { analyze, type Analysis, type ServiceOptions } from './analysis.js';
import { defaultText, describeConstructor, rangeText, typeText } from './hover.js';
import type { CompletionEntry, Position, Range } from './types.js';

type FrameKind = 'top' | 'body' | 'netBody' | 'call' | 'list' | 'paren' | 'import' | 'netParams';

interface Frame {
  kind: FrameKind;
  /** Tokens of the current member (body) or argument (call, list) at this level. */
  member: IToken[];
  /** Names already set in this body (not offered again). */
  written: Set<string>;
  declKind?: 'device' | 'crossbar' | 'experiment';
  declName?: string;
  /** For a nested body: the field it is the value of. */
  fieldName?: string;
  /** For a call: the callee; and the member of the parent frame it is the value of. */
  callee?: string;
  parentMember?: IToken[];
  argIndex: number;
}

const KEYWORDS_TOP = ['import', 'device', 'crossbar', 'network', 'experiment'];
const CONTINUES = new Set(['=', '+', '-', '*', '/', ',', '->', '..', 'in', 'by', 'x', '×', '.', '(', '[', '{']);

function isNameToken(t: IToken | undefined): boolean {
  return (
    t !== undefined &&
    (t.tokenType === T.Identifier ||
      t.tokenType === T.Device ||
      t.tokenType === T.Crossbar ||
      t.tokenType === T.Network ||
      t.tokenType === T.Experiment ||
      t.tokenType === T.Input)
  );
}

function newFrame(kind: FrameKind, extra: Partial<Frame> = {}): Frame {
  return { kind, member: [], written: new Set(), argIndex: 0, ...extra };
}

/** Close the current member of a body frame, remembering the field it set. */
function endMember(f: Frame): void {
  const [first, second] = f.member;
  if (isNameToken(first) && (second?.image === '=' || second?.image === '{')) f.written.add(first!.image);
  f.member = [];
}

function buildFrames(tokens: IToken[]): Frame[] {
  const stack: Frame[] = [newFrame('top')];
  for (const tok of tokens) {
    const f = stack[stack.length - 1]!;
    const last = f.member[f.member.length - 1];
    const bodyLike = f.kind === 'top' || f.kind === 'body' || f.kind === 'netBody';
    // A new line starts a new member unless the previous token asks for more.
    if (bodyLike && last && (tok.startLine ?? 0) > (last.endLine ?? 0) && !CONTINUES.has(last.image)) endMember(f);
    if (f.kind === 'top' && [T.Import, T.Device, T.Crossbar, T.Network, T.Experiment].includes(tok.tokenType) && f.member.length > 0) endMember(f);
    switch (tok.image) {
      case '{': {
        const first = f.member[0];
        let frame: Frame;
        if (f.kind === 'top' && first?.tokenType === T.Import) frame = newFrame('import');
        else if (f.kind === 'top' && first?.tokenType === T.Network) frame = newFrame('netBody', { declName: f.member[1]?.image ?? '' });
        else if (f.kind === 'top' && first && [T.Device, T.Crossbar, T.Experiment].includes(first.tokenType)) {
          frame = newFrame('body', { declKind: first.image as Frame['declKind'] & string, declName: f.member[1]?.image ?? '' });
        } else if (f.kind === 'netBody') frame = newFrame('netBody', { declName: f.declName ?? '' });
        else frame = newFrame('body', { fieldName: memberName(f) ?? '', parentMember: [...f.member, tok] });
        f.member.push(tok);
        stack.push(frame);
        continue;
      }
      case '(': {
        const prev = f.member[f.member.length - 1];
        const frame =
          f.kind === 'top' && f.member[0]?.tokenType === T.Network
            ? newFrame('netParams')
            : prev && (isNameToken(prev) || prev.tokenType === T.Zip)
              ? newFrame('call', { callee: prev.image, parentMember: [...f.member] })
              : newFrame('paren', { parentMember: [...f.member] });
        f.member.push(tok);
        stack.push(frame);
        continue;
      }
      case '[':
        f.member.push(tok);
        stack.push(newFrame('list', { parentMember: [...f.member] }));
        continue;
      case '}':
      case ')':
      case ']':
        if (stack.length > 1) stack.pop();
        stack[stack.length - 1]!.member.push(tok);
        continue;
      case ',':
      case ';':
        if (f.kind === 'body' && f.member[0]?.tokenType === T.Map && tok.image === ',') break;
        if (bodyLike) endMember(f);
        else {
          f.member = [];
          f.argIndex++;
        }
        continue;
    }
    f.member.push(tok);
  }
  return stack;
}

/** `name = …` or `name { …`: the field (or named argument) a member sets. */
function memberName(f: Frame): string | undefined {
  const [first, second] = f.member;
  return isNameToken(first) && (second?.image === '=' || second?.image === '{') ? first!.image : undefined;
}

// ---- types along the frame stack --------------------------------------------------------------

interface Site {
  /** Parameters that can be named here (a body's fields, a call's arguments). */
  params?: ParamSpec[];
  owner?: string;
  /** Network parameters (a network instance's arguments) by name. */
  networkParams?: string[];
}

/** The parameters a frame's members name. */
function siteOf(stack: Frame[], i: number, a: Analysis): Site {
  const f = stack[i]!;
  if (f.kind === 'body') {
    if (f.declKind) return { params: declSchemas[f.declKind].params, owner: f.declKind };
    const type = typeOfMember(stack, i - 1, f.parentMember ?? [], a);
    return type?.t === 'object' ? { params: type.schema.params, owner: type.schema.name } : {};
  }
  if (f.kind === 'call') {
    const type = typeOfMember(stack, i - 1, f.parentMember ?? [], a);
    const callee = f.callee ?? '';
    if (type?.t === 'variant') {
      const ctor = findConstructor(type.family, callee);
      return ctor ? { params: ctor.params, owner: ctor.name } : {};
    }
    const net = networkNamed(a, callee);
    if (net && (type?.t === 'model' || !type)) return { networkParams: net.params.map((p) => p.name.text), owner: callee };
    const ctor = constructors.find((c) => c.name === callee && c.family === 'layer');
    if (!type && ctor) return { params: ctor.params, owner: ctor.name };
    return {};
  }
  return {};
}

/** The type of the value being written in `member` of frame `i` (`name = …` or a positional argument). */
function typeOfMember(stack: Frame[], i: number, member: IToken[], a: Analysis): ParamType | undefined {
  if (i < 0) return undefined;
  const f = stack[i]!;
  if (f.kind === 'list') {
    const outer = typeOfMember(stack, i - 1, f.parentMember ?? [], a);
    return outer?.t === 'list' ? outer.of : undefined;
  }
  if (f.kind === 'paren') return typeOfMember(stack, i - 1, f.parentMember ?? [], a);
  const site = siteOf(stack, i, a);
  const [first, second] = member;
  let param: ParamSpec | undefined;
  if (isNameToken(first) && (second?.image === '=' || second?.image === '{')) param = site.params?.find((p) => p.name === first!.image);
  else if (f.kind === 'call') param = site.params?.[f.argIndex];
  return param?.type;
}

function networkNamed(a: Analysis, name: string): NetworkDecl | undefined {
  const d = a.module?.scope.get(name)?.decl;
  return d?.kind === 'network' ? d : undefined;
}

// ---- the service ------------------------------------------------------------------------------

export function completion(text: string, path: string, position: Position, options: ServiceOptions = {}): CompletionEntry[] {
  const a = analyze(text, path, options);
  const offset = a.lines.offsetAt(position);
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const before = text.slice(lineStart, offset);
  const importSource = /\bfrom\s+"([^"]*)$/.exec(before);
  if (importSource) return moduleCompletions(a, importSource[1]!, a.lines.range(offset - importSource[1]!.length, offset));
  const lexed = T.xbarLexer.tokenize(text);
  if (insideCommentOrString(lexed.groups['comments'] ?? [], lexed.tokens, offset)) return [];
  const word = /[A-Za-z_][A-Za-z0-9_]*$/.exec(before)?.[0] ?? '';
  const wordStart = offset - word.length;
  const range = a.lines.range(wordStart, offset);
  const tokens = lexed.tokens.filter((t) => (t.endOffset ?? t.startOffset) < wordStart);
  const stack = buildFrames(tokens);
  const f = stack[stack.length - 1]!;
  // The cursor on a later line than the member's last token starts a new member.
  const last = f.member[f.member.length - 1];
  const cursorLine = a.lines.positionAt(wordStart).line + 1;
  if ((f.kind === 'body' || f.kind === 'netBody' || f.kind === 'top') && last && cursorLine > (last.endLine ?? 0) && !CONTINUES.has(last.image)) endMember(f);
  const ctx: Ctx = { a, stack, range, text, lexed: lexed.tokens, wordStart };
  const items = completeIn(ctx);
  return dedupe(items);
}

interface Ctx {
  a: Analysis;
  stack: Frame[];
  range: Range;
  text: string;
  lexed: IToken[];
  wordStart: number;
}

function completeIn(c: Ctx): CompletionEntry[] {
  const i = c.stack.length - 1;
  const f = c.stack[i]!;
  const m = f.member;
  switch (f.kind) {
    case 'top':
      return topLevel(c, m);
    case 'import':
      return importNames(c);
    case 'netParams':
      return [];
    case 'netBody': {
      // A network cannot contain itself.
      const notSelf = (e: CompletionEntry) => e.label !== f.declName;
      if (m.length === 0) return [...layerStarters(c).filter(notSelf), ...keywords(['block', 'shortcut', 'input'], c.range)];
      if (m[1]?.image === '=' && m.length === 2) return layerStarters(c).filter(notSelf);
      return valueCompletions(c, undefined, m.slice(2));
    }
    case 'body': {
      const site = siteOf(c.stack, i, c.a);
      if (m.length === 0) {
        const fields = (site.params ?? []).filter((p) => !f.written.has(p.name)).map((p, n) => fieldEntry(p, site.owner ?? '', c.range, n));
        return f.declKind === 'experiment' ? [...fields, ...keywords(['map', 'sweep'], c.range)] : fields;
      }
      if (m[0]!.tokenType === T.Map) return mapCompletions(c, f, m);
      if (m[0]!.tokenType === T.Sweep) return sweepCompletions(c, m);
      if (m[1]?.image === '=')
        return valueCompletions(
          c,
          site.params?.find((p) => p.name === m[0]!.image),
          m.slice(2),
        );
      return [];
    }
    case 'call': {
      const site = siteOf(c.stack, i, c.a);
      if (m.length >= 2 && m[1]!.image === '=' && isNameToken(m[0])) {
        const param = site.params?.find((p) => p.name === m[0]!.image);
        return valueCompletions(c, param, m.slice(2));
      }
      if (m.length === 0) {
        const named = new Set(namedArgsOfCall(c));
        const args = site.params
          ? site.params.filter((p) => !named.has(p.name)).map((p, n) => fieldEntry(p, site.owner ?? '', c.range, n))
          : (site.networkParams ?? [])
              .filter((p) => !named.has(p))
              .map((p): CompletionEntry => ({ label: p, kind: 'field', detail: `argument of ${site.owner}`, insertText: `${p} = `, range: c.range }));
        // A positional value fits too when it is a choice (an option, a constructor, a name).
        const positional = site.params?.[f.argIndex];
        const choice = positional && positional.type.t !== 'number' && positional.type.t !== 'shape';
        return [...args, ...(choice ? valueCompletions(c, positional, []) : [])];
      }
      return valueCompletions(c, site.params?.[f.argIndex], m);
    }
    case 'list': {
      const type = typeOfMember(c.stack, i, m, c.a);
      return valueCompletions(c, type ? { name: '', type, default: { kind: 'required' }, doc: '' } : undefined, m);
    }
    case 'paren':
      return valueCompletions(c, undefined, m);
  }
}

function namedArgsOfCall(c: Ctx): string[] {
  // Named arguments already given before the cursor in this call (scan back to its `(`).
  const names: string[] = [];
  let depth = 0;
  for (let k = c.lexed.length - 1; k >= 0; k--) {
    const t = c.lexed[k]!;
    if ((t.endOffset ?? 0) >= c.wordStart) continue;
    if (t.image === ')' || t.image === ']' || t.image === '}') depth++;
    else if (t.image === '(' || t.image === '[' || t.image === '{') {
      if (depth === 0) break;
      depth--;
    } else if (depth === 0 && t.image === '=' && isNameToken(c.lexed[k - 1])) names.push(c.lexed[k - 1]!.image);
  }
  return names;
}

// ---- top level and imports ------------------------------------------------------------------------

function topLevel(c: Ctx, m: IToken[]): CompletionEntry[] {
  if (m.length === 0) return keywords(KEYWORDS_TOP, c.range);
  const first = m[0]!;
  if ([T.Device, T.Crossbar, T.Experiment].includes(first.tokenType) && m.length === 3 && m[2]!.image === '=') {
    return declarationNames(c, first.image as 'device' | 'crossbar' | 'experiment').filter((e) => e.label !== m[1]!.image);
  }
  if (first.tokenType === T.Import) {
    const lastTok = m[m.length - 1]!;
    if (lastTok.image === '}' || lastTok.image === '*') return keywords(['from'], c.range);
    return [];
  }
  if (m.length === 1 && first.tokenType !== T.Import) return [];
  return m.length >= 2 && m[m.length - 1]!.image !== '=' ? [] : keywords(KEYWORDS_TOP, c.range);
}

function importNames(c: Ctx): CompletionEntry[] {
  // The source is after the closing brace: `import { | } from "std/devices"`.
  const after = c.lexed.filter((t) => t.startOffset >= c.wordStart);
  const fromIdx = after.findIndex((t) => t.tokenType === T.From);
  const src = fromIdx >= 0 ? after[fromIdx + 1] : undefined;
  if (!src || src.tokenType !== T.StringLiteral) return [];
  const module = loadModule(c.a, src.image.slice(1, -1));
  return [...(module?.own.values() ?? [])].map((d) => declEntry(d, module!, c.range));
}

function loadModule(a: Analysis, source: string): Module | undefined {
  const program = new Program(a.result.program.host);
  const importer = a.path;
  const target = source.startsWith('std/')
    ? join(stdlibDir, source.slice(4).replace(/\.xbar$/, '') + '.xbar')
    : join(dirname(importer), source.endsWith('.xbar') ? source : `${source}.xbar`);
  return a.result.program.modules.get(target) ?? program.load(target);
}

function moduleCompletions(a: Analysis, typed: string, range: Range): CompletionEntry[] {
  const std = stdlibModules().map((m): CompletionEntry => ({ label: `std/${m}`, kind: 'module', detail: 'standard library', range }));
  const dir = dirname(a.path);
  let local: CompletionEntry[] = [];
  try {
    if (existsSync(dir)) {
      local = readdirSync(dir)
        .filter((f) => f.endsWith('.xbar') && join(dir, f) !== a.path)
        .map((f): CompletionEntry => ({ label: `./${relative(dir, join(dir, f)).replace(/\.xbar$/, '')}`, kind: 'module', detail: f, range }));
    }
  } catch {
    /* an unreadable directory offers only the standard library */
  }
  return [...std, ...local].filter((e) => e.label.startsWith(typed.replace(/[^/]*$/, '')) || typed === '');
}

// ---- map and sweep ------------------------------------------------------------------------------

function mapCompletions(c: Ctx, f: Frame, m: IToken[]): CompletionEntry[] {
  const lastTok = m[m.length - 1]!;
  if (lastTok.tokenType === T.Arrow) {
    const crossbars = declarationNames(c, 'crossbar');
    return [...crossbars, { label: 'digital', kind: 'keyword', detail: 'run the layer digitally', range: c.range }];
  }
  if (lastTok.tokenType === T.Map || lastTok.image === ',') return layerNames(c, f.declName ?? '');
  return [{ label: '->', kind: 'operator', range: c.range }];
}

/** The weighted layers of the experiment's network (checked model first, else the text's network). */
function layerNames(c: Ctx, experiment: string): CompletionEntry[] {
  const exp = c.a.result.model?.experiments.find((e) => e.name === experiment);
  const mapped = new Set<string>();
  for (const [name, target] of exp?.mapping ?? []) if (target) mapped.add(name);
  const layers = exp?.network?.layers.filter((l) => l.weighted);
  const out: CompletionEntry[] = [{ label: '*', kind: 'layer', detail: 'every weighted layer', range: c.range, sortText: '0' }];
  if (layers && layers.length > 0) {
    for (const [n, l] of layers.entries())
      out.push({
        label: l.name,
        kind: 'layer',
        detail: `${l.op.kind} ${l.inputShape.join('x')} → ${l.outputShape.join('x')}`,
        range: c.range,
        sortText: `1${String(n).padStart(4, '0')}`,
      });
    // Globs for layer families (`conv*`) when several layers share a prefix.
    const prefixes = new Map<string, number>();
    for (const l of layers) {
      const p = /^[A-Za-z_]+/.exec(l.name)?.[0];
      if (p) prefixes.set(p, (prefixes.get(p) ?? 0) + 1);
    }
    for (const [p, n] of prefixes)
      if (n > 1 && layers.filter((l) => globToRegex(`${p}*`).test(l.name)).length > 1)
        out.push({ label: `${p}*`, kind: 'layer', detail: `${n} layers`, range: c.range, sortText: '2' });
    return out;
  }
  const net = modelNetworkFromText(c);
  for (const m of net?.body ?? []) if (m.kind === 'layer' && m.name && m.name.text !== 'input') out.push({ label: m.name.text, kind: 'layer', range: c.range });
  return out;
}

function modelNetworkFromText(c: Ctx): NetworkDecl | undefined {
  for (let k = 0; k + 2 < c.lexed.length; k++) {
    if (c.lexed[k]!.image === 'model' && c.lexed[k + 1]!.image === '=') return networkNamed(c.a, c.lexed[k + 2]!.image);
  }
  return undefined;
}

function sweepCompletions(c: Ctx, m: IToken[]): CompletionEntry[] {
  const lastTok = m[m.length - 1]!;
  if (lastTok.image === '.') return pathFields(c, m);
  if (lastTok.tokenType === T.Sweep || lastTok.image === '*') {
    const decls = [...declarationNames(c, 'device', false), ...declarationNames(c, 'crossbar', false)];
    const fields = declSchemas.experiment.params.map((p, n) => fieldEntry(p, 'experiment', c.range, n, ''));
    return [...decls, ...fields, ...keywords(['zip'], c.range)];
  }
  if (isNameToken(lastTok)) return keywords(['in'], c.range);
  return [];
}

/** Fields after `name.` / `name.block.`: follow the path through the schema. */
function pathFields(c: Ctx, m: IToken[]): CompletionEntry[] {
  const path: string[] = [];
  for (let k = m.length - 2; k >= 0; k -= 2) {
    if (!isNameToken(m[k])) break;
    path.unshift(m[k]!.image);
    if (m[k - 1]?.image !== '.') break;
  }
  const head = path[0];
  if (!head) return [];
  const decl = c.a.module?.scope.get(head)?.decl;
  let params: ParamSpec[] | undefined =
    decl && decl.kind !== 'network'
      ? declSchemas[decl.kind].params
      : declSchemas.experiment.params.find((p) => p.name === head)
        ? declSchemas.experiment.params
        : undefined;
  const rest = decl ? path.slice(1) : path;
  for (const seg of rest) {
    const p: ParamSpec | undefined = params?.find((x) => x.name === seg);
    if (!p) return [];
    params = p.type.t === 'object' ? p.type.schema.params : p.type.t === 'variant' ? familyConstructors(p.type.family).flatMap((x) => x.params) : undefined;
  }
  return (params ?? []).map((p, n) => fieldEntry(p, head, c.range, n, ''));
}

// ---- values ---------------------------------------------------------------------------------------

function valueCompletions(c: Ctx, param: ParamSpec | undefined, rest: IToken[]): CompletionEntry[] {
  const lastTok = rest[rest.length - 1];
  const type = param?.type;
  const cursorLine = c.a.lines.positionAt(c.wordStart).line + 1;
  if (lastTok?.tokenType === T.NumberLiteral && (lastTok.endLine ?? 0) === cursorLine) return unitCompletions(c, param);
  if (lastTok?.image === '.') return pathFields(c, rest);
  if (lastTok && !CONTINUES.has(lastTok.image)) return [];
  if (!type) return [...networkParams(c), ...layerStarters(c, false)];
  switch (type.t) {
    case 'enum':
      return type.options
        .map((o) => ({ label: o, kind: 'enum', detail: param?.name ? `${param.name}` : undefined, range: c.range }) as CompletionEntry)
        .map(clean);
    case 'list':
      return type.of.t === 'enum' ? type.of.options.map((o): CompletionEntry => ({ label: o, kind: 'enum', range: c.range })) : [];
    case 'bool':
      return keywords(['true', 'false'], c.range);
    case 'ref':
      return declarationNames(c, type.kind);
    case 'model':
      return declarationNames(c, 'network');
    case 'variant':
      return familyConstructors(type.family).map((ctor, n): CompletionEntry => ({
        label: ctor.name,
        kind: 'constructor',
        detail: ctor.params.length ? `${ctor.name}(${ctor.params.map((p) => p.name).join(', ')})` : ctor.name,
        documentation: describeConstructor(ctor),
        range: c.range,
        sortText: String(n).padStart(3, '0'),
      }));
    case 'number':
      return [...ownFields(c, param!), ...networkParams(c)];
    default:
      return [];
  }
}

function clean(e: CompletionEntry): CompletionEntry {
  if (e.detail === undefined) delete e.detail;
  return e;
}

function unitCompletions(c: Ctx, param: ParamSpec | undefined): CompletionEntry[] {
  const type = param?.type;
  const dim = type?.t === 'number' ? type.dim : undefined;
  const names = [...unitNames];
  const fits = (u: string) => {
    const info = lookupUnit(u)!;
    if (!dim) return true;
    if (param?.unit === '%') return u === '%';
    return !isDimensionless(dim) && sameDim(info.dim, dim);
  };
  const matching = names.filter(fits);
  const list = matching.length > 0 ? matching : dim && isDimensionless(dim) ? [] : names;
  // `%` is its own token: complete it only when nothing is typed yet.
  return list
    .filter((u) => u !== '%' || c.range.start.character === c.range.end.character)
    .map((u, n): CompletionEntry => ({
      label: u,
      kind: 'unit',
      detail: describeUnitShort(u),
      range: c.range,
      sortText: String(param?.unit === u ? 0 : n + 1).padStart(3, '0'),
    }));
}

function describeUnitShort(u: string): string {
  const info = lookupUnit(u);
  return info ? `× ${info.scale}` : '';
}

/** Other fields of the declaration being written (for derived values like `r_on * on_off`). */
function ownFields(c: Ctx, param: ParamSpec): CompletionEntry[] {
  const decl = c.stack.find((f) => f.declKind);
  if (!decl?.declKind) return [];
  return declSchemas[decl.declKind].params
    .filter((p) => p.type.t === 'number' && p.name !== param.name)
    .map((p): CompletionEntry => ({ label: p.name, kind: 'field', detail: typeText(p.type, p.unit), range: c.range, sortText: `9${p.name}` }));
}

function networkParams(c: Ctx): CompletionEntry[] {
  const body = c.stack.find((f) => f.kind === 'netBody');
  const net = body?.declName ? networkNamed(c.a, body.declName) : undefined;
  return (net?.params ?? []).map((p): CompletionEntry => ({ label: p.name.text, kind: 'value', detail: `parameter of ${net!.name.text}`, range: c.range }));
}

/** Layer constructors and networks usable as blocks. */
function layerStarters(c: Ctx, withNetworks = true): CompletionEntry[] {
  const ctors = familyConstructors('layer').map((ctor): CompletionEntry => ({
    label: ctor.name,
    kind: 'constructor',
    detail: `layer ${ctor.name}(${ctor.params.map((p) => p.name).join(', ')})`,
    documentation: describeConstructor(ctor),
    range: c.range,
  }));
  return withNetworks ? [...ctors, ...declarationNames(c, 'network')] : ctors;
}

// ---- names -----------------------------------------------------------------------------------------

/** Declarations of a kind in scope, then those of the standard library with the import they need. */
function declarationNames(c: Ctx, kind: Declaration['kind'], withStdlib = true): CompletionEntry[] {
  const out: CompletionEntry[] = [];
  const scope = c.a.module?.scope ?? new Map();
  for (const [name, entry] of scope) {
    if (entry.decl.kind !== kind) continue;
    out.push({ ...declEntry(entry.decl, entry.module, c.range), label: name, sortText: `0${name}` });
  }
  if (!withStdlib) return out;
  for (const { decl, module, source } of stdlibDeclarations()) {
    if (decl.kind !== kind || scope.has(decl.name.text)) continue;
    out.push({
      ...declEntry(decl, module, c.range),
      sortText: `1${decl.name.text}`,
      detail: `${decl.kind} from ${source} (adds the import)`,
      additionalEdits: [importEdit(c, decl.name.text, source)],
    });
  }
  return out;
}

function declEntry(decl: Declaration, module: Module, range: Range): CompletionEntry {
  const preset = decl.kind !== 'network' && decl.preset ? ` = ${decl.preset.map((p) => p.text).join('.')}` : '';
  const params = decl.kind === 'network' ? `(${decl.params.map((p) => p.name.text).join(', ')})` : '';
  return { label: decl.name.text, kind: 'declaration', detail: `${decl.kind}${params}${preset} · ${shortName(module.path)}`, range };
}

let stdlibCache: { decl: Declaration; module: Module; source: string }[] | undefined;

function stdlibDeclarations(): { decl: Declaration; module: Module; source: string }[] {
  if (!stdlibCache) {
    const program = new Program();
    stdlibCache = [];
    for (const name of stdlibModules()) {
      const module = program.load(join(stdlibDir, `${name}.xbar`));
      for (const decl of module?.own.values() ?? []) stdlibCache.push({ decl, module: module!, source: `std/${name}` });
    }
  }
  return stdlibCache;
}

/** Add `name` to an existing `import { … } from "source"`, or a new import line. */
function importEdit(c: Ctx, name: string, source: string): { range: Range; newText: string } {
  const imports = c.a.module?.parsed.ast.imports ?? [];
  const same = imports.find((i) => i.source.text === source && i.names && i.names.length > 0);
  if (same?.names) {
    const lastName = same.names[same.names.length - 1]!;
    const at = (lastName.alias ?? lastName.name).span.end;
    return { range: c.a.lines.range(at, at), newText: `, ${name}` };
  }
  const lastImport = imports[imports.length - 1];
  const at = lastImport ? c.text.indexOf('\n', lastImport.span.end) + 1 || c.text.length : leadingCommentEnd(c.text);
  const prefix = lastImport && at === c.text.length && !c.text.endsWith('\n') ? '\n' : '';
  return { range: c.a.lines.range(at, at), newText: `${prefix}import { ${name} } from "${source}"\n${lastImport ? '' : '\n'}` };
}

/** After the header comment block of a file (imports go below it). */
function leadingCommentEnd(text: string): number {
  const m = /^(?:[ \t]*\/\/[^\n]*\n)*/.exec(text);
  return m ? m[0].length : 0;
}

function fieldEntry(p: ParamSpec, owner: string, range: Range, n: number, insertSuffix = ' = '): CompletionEntry {
  const range2 = rangeText(p.type, p.unit);
  const doc = [
    `${typeText(p.type, p.unit)}`,
    '',
    `Default: ${defaultText(p.default, p.type, p.unit)}`,
    ...(range2 ? [`Range: ${range2}`] : []),
    '',
    p.doc,
  ].join('\n');
  return {
    label: p.name,
    kind: 'field',
    detail: `${owner} · ${typeText(p.type, p.unit)}`,
    documentation: doc,
    insertText: `${p.name}${insertSuffix}`,
    range,
    sortText: String(n).padStart(3, '0'),
  };
}

function keywords(words: string[], range: Range): CompletionEntry[] {
  return words.map((w): CompletionEntry => ({ label: w, kind: 'keyword', range }));
}

function dedupe(items: CompletionEntry[]): CompletionEntry[] {
  const seen = new Set<string>();
  return items.filter((e) => {
    const key = `${e.kind}:${e.label}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function insideCommentOrString(comments: IToken[], tokens: IToken[], offset: number): boolean {
  for (const c of comments)
    if (offset > c.startOffset && offset <= (c.endOffset ?? c.startOffset) + 1 && !(c.tokenType === T.BlockComment && offset === (c.endOffset ?? 0) + 1))
      return true;
  for (const t of tokens) if (t.tokenType === T.StringLiteral && offset > t.startOffset && offset <= (t.endOffset ?? t.startOffset)) return true;
  return false;
}
