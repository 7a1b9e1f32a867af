/**
 * Stress: 1,000 random edits (inserts and deletes anywhere, seeded) to a real spec, with a
 * request after each (hover, completion, symbols, definition, formatting, diagnostics — rotating).
 * Nothing may throw and every request must be answered with well-formed data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Rng } from '../../src/runtime/rng.js';
import { completion, definition, diagnostics, documentSymbols, formatDocument, hover, lineIndex } from '../../src/lsp/services/index.js';
import { scratchDir, TXSIM_SPEC } from './helpers.js';

const SNIPPETS = [
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  '=',
  ',',
  ';',
  '.',
  '..',
  '->',
  '*',
  '%',
  ' ',
  '\n',
  '"',
  '//',
  '/*',
  '*/',
  'x',
  '-',
  '100 kOhm',
  'map ',
  'sweep ',
  'device ',
  'crossbar c ',
  'network N',
  'levels',
  'adc = {',
  'nonlinear(',
  'import { ',
  'from "std/devices"',
  'LeNet5',
  'rram',
  'fc3',
  '3 %',
  'in [1, 2]',
  'by',
  'zip(',
  '1e3',
  'true',
  '"s"',
];

const path = join(scratchDir(), 'stress.xbar');

test('1,000 random edits, each followed by a request: no crash, every request answered', { timeout: 120_000 }, () => {
  const rng = new Rng(20240611, 'lsp/stress');
  let text = TXSIM_SPEC;
  const answered: Record<string, number> = {};
  const kinds = ['hover', 'completion', 'symbols', 'definition', 'completion', 'hover', 'format', 'diagnostics'] as const;
  const t0 = performance.now();
  for (let i = 0; i < 1000; i++) {
    const at = rng.int(text.length + 1);
    if (rng.uniform() < 0.55 || text.length < 200) {
      const piece = rng.uniform() < 0.7 ? SNIPPETS[rng.int(SNIPPETS.length)]! : String.fromCharCode(32 + rng.int(95));
      text = text.slice(0, at) + piece + text.slice(at);
    } else {
      text = text.slice(0, at) + text.slice(Math.min(text.length, at + 1 + rng.int(4)));
    }
    const position = lineIndex(text).positionAt(rng.int(text.length + 1));
    const kind = kinds[i % kinds.length]!;
    let ok: boolean;
    switch (kind) {
      case 'hover': {
        const h = hover(text, path, position);
        ok = h === null || (typeof h.contents === 'string' && h.contents.length > 0);
        break;
      }
      case 'completion':
        ok = completion(text, path, position).every((e) => typeof e.label === 'string' && e.range.start.line >= 0);
        break;
      case 'symbols':
        ok = Array.isArray(documentSymbols(text, path));
        break;
      case 'definition':
        ok = definition(text, path, position).every((l) => typeof l.path === 'string');
        break;
      case 'format': {
        const f = formatDocument(text);
        ok = Array.isArray(f.edits) && (f.edits.length === 0 || typeof f.edits[0]!.newText === 'string');
        break;
      }
      case 'diagnostics':
        ok = diagnostics(text, path).every((d) => typeof d.code === 'string');
        break;
    }
    assert.ok(ok, `request ${i} (${kind}) answered malformed data`);
    answered[kind] = (answered[kind] ?? 0) + 1;
  }
  const total = Object.values(answered).reduce((s, n) => s + n, 0);
  assert.equal(total, 1000);
  assert.ok(performance.now() - t0 < 60_000, 'well within the time budget');
});
