/**
 * Limits on how much a broken file can cost: syntax errors stop after MAX_SYNTAX_ERRORS (and the
 * lexer's head shortcut must lex exactly as the whole text would up to its cut), and each file
 * shows at most MAX_DIAGNOSTICS_PER_FILE diagnostics, then one saying how many more there are.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SYNTAX_ERRORS, lexSafeCut } from '../../grammar/error-budget.js';
import { parseText } from '../../grammar/parser.js';
import { xbarLexer } from '../../grammar/tokens.js';
import { check } from '../../src/compiler/check.js';
import { MAX_DIAGNOSTICS_PER_FILE, limitPerFile, type Diagnostic } from '../../src/compiler/diagnostics.js';
import { Rng } from '../../src/runtime/rng.js';

/** Tokens and errors that start before `end`, as comparable strings. */
function lexedBefore(text: string, end: number): string[] {
  const lexed = xbarLexer.tokenize(text);
  const tokens = [...lexed.tokens, ...((lexed.groups['comments'] ?? []) as typeof lexed.tokens)]
    .filter((t) => t.startOffset < end)
    .map((t) => `${t.startOffset} ${t.tokenType.name} ${JSON.stringify(t.image)}`);
  const errors = lexed.errors.filter((e) => e.offset < end).map((e) => `${e.offset} error ${e.length}`);
  return [...tokens, ...errors].sort();
}

test("lexSafeCut: lexing the head gives exactly the whole text's tokens and errors before the cut", () => {
  const pieces = [
    '"a b"',
    '"open ',
    '"esc \\" q"',
    '"bs \\',
    '// c "d" e',
    '/* f g */',
    '/*',
    '*/',
    '@',
    '#',
    ' ',
    '  ',
    '\n',
    '\r\n',
    '\t',
    'x',
    'device',
    '12.5',
    'kOhm',
    '=',
    '{',
    '}',
    '\\',
    '\u2028',
    '/',
    '*',
  ];
  const rng = new Rng(7, 'test/lex-safe-cut');
  let checked = 0;
  for (let n = 0; n < 400; n++) {
    let text = '';
    const len = 5 + Math.floor(rng.uniform() * 60);
    for (let i = 0; i < len; i++) text += pieces[Math.floor(rng.uniform() * pieces.length)]!;
    const limit = Math.floor(rng.uniform() * text.length);
    const cut = lexSafeCut(text, limit);
    assert.ok(cut < limit || (cut === -1 && limit === 0), `cut ${cut} within the limit ${limit}`);
    if (cut <= 0) continue;
    checked++;
    assert.deepEqual(lexedBefore(text.slice(0, cut), cut), lexedBefore(text, cut), `text ${JSON.stringify(text)}, cut at ${cut}`);
  }
  assert.ok(checked > 150, `only ${checked} texts had a cut`);
});

test('parseText stops after the syntax-error budget and says where', () => {
  const text = 'device d {\n  levels = = 4\n}\n'.repeat(300);
  const out = parseText(text);
  assert.ok(out.parseErrors.length <= MAX_SYNTAX_ERRORS, `${out.parseErrors.length} parse errors`);
  assert.ok(out.parseErrors.length >= MAX_SYNTAX_ERRORS - 5, 'the budget is used, not thrown away');
  assert.ok(out.stoppedAt, 'stoppedAt is set');
  assert.ok(
    out.parseErrors.every((e) => e.token.startOffset < out.stoppedAt!.offset),
    'nothing reported past the stop',
  );
  const result = check('/virtual/broken.xbar', { text });
  const last = result.diagnostics[result.diagnostics.length - 1]!;
  assert.equal(last.code, 'syntax-error');
  assert.match(last.message, /too many syntax errors \(more than 100\); the rest of the file is not checked/);
  assert.equal(last.span.line, out.stoppedAt.line);
  // A file within the budget is parsed whole, as before.
  const fine = parseText('device d {\n  levels = = 4\n}\n'.repeat(20));
  assert.equal(fine.stoppedAt, undefined);
  assert.equal(fine.parseErrors.length, 20);
});

test('limitPerFile: the first diagnostics of a file over the limit, then how many more; other files untouched', () => {
  const span = (k: number) => ({ start: k, end: k + 1, line: 1, col: k + 1, endLine: 1, endCol: k + 2 });
  const diag = (file: string, k: number): Diagnostic => ({ code: 'type-mismatch', severity: 'error', message: `m${k}`, file, span: span(k) });
  const items = [...Array.from({ length: 205 }, (_, k) => diag('a.xbar', k)), ...Array.from({ length: 3 }, (_, k) => diag('b.xbar', k))];
  const out = limitPerFile(items);
  assert.equal(out.filter((d) => d.file === 'a.xbar').length, MAX_DIAGNOSTICS_PER_FILE + 1);
  assert.equal(out.filter((d) => d.file === 'b.xbar').length, 3);
  const note = out.find((d) => d.code === 'too-many-diagnostics')!;
  assert.equal(note.message, '5 more diagnostics in this file are not shown (the first 200 are)');
  assert.deepEqual(note.span, span(200), 'located at the first one left out');
  assert.equal(limitPerFile(items.slice(0, 200)).length, 200, 'at the limit nothing changes');
});
