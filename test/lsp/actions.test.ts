import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { check } from '../../src/compiler/check.js';
import { codeActions, diagnostics } from '../../src/lsp/services/index.js';
import { scratchDir } from './helpers.js';

const path = join(scratchDir(), 'spec.xbar');

test('the unknown-unit kohm fix yields kOhm', () => {
  const text = 'device d {\n  r_on = 100 kohm\n}\n';
  const diags = diagnostics(text, path);
  assert.deepEqual(
    diags.map((d) => d.code),
    ['unknown-unit'],
  );
  const actions = codeActions(text, path, diags[0]!.range);
  assert.equal(actions.length, 1);
  assert.equal(actions[0]!.title, 'Change to kOhm');
  assert.equal(actions[0]!.edit.path, path);
  const [edit] = actions[0]!.edit.edits;
  assert.deepEqual(edit, { range: { start: { line: 1, character: 13 }, end: { line: 1, character: 17 } }, newText: 'kOhm' });
  const lines = text.split('\n');
  lines[1] = lines[1]!.slice(0, 13) + edit!.newText + lines[1]!.slice(17);
  assert.deepEqual(diagnostics(lines.join('\n'), path), [], 'applying the fix clears the error');
});

test('did-you-mean fixes for fields, options and names; none outside the range', () => {
  const text = 'import { TaOx_HfOx } from "std/devices"\ncrossbar c {\n  devise = TaOx_HfOx\n  mapping = diferential\n}\n';
  const diags = diagnostics(text, path);
  const titles = diags.map((d) => d.fix?.title);
  assert.ok(titles.includes('Change to device'));
  assert.ok(titles.includes('Change to differential'));
  const onMapping = codeActions(text, path, { start: { line: 3, character: 14 }, end: { line: 3, character: 14 } });
  assert.deepEqual(
    onMapping.map((a) => a.title),
    ['Change to differential'],
  );
  assert.deepEqual(codeActions(text, path, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }), []);
});

test('diagnostics carry the same codes and messages as xbarc check', () => {
  const text = 'device d {\n  r_on = 100 kohm\n  levels = 1\n  on_off = 0.5\n}\ncrossbar c { device = dd }\n';
  const fromCheck = check(path, { text })
    .diagnostics.filter((d) => d.file === path)
    .map((d) => `${d.code}: ${d.message} @${d.span.line}:${d.span.col}`);
  const fromService = diagnostics(text, path).map((d) => `${d.code}: ${d.message} @${d.range.start.line + 1}:${d.range.start.character + 1}`);
  assert.deepEqual(fromService, fromCheck);
  assert.ok(fromService.length >= 3);
});
