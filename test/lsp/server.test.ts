/**
 * A real client: spawn `node bin/xbarc.js lsp --stdio` and talk to it over stdio with
 * vscode-jsonrpc, as an editor would. Also checks that stdout carried nothing but protocol frames.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  IPCMessageReader,
  IPCMessageWriter,
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
  type MessageConnection,
} from 'vscode-jsonrpc/node.js';
import { packageRoot } from '../../src/compiler/resolve.js';
import { positionOf, scratchDir } from './helpers.js';

interface PublishParams {
  uri: string;
  version?: number;
  diagnostics: { code: string; message: string; range: unknown; severity: number }[];
}

/** Split raw stdout into LSP frames; throws on anything that is not a frame. */
export function parseFrames(raw: Buffer): unknown[] {
  const out: unknown[] = [];
  let at = 0;
  while (at < raw.length) {
    const headerEnd = raw.indexOf('\r\n\r\n', at);
    if (headerEnd < 0) throw new Error(`stray bytes on stdout: ${JSON.stringify(raw.subarray(at, at + 80).toString())}`);
    const header = raw.subarray(at, headerEnd).toString('ascii');
    const length = /^Content-Length: (\d+)$/im.exec(header)?.[1];
    if (!length || !/^(Content-(Length|Type): [^\r\n]+(\r\n)?)+$/.test(header)) throw new Error(`not an LSP header: ${JSON.stringify(header.slice(0, 80))}`);
    const body = raw.subarray(headerEnd + 4, headerEnd + 4 + Number(length));
    out.push(JSON.parse(body.toString('utf8')));
    at = headerEnd + 4 + Number(length);
  }
  return out;
}

/** Wait for the first notification matching `pred`. */
function nextDiagnostics(conn: MessageConnection, uri: string, pred: (p: PublishParams) => boolean = () => true): Promise<PublishParams> {
  return new Promise((resolveWait, reject) => {
    const timer = setTimeout(() => reject(new Error('no publishDiagnostics within 10 s')), 10_000);
    const disposable = conn.onNotification('textDocument/publishDiagnostics', (p: PublishParams) => {
      if (p.uri !== uri || !pred(p)) return;
      clearTimeout(timer);
      disposable.dispose();
      resolveWait(p);
    });
  });
}

test('a real client: initialize, diagnostics, hover, completion, definition, formatting, shutdown, exit', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, [join(packageRoot, 'bin', 'xbarc.js'), 'lsp', '--stdio'], { cwd: packageRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  const raw: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => raw.push(b));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  conn.listen();

  const file = join(scratchDir(), 'spec.xbar');
  const uri = pathToFileURL(file).href;
  const text = 'import { TaOx_HfOx } from "std/devices"\n\ndevice rram = TaOx_HfOx {\n  r_on = 100 kohm\n}\ncrossbar xb {\n  device = rram\n  mapping = \n}\n';

  const init = (await conn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} })) as { capabilities: Record<string, unknown> };
  assert.equal(init.capabilities['hoverProvider'], true);
  assert.equal(init.capabilities['documentFormattingProvider'], true);
  await conn.sendNotification('initialized', {});

  const first = nextDiagnostics(conn, uri);
  await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'xbar', version: 1, text } });
  const published = await first;
  assert.ok(
    published.diagnostics.some((d) => d.code === 'unknown-unit' && /did you mean kOhm/.test(d.message)),
    JSON.stringify(published.diagnostics),
  );

  const hover = (await conn.sendRequest('textDocument/hover', { textDocument: { uri }, position: positionOf(text, 'r_on', 1) })) as {
    contents: { kind: string; value: string };
  } | null;
  assert.match(hover?.contents.value ?? '', /\*\*r_on\*\*/);
  assert.equal(hover?.contents.kind, 'markdown');

  const items = (await conn.sendRequest('textDocument/completion', {
    textDocument: { uri },
    position: positionOf(text, 'mapping = ', 'mapping = '.length),
  })) as { label: string }[];
  assert.deepEqual(
    items.map((i) => i.label),
    ['differential', 'offset'],
  );

  const defs = (await conn.sendRequest('textDocument/definition', { textDocument: { uri }, position: positionOf(text, 'TaOx_HfOx {', 2) })) as {
    uri: string;
  }[];
  assert.ok(defs[0]?.uri.endsWith('/stdlib/devices.xbar'), JSON.stringify(defs));

  const actions = (await conn.sendRequest('textDocument/codeAction', {
    textDocument: { uri },
    range: { start: positionOf(text, 'kohm', 1), end: positionOf(text, 'kohm', 1) },
    context: { diagnostics: published.diagnostics },
  })) as { title: string; edit: { changes: Record<string, { newText: string }[]> } }[];
  assert.equal(actions[0]?.title, 'Change to kOhm');
  assert.equal(actions[0]?.edit.changes[uri]?.[0]?.newText, 'kOhm');

  // Fix the document: the next diagnostics no longer have the unit error.
  const fixed = text.replace('kohm', 'kOhm').replace('mapping = \n', 'mapping = offset\n');
  const second = nextDiagnostics(conn, uri, (p) => p.version === 2);
  await conn.sendNotification('textDocument/didChange', { textDocument: { uri, version: 2 }, contentChanges: [{ text: fixed }] });
  assert.deepEqual((await second).diagnostics, []);

  const edits = (await conn.sendRequest('textDocument/formatting', { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } })) as {
    newText: string;
  }[];
  assert.equal(edits.length, 1);
  assert.match(edits[0]!.newText, /device {2}= rram\n {2}mapping = offset/);

  const symbols = (await conn.sendRequest('textDocument/documentSymbol', { textDocument: { uri } })) as { name: string }[];
  assert.deepEqual(
    symbols.map((s) => s.name),
    ['import TaOx_HfOx', 'rram', 'xb'],
  );

  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  const code = await exited;
  conn.dispose();
  assert.equal(code, 0, `exit code (stderr: ${stderr})`);
  const frames = parseFrames(Buffer.concat(raw));
  assert.ok(frames.length >= 10, `${frames.length} frames`);
  for (const f of frames) assert.equal((f as { jsonrpc?: string }).jsonrpc, '2.0');
});

test('--node-ipc: the server answers over the IPC channel of a forked process', { timeout: 30_000 }, async () => {
  const child = fork(join(packageRoot, 'bin', 'xbarc.js'), ['lsp', '--node-ipc'], { cwd: packageRoot, stdio: ['pipe', 'pipe', 'pipe', 'ipc'] });
  let stdout = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const conn = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
  conn.listen();
  const init = (await conn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} })) as { capabilities: Record<string, unknown> };
  assert.equal(init.capabilities['definitionProvider'], true);
  const text = 'device d {\n  levels = 4\n}\n';
  const uri = pathToFileURL(join(scratchDir(), 'ipc.xbar')).href;
  await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'xbar', version: 1, text } });
  const h = (await conn.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line: 1, character: 3 } })) as { contents: { value: string } };
  assert.match(h.contents.value, /\*\*levels\*\*/);
  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  assert.equal(await exited, 0);
  conn.dispose();
  assert.equal(stdout, '', 'nothing on stdout in IPC mode');
});
