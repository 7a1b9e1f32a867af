/**
 * The language server and special files: a document importing a FIFO or /dev/zero still gets
 * its diagnostics (the server neither blocks nor fills its heap), and a huge garbage buffer gets
 * a bounded list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection, type MessageConnection } from 'vscode-jsonrpc/node.js';
import { packageRoot } from '../../src/compiler/resolve.js';
import { scratchDir } from './helpers.js';

interface Published { uri: string; diagnostics: { code: string; message: string }[] }

function published(conn: MessageConnection, uri: string): Promise<Published> {
  return new Promise((resolveWait, reject) => {
    const timer = setTimeout(() => reject(new Error(`no diagnostics for ${uri} within 20 s`)), 20_000);
    const sub = conn.onNotification('textDocument/publishDiagnostics', (p: Published) => {
      if (p.uri !== uri) return;
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
    await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'xbar', version: 1, text: 'import * from "./z"\nimport * from "./f"\n' } });
    const messages = (await first).diagnostics.map((d) => `${d.code}: ${d.message}`);
    assert.deepEqual(messages, [
      'import-unreadable: cannot import "./z": z.xbar is not a regular file (it is a character device)',
      'import-unreadable: cannot import "./f": f.xbar is not a regular file (it is a FIFO)',
    ]);

    const garbageUri = pathToFileURL(join(dir, 'garbage.xbar')).href;
    const second = published(conn, garbageUri);
    await conn.sendNotification('textDocument/didOpen', { textDocument: { uri: garbageUri, languageId: 'xbar', version: 1, text: '@ } = ( '.repeat(250_000) } });
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
