/**
 * The language server and special files: a document importing a FIFO or /dev/zero still gets
 * its diagnostics (the server neither blocks nor fills its heap), and a huge garbage buffer gets
 * a bounded list. On a workspace of hostile files (test/support/hostile-workspace.ts) the server
 * keeps answering every request within a time bound, and its peak memory stays bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection, type MessageConnection } from 'vscode-jsonrpc/node.js';
import { packageRoot } from '../../src/compiler/resolve.js';
import { positionOf, scratchDir } from './helpers.js';
import { hostileWorkspace } from '../support/hostile-workspace.js';

interface Published {
  uri: string;
  version?: number;
  diagnostics: { code: string; message: string; range: { start: { line: number } } }[];
}

function published(conn: MessageConnection, uri: string, pred: (p: Published) => boolean = () => true): Promise<Published> {
  return new Promise((resolveWait, reject) => {
    const timer = setTimeout(() => reject(new Error(`no diagnostics for ${uri} within 20 s`)), 20_000);
    const sub = conn.onNotification('textDocument/publishDiagnostics', (p: Published) => {
      if (p.uri !== uri || !pred(p)) return;
      clearTimeout(timer);
      sub.dispose();
      resolveWait(p);
    });
  });
}

test('the language server: imports of a FIFO and of /dev/zero are diagnosed; garbage gets a bounded list', { timeout: 60_000 }, async () => {
  const dir = scratchDir();
  assert.equal(spawnSync('mkfifo', [join(dir, 'f.xbar')]).status, 0, 'mkfifo');
  symlinkSync('/dev/zero', join(dir, 'z.xbar'));
  const child = spawn(process.execPath, [join(packageRoot, 'bin', 'xbarc.js'), 'lsp', '--stdio'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  conn.listen();
  try {
    await conn.sendRequest('initialize', { processId: process.pid, rootUri: pathToFileURL(dir).href, capabilities: {} });
    await conn.sendNotification('initialized', {});

    const uri = pathToFileURL(join(dir, 'spec.xbar')).href;
    const first = published(conn, uri);
    await conn.sendNotification('textDocument/didOpen', {
      textDocument: { uri, languageId: 'xbar', version: 1, text: 'import * from "./z"\nimport * from "./f"\n' },
    });
    const messages = (await first).diagnostics.map((d) => `${d.code}: ${d.message}`);
    assert.deepEqual(messages, [
      'import-unreadable: cannot import "./z": z.xbar is not a regular file (it is a character device)',
      'import-unreadable: cannot import "./f": f.xbar is not a regular file (it is a FIFO)',
    ]);

    const garbageUri = pathToFileURL(join(dir, 'garbage.xbar')).href;
    const second = published(conn, garbageUri);
    await conn.sendNotification('textDocument/didOpen', {
      textDocument: { uri: garbageUri, languageId: 'xbar', version: 1, text: '@ } = ( '.repeat(250_000) },
    });
    const garbage = (await second).diagnostics;
    assert.ok(garbage.length <= 101, `${garbage.length} diagnostics`);
    assert.match(garbage[garbage.length - 1]!.message, /the rest of the file is not checked/);

    await conn.sendRequest('shutdown');
    await conn.sendNotification('exit');
    assert.equal(await exited, 0);
  } finally {
    conn.dispose();
    child.kill();
  }
});

/** Generous, so a loaded machine does not fail it, yet far below a hang. */
const ANSWER_LIMIT_MS = 10_000;
/** Peak resident memory of the server process; a node process idles near 100 MB. */
const PEAK_RSS_LIMIT = 1024 * 2 ** 20;

/** Peak resident set size of a process in bytes (Linux /proc), or undefined where there is none. */
function peakRss(pid: number): number | undefined {
  const status = `/proc/${pid}/status`;
  if (!existsSync(status)) return undefined;
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(status, 'utf8'))?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

async function timed<T>(what: string, work: Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await work;
  const ms = performance.now() - t0;
  assert.ok(ms < ANSWER_LIMIT_MS, `${what} took ${ms.toFixed(0)} ms`);
  return out;
}

test('the language server on a workspace of hostile files keeps answering, and its peak memory stays bounded', { timeout: 60_000 }, async (t) => {
  const w = hostileWorkspace();
  const child = spawn(process.execPath, [join(packageRoot, 'bin', 'xbarc.js'), 'lsp', '--stdio'], { cwd: w.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  // A handler that throws is answered with a fallback and logged here ("xbarc hover failed: …").
  const logged: string[] = [];
  conn.onNotification('window/logMessage', (p: { message: string }) => logged.push(p.message));
  conn.listen();
  try {
    await conn.sendRequest('initialize', {
      processId: process.pid,
      rootUri: pathToFileURL(w.dir).href,
      workspaceFolders: [{ uri: pathToFileURL(w.dir).href, name: 'hostile' }],
      capabilities: {},
    });
    await conn.sendNotification('initialized', {});

    // spec.xbar imports every hostile file: each unreadable import is diagnosed at its own line.
    const uri = pathToFileURL(w.spec).href;
    const first = published(conn, uri);
    await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'xbar', version: 1, text: w.specText } });
    const diagnostics = (await timed('diagnostics of spec.xbar', first)).diagnostics;
    w.files.forEach((f, i) => {
      if (!f.atImport) return;
      const at = diagnostics.filter((d) => d.range.start.line === i).map((d) => `${d.code}: ${d.message}`);
      assert.equal(at.length, 1, `${f.what}: ${JSON.stringify(at)}`);
      assert.match(at[0]!, f.atImport, f.what);
    });

    // Requests that read the workspace: hover, import-path completion (lists the folder), name
    // completion from an import of /dev/urandom and of the FIFO (loads them), definition.
    const hover = (await timed('hover', conn.sendRequest('textDocument/hover', { textDocument: { uri }, position: positionOf(w.specText, 'levels', 1) }))) as {
      contents: { value: string };
    } | null;
    assert.match(hover?.contents.value ?? '', /levels/);
    const modules = (await timed(
      'import completion',
      conn.sendRequest('textDocument/completion', { textDocument: { uri }, position: positionOf(w.specText, '"./z"', 3) }),
    )) as { label: string }[];
    assert.ok(
      modules.some((m) => m.label === './bin'),
      JSON.stringify(modules.map((m) => m.label)),
    );
    const namesText = 'import {  } from "./u"\nimport {  } from "./x"\nimport {  } from "./y"\n';
    const namesUri = pathToFileURL(join(w.dir, 'names.xbar')).href;
    const namesPublished = published(conn, namesUri);
    await conn.sendNotification('textDocument/didOpen', { textDocument: { uri: namesUri, languageId: 'xbar', version: 1, text: namesText } });
    await timed('diagnostics of names.xbar', namesPublished);
    for (const line of [0, 1, 2]) {
      const items = await timed(
        `name completion on line ${line + 1}`,
        conn.sendRequest('textDocument/completion', { textDocument: { uri: namesUri }, position: { line, character: 8 } }),
      );
      assert.ok(Array.isArray(items));
    }
    await timed('definition', conn.sendRequest('textDocument/definition', { textDocument: { uri }, position: positionOf(w.specText, '"./u"', 2) }));

    // The hostile files that are regular opened as buffers, as an editor would: bounded diagnostics.
    for (const stem of ['bin', 'big', 'deep']) {
      const fileUri = pathToFileURL(join(w.dir, `${stem}.xbar`)).href;
      const opened = published(conn, fileUri);
      await conn.sendNotification('textDocument/didOpen', {
        textDocument: { uri: fileUri, languageId: 'xbar', version: 1, text: readFileSync(join(w.dir, `${stem}.xbar`), 'utf8') },
      });
      const own = (await timed(`diagnostics of ${stem}.xbar`, opened)).diagnostics;
      assert.ok(own.length >= 1 && own.length <= 101, `${stem}.xbar: ${own.length} diagnostics`);
    }

    // After all that, a round trip still works: an edit is re-checked and hover answers.
    const edited = `${w.specText}device e { r_on = 10 kohm }\n`;
    const second = published(conn, uri, (p) => p.version === 2);
    await conn.sendNotification('textDocument/didChange', { textDocument: { uri, version: 2 }, contentChanges: [{ text: edited }] });
    const after = (await timed('diagnostics after an edit', second)).diagnostics;
    assert.ok(
      after.some((d) => d.code === 'unknown-unit'),
      JSON.stringify(after),
    );
    const again = (await timed(
      'hover after an edit',
      conn.sendRequest('textDocument/hover', { textDocument: { uri }, position: positionOf(edited, 'r_on', 1) }),
    )) as { contents: { value: string } } | null;
    assert.match(again?.contents.value ?? '', /r_on/);

    const peak = child.pid !== undefined ? peakRss(child.pid) : undefined;
    if (peak !== undefined) {
      t.diagnostic(`server peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
      assert.ok(peak < PEAK_RSS_LIMIT, `server peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
    }
    assert.deepEqual(
      logged.filter((m) => / failed: /.test(m)),
      [],
      `stderr: ${stderr}`,
    );

    await conn.sendRequest('shutdown');
    await conn.sendNotification('exit');
    assert.equal(await exited, 0);
  } finally {
    conn.dispose();
    child.kill();
    w.cleanup();
  }
});
