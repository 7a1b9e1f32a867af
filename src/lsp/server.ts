/**
 * The xbarc language server: a thin protocol shell over the language services in ./services.
 * It owns only what a server must: the open documents (their unsaved text is laid over the disk
 * so imports see it), scheduling of checks, and conversion to protocol types.
 *
 * Checks are scheduled per document with a 150 ms window (leading and trailing edge): the first
 * change after a pause is checked at once, further changes inside the window are coalesced into
 * one check at its end, which always sees the latest text. So a burst of keystrokes costs at most
 * one check per 150 ms, and an isolated edit gets its diagnostics without waiting. The last check
 * of each document is remembered (services/analysis.ts), so hover, completion and definition
 * right after it reuse it instead of checking again.
 *
 * Nothing but protocol may reach stdout: in stdio mode the real stdout is captured for the
 * message writer and `process.stdout.write` (hence console.log) is redirected to stderr.
 */
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join, resolve as resolvePath } from 'node:path';
import {
  CodeActionKind,
  CompletionItemKind,
  DiagnosticSeverity,
  IPCMessageReader,
  IPCMessageWriter,
  MarkupKind,
  StreamMessageReader,
  StreamMessageWriter,
  SymbolKind,
  TextDocumentSyncKind,
  TextDocuments,
  createConnection,
  type CodeAction,
  type CompletionItem,
  type Connection,
  type Diagnostic,
  type DocumentSymbol,
  type InitializeResult,
  type Location as LspLocation,
} from 'vscode-languageserver/node.js';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { FileSystemHost } from '../compiler/resolve.js';
import * as services from './services/index.js';
import type { CompletionEntry, DiagnosticInfo, DocumentSymbolInfo, Location, ServiceOptions, SymbolKind as ServiceSymbolKind } from './services/index.js';

export type Transport = 'stdio' | 'node-ipc';

export interface ServerOptions {
  transport: Transport;
  /** Check scheduling window in ms (default 150, or XBARC_LSP_DEBOUNCE_MS). */
  debounceMs?: number;
}

/** Per-key scheduling: run at once after a quiet period, else once at the end of the window. */
export class CheckScheduler {
  private timers = new Map<string, NodeJS.Timeout>();
  private lastRun = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly run: (key: string) => void,
  ) {}

  trigger(key: string): void {
    if (this.timers.has(key)) return; // a pending run will read the latest text
    const since = performance.now() - (this.lastRun.get(key) ?? -Infinity);
    const wait = since >= this.windowMs ? 0 : this.windowMs - since;
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.lastRun.set(key, performance.now());
        this.run(key);
      }, wait),
    );
  }

  cancel(key: string): void {
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}

/** Keep stdout for protocol only: return a stream to the real stdout, send everything else to stderr. */
function captureStdout(): Writable {
  const realWrite = process.stdout.write.bind(process.stdout);
  const toStderr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array, encoding?: BufferEncoding | ((err?: Error | null) => void), cb?: (err?: Error | null) => void) =>
    toStderr(chunk, encoding as BufferEncoding, cb)) as typeof process.stdout.write;
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      realWrite(chunk, (err) => callback(err ?? null));
    },
  });
}

function connectionFor(transport: Transport): Connection {
  if (transport === 'node-ipc') {
    if (!process.send) throw new Error('--node-ipc needs the server to be started with an IPC channel (child_process.fork)');
    return createConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
  }
  const out = captureStdout();
  return createConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(out));
}

/** Start serving; resolves when the client closes the connection. */
export function startServer(options: ServerOptions): Promise<void> {
  const connection = connectionFor(options.transport);
  const envWindow = Number(process.env['XBARC_LSP_DEBOUNCE_MS']);
  const windowMs = options.debounceMs ?? (Number.isFinite(envWindow) && envWindow >= 0 ? envWindow : 150);
  const server = new XbarServer(connection, windowMs);
  server.listen();
  return new Promise((resolveDone) => connection.onExit(() => resolveDone()));
}

class XbarServer {
  private readonly documents = new TextDocuments(TextDocument);
  private readonly overlay = new Map<string, string>();
  private readonly host = new FileSystemHost(this.overlay);
  /** Bumped on every buffer change: remembered checks of other documents may import it. */
  private generation = 0;
  /** Files each open document's last check loaded (to re-check importers of a changed buffer). */
  private readonly loaded = new Map<string, Set<string>>();
  private readonly uriOfPath = new Map<string, string>();
  private readonly scheduler: CheckScheduler;

  constructor(
    private readonly connection: Connection,
    windowMs: number,
  ) {
    this.scheduler = new CheckScheduler(windowMs, (uri) => this.publish(uri));
  }

  listen(): void {
    const c = this.connection;
    c.onInitialize((): InitializeResult => ({
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        completionProvider: { triggerCharacters: ['.', '"', '/', '=', ' ', '(', ',', '>'] },
        definitionProvider: true,
        referencesProvider: true,
        documentSymbolProvider: true,
        documentFormattingProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
      },
      serverInfo: { name: 'xbarc' },
    }));
    this.documents.onDidChangeContent((e) => this.changed(e.document));
    this.documents.onDidClose((e) => this.closed(e.document.uri));
    c.onHover((p) =>
      this.safely('hover', null, () => {
        const d = this.doc(p.textDocument.uri);
        const h = d && services.hover(d.text, d.path, p.position, this.options());
        return h ? { contents: { kind: MarkupKind.Markdown, value: h.contents }, range: h.range } : null;
      }),
    );
    c.onCompletion((p) =>
      this.safely('completion', [], () => {
        const d = this.doc(p.textDocument.uri);
        return d ? services.completion(d.text, d.path, p.position, this.options()).map(toCompletionItem) : [];
      }),
    );
    c.onDefinition((p) =>
      this.safely('definition', [], () => {
        const d = this.doc(p.textDocument.uri);
        return d ? services.definition(d.text, d.path, p.position, this.options()).map((l) => this.toLocation(l)) : [];
      }),
    );
    c.onReferences((p) =>
      this.safely('references', [], () => {
        const d = this.doc(p.textDocument.uri);
        if (!d) return [];
        const roots = this.documents
          .all()
          .filter((x) => x.uri !== p.textDocument.uri)
          .map((x) => ({ path: this.pathOf(x.uri), text: x.getText() }));
        return services
          .references(d.text, d.path, p.position, { ...this.options(), includeDeclaration: p.context.includeDeclaration, roots })
          .map((l) => this.toLocation(l));
      }),
    );
    c.onDocumentSymbol((p) =>
      this.safely('documentSymbol', [], () => {
        const d = this.doc(p.textDocument.uri);
        return d ? services.documentSymbols(d.text, d.path).map(toDocumentSymbol) : [];
      }),
    );
    c.onDocumentFormatting((p) =>
      this.safely('formatting', [], () => {
        const d = this.doc(p.textDocument.uri);
        if (!d) return [];
        const result = services.formatDocument(d.text, { indent: p.options.tabSize > 0 && p.options.insertSpaces ? Math.min(p.options.tabSize, 8) : 2 });
        if (result.error) c.console.warn(`xbarc: not formatting ${d.path}: ${result.error}`);
        return result.edits;
      }),
    );
    c.onCodeAction((p) =>
      this.safely('codeAction', [], () => {
        const d = this.doc(p.textDocument.uri);
        if (!d) return [];
        return services.codeActions(d.text, d.path, p.range, this.options()).map((a): CodeAction => ({
          title: a.title,
          kind: CodeActionKind.QuickFix,
          isPreferred: a.isPreferred,
          diagnostics: p.context.diagnostics.filter((x) => x.code === a.code && sameRange(x.range, a.diagnosticRange)),
          edit: { changes: { [p.textDocument.uri]: a.edit.edits } },
        }));
      }),
    );
    c.onShutdown(() => this.scheduler.dispose());
    this.documents.listen(c);
    c.listen();
  }

  private options(): ServiceOptions {
    return { host: this.host, generation: this.generation };
  }

  private pathOf(uri: string): string {
    let path: string;
    if (uri.startsWith('file:')) {
      try {
        path = resolvePath(fileURLToPath(uri));
      } catch {
        path = join(process.cwd(), encodeURIComponent(uri));
      }
    } else {
      // Untitled buffers get a path in the working directory, so relative imports still resolve.
      path = join(process.cwd(), encodeURIComponent(uri.replace(/^[a-z]+:/i, '')) + (uri.endsWith('.xbar') ? '' : '.xbar'));
    }
    this.uriOfPath.set(path, uri);
    return path;
  }

  private doc(uri: string): { text: string; path: string } | undefined {
    const d = this.documents.get(uri);
    return d ? { text: d.getText(), path: this.pathOf(uri) } : undefined;
  }

  private toLocation(l: Location): LspLocation {
    return { uri: this.uriOfPath.get(l.path) ?? pathToFileURL(l.path).href, range: l.range };
  }

  private changed(document: TextDocument): void {
    const path = this.pathOf(document.uri);
    this.overlay.set(path, document.getText());
    this.generation++;
    this.scheduler.trigger(document.uri);
    // Open documents that import this one see the new text too.
    for (const [uri, files] of this.loaded) if (uri !== document.uri && files.has(path)) this.scheduler.trigger(uri);
  }

  private closed(uri: string): void {
    const path = this.pathOf(uri);
    this.overlay.delete(path);
    this.generation++;
    this.scheduler.cancel(uri);
    this.loaded.delete(uri);
    void this.connection.sendDiagnostics({ uri, diagnostics: [] });
  }

  private publish(uri: string): void {
    const d = this.doc(uri);
    if (!d) return;
    this.safely('diagnostics', undefined, () => {
      const analysis = services.analyze(d.text, d.path, this.options());
      this.loaded.set(uri, new Set(analysis.result.program.modules.keys()));
      const version = this.documents.get(uri)?.version;
      const diagnostics = services.diagnostics(d.text, d.path, this.options()).map(toDiagnostic);
      void this.connection.sendDiagnostics({ uri, ...(version !== undefined ? { version } : {}), diagnostics });
    });
  }

  /** Run a handler; an exception is logged and answered with `fallback`, never a crash. */
  private safely<T>(what: string, fallback: T, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      this.connection.console.error(`xbarc ${what} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return fallback;
    }
  }
}

function sameRange(a: { start: { line: number; character: number }; end: { line: number; character: number } }, b: typeof a): boolean {
  return a.start.line === b.start.line && a.start.character === b.start.character && a.end.line === b.end.line && a.end.character === b.end.character;
}

const severities: Record<DiagnosticInfo['severity'], DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
};

function toDiagnostic(d: DiagnosticInfo): Diagnostic {
  return { range: d.range, severity: severities[d.severity], code: d.code, source: 'xbarc', message: d.message, ...(d.fix ? { data: d.fix } : {}) };
}

const completionKinds: Record<CompletionEntry['kind'], CompletionItemKind> = {
  keyword: CompletionItemKind.Keyword,
  field: CompletionItemKind.Field,
  unit: CompletionItemKind.Unit,
  enum: CompletionItemKind.EnumMember,
  constructor: CompletionItemKind.Constructor,
  declaration: CompletionItemKind.Class,
  module: CompletionItemKind.Module,
  layer: CompletionItemKind.Variable,
  value: CompletionItemKind.Value,
  operator: CompletionItemKind.Operator,
};

function toCompletionItem(e: CompletionEntry): CompletionItem {
  return {
    label: e.label,
    kind: completionKinds[e.kind],
    ...(e.detail ? { detail: e.detail } : {}),
    ...(e.documentation ? { documentation: { kind: MarkupKind.Markdown, value: e.documentation } } : {}),
    ...(e.sortText ? { sortText: e.sortText } : {}),
    textEdit: { range: e.range, newText: e.insertText ?? e.label },
    ...(e.additionalEdits ? { additionalTextEdits: e.additionalEdits } : {}),
  };
}

const symbolKinds: Record<ServiceSymbolKind, SymbolKind> = {
  device: SymbolKind.Struct,
  crossbar: SymbolKind.Class,
  network: SymbolKind.Function,
  experiment: SymbolKind.Event,
  import: SymbolKind.Module,
  field: SymbolKind.Property,
  block: SymbolKind.Object,
  map: SymbolKind.Operator,
  sweep: SymbolKind.Array,
  layer: SymbolKind.Variable,
  parameter: SymbolKind.TypeParameter,
};

function toDocumentSymbol(s: DocumentSymbolInfo): DocumentSymbol {
  return {
    name: s.name,
    kind: symbolKinds[s.kind],
    ...(s.detail ? { detail: s.detail } : {}),
    range: s.range,
    selectionRange: s.selectionRange,
    children: s.children.map(toDocumentSymbol),
  };
}
