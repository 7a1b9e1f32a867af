/**
 * Resolve: load a file and everything it imports (relative files and `std/…`), detect missing
 * files and import cycles, and build each module's scope of declarations.
 */
import { readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve as resolvePath } from 'node:path';
import { packageRoot } from '../model/tool.js';
import type { Declaration, ImportDecl, Span } from './ast.js';
import { Diagnostics, closest, didYouMean } from './diagnostics.js';
import { parseSource, type ParsedFile } from './parse.js';
import { probeFile, readRegularText } from '../io/read-file.js';

/** Where source text comes from: the file system, with unsaved editor buffers laid over it. */
export interface SourceHost {
  readFile(path: string): string | undefined;
  /**
   * Why readFile(path) gives nothing: undefined when it can be read, 'missing' when nothing is
   * there, else a reason completing "PATH …" (is a directory, is not a regular file, is larger
   * than …). Optional: without it an unreadable import is reported as not found.
   */
  whyUnreadable?(path: string): string | undefined;
}

export class FileSystemHost implements SourceHost {
  constructor(private readonly overlay: Map<string, string> = new Map()) {}
  readFile(path: string): string | undefined {
    const open = this.overlay.get(path);
    if (open !== undefined) return open;
    try {
      // Regular files only, at most 4 MiB: an import of /dev/zero or a FIFO must not hang the editor.
      return readRegularText(path, 'spec');
    } catch {
      return undefined;
    }
  }
  whyUnreadable(path: string): string | undefined {
    if (this.overlay.has(path)) return undefined;
    const problem = probeFile(path, 'spec');
    return problem?.problem === 'missing' ? 'missing' : problem?.reason;
  }
}

/** The package root (holds stdlib/), found by walking up from this module. */
export { packageRoot } from '../model/tool.js';

export const stdlibDir = join(packageRoot, 'stdlib');

export interface ScopeEntry {
  decl: Declaration;
  module: Module;
  /** The import that brought the name in, when imported. */
  via?: { importDecl: ImportDecl; nameSpan: Span; used: boolean };
}

export interface Module {
  path: string;
  parsed: ParsedFile;
  /** Declarations visible in this module: its own plus imported ones. */
  scope: Map<string, ScopeEntry>;
  own: Map<string, Declaration>;
  isStdlib: boolean;
  /** Names whose import failed (already reported): uses of them are not reported again as unknown. */
  unresolved: Set<string>;
}

/** Parse cache keyed by path and text, so re-checks (the editor, sweeps) skip unchanged files. */
const parseCache = new Map<string, { text: string; parsed: ParsedFile; diags: Diagnostics }>();

function parseCached(path: string, text: string): { parsed: ParsedFile; diags: Diagnostics } {
  const hit = parseCache.get(path);
  if (hit && hit.text === text) return hit;
  const diags = new Diagnostics();
  const parsed = parseSource(path, text, diags);
  const entry = { text, parsed, diags };
  if (parseCache.size > 500) parseCache.clear();
  parseCache.set(path, entry);
  return entry;
}

export function resolveImportPath(source: string, fromFile: string): string {
  if (source.startsWith('std/')) {
    const rel = source.slice(4);
    return join(stdlibDir, rel.endsWith('.xbar') ? rel : `${rel}.xbar`);
  }
  const base = isAbsolute(source) ? source : resolvePath(dirname(fromFile), source);
  return base.endsWith('.xbar') ? base : `${base}.xbar`;
}

export class Program {
  readonly modules = new Map<string, Module>();
  readonly diagnostics = new Diagnostics();

  constructor(readonly host: SourceHost = new FileSystemHost()) {}

  /** Load a root file (given as text when it is an unsaved buffer). */
  load(path: string, text?: string): Module | undefined {
    const abs = resolvePath(path);
    const source = text ?? this.host.readFile(abs);
    if (source === undefined) return undefined;
    return this.loadModule(abs, source, []);
  }

  private loadModule(path: string, text: string, stack: string[]): Module {
    const existing = this.modules.get(path);
    if (existing) return existing;
    const { parsed, diags } = parseCached(path, text);
    for (const d of diags.items) this.diagnostics.items.push(d);
    const module: Module = { path, parsed, scope: new Map(), own: new Map(), isStdlib: path.startsWith(stdlibDir), unresolved: new Set() };
    this.modules.set(path, module);
    for (const decl of parsed.ast.declarations) {
      const prior = module.own.get(decl.name.text);
      if (prior) {
        this.diagnostics.add('duplicate-declaration', path, decl.name.span, { name: decl.name.text, where: ` at line ${prior.name.span.line}` });
        continue;
      }
      module.own.set(decl.name.text, decl);
      module.scope.set(decl.name.text, { decl, module });
    }
    const nextStack = [...stack, path];
    for (const imp of parsed.ast.imports) this.resolveImport(module, imp, nextStack);
    return module;
  }

  private resolveImport(module: Module, imp: ImportDecl, stack: string[]): void {
    const target = resolveImportPath(imp.source.text, module.path);
    if (stack.includes(target)) {
      const cycle = [...stack.slice(stack.indexOf(target)), target].map(shortName).join(' → ');
      this.diagnostics.add('import-cycle', module.path, imp.source.span, { cycle });
      return;
    }
    let imported = this.modules.get(target);
    if (!imported) {
      const text = this.host.readFile(target);
      if (text === undefined) {
        this.reportUnreadableImport(module, imp, target);
        for (const n of imp.names ?? []) module.unresolved.add((n.alias ?? n.name).text);
        return;
      }
      imported = this.loadModule(target, text, stack);
    }
    // `import *`: each name is located at the import's source string (d.name.span is in the other file).
    const names = imp.names ?? [...imported.own.values()].map((d) => ({ name: { text: d.name.text, span: imp.source.span }, alias: undefined }));
    for (const { name, alias } of names) {
      const decl = imported.own.get(name.text);
      if (!decl) {
        const suggestion = closest(name.text, imported.own.keys());
        this.diagnostics.add(
          'unknown-import',
          module.path,
          name.span,
          { source: imp.source.text, name: name.text, suggestion: didYouMean(suggestion) },
          suggestion ? { title: `Change to ${suggestion}`, span: name.span, newText: suggestion } : undefined,
        );
        module.unresolved.add((alias ?? name).text);
        continue;
      }
      const local = alias ?? name;
      const prior = module.scope.get(local.text);
      if (prior) {
        this.diagnostics.add('duplicate-declaration', module.path, local.span, {
          name: local.text,
          where: prior.via ? ' by another import' : ` at line ${prior.decl.name.span.line}`,
        });
        continue;
      }
      module.scope.set(local.text, { decl, module: imported, via: { importDecl: imp, nameSpan: local.span, used: imp.names === null } });
    }
  }

  /** Not found, or found but not a spec (a directory, a device, too large, notes.txt): say which. */
  private reportUnreadableImport(module: Module, imp: ImportDecl, target: string): void {
    const source = imp.source.text;
    const why = this.host.whyUnreadable?.(target) ?? 'missing';
    if (why !== 'missing') {
      this.diagnostics.add('import-unreadable', module.path, imp.source.span, { source, reason: `${shortName(target)} ${why}` });
      return;
    }
    const named = importedFileAsWritten(source, module.path);
    if (named !== target && this.host.whyUnreadable && this.host.whyUnreadable(named) === undefined) {
      this.diagnostics.add('import-unreadable', module.path, imp.source.span, {
        source,
        reason: `${shortName(named)} exists but is not an .xbar file (imports name .xbar files; the extension may be left off)`,
      });
      return;
    }
    const hint = source.startsWith('std/')
      ? `; the standard library has ${stdlibModules()
          .map((m) => `"std/${m}"`)
          .join(', ')}`
      : '';
    this.diagnostics.add('import-not-found', module.path, imp.source.span, { source, hint });
  }
}

/** The path an import names, before ".xbar" is added. */
function importedFileAsWritten(source: string, fromFile: string): string {
  if (source.startsWith('std/')) return join(stdlibDir, source.slice(4));
  return isAbsolute(source) ? source : resolvePath(dirname(fromFile), source);
}

export function shortName(path: string): string {
  if (path.startsWith(stdlibDir)) return 'std/' + path.slice(stdlibDir.length + 1).replace(/\.xbar$/, '');
  return path.split(/[\\/]/).slice(-1)[0] ?? path;
}

let stdlibList: string[] | undefined;

/** Names of the standard library's modules (lazily: only hints and completion need them). */
export function stdlibModules(): string[] {
  if (!stdlibList) {
    try {
      stdlibList = readdirSync(stdlibDir)
        .filter((f) => f.endsWith('.xbar'))
        .map((f) => f.replace(/\.xbar$/, ''))
        .sort();
    } catch {
      stdlibList = [];
    }
  }
  return stdlibList;
}
