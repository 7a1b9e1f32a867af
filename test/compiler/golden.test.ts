/**
 * Golden diagnostics: every folder in test/fixtures/ is checked and its diagnostics compared with
 * its expected.txt (regenerate with `npm run goldens`, then review `git diff test/fixtures`).
 * Also: every registry code that check() can emit has a fixture; every span is well formed and
 * agrees with the text; every did-you-mean fix, applied, removes its diagnostic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { check } from '../../src/compiler/check.js';
import { diagnosticCodes, type Diagnostic, type DiagnosticCode } from '../../src/compiler/diagnostics.js';
import { FileSystemHost } from '../../src/compiler/resolve.js';
import { listFixtures, readExpected, runFixture, type Fixture } from '../tools/goldens.js';
import { lineColAt } from '../../src/lsp/services/positions.js';

/**
 * Codes that check() cannot emit, so no golden fixture can show them:
 * - memory-exceeded: reported by the planner (lowering), from the plan's memory estimate against
 *   the machine's memory, after check() has succeeded.
 * - no-experiment: reported by `xbarc run` when the file declares no experiment; a file without
 *   experiments is valid input for check() (a library of devices, crossbars, networks).
 */
const notFromCheck: Partial<Record<DiagnosticCode, string>> = {
  'memory-exceeded': 'planner (lower) only: compares the plan memory estimate with the machine',
  'no-experiment': '`xbarc run` only: a file without experiments checks clean',
};

const fixtures = listFixtures();

function diffMessage(f: Fixture, expected: string[], actual: string[]): string {
  const missing = expected.filter((l) => !actual.includes(l));
  const extra = actual.filter((l) => !expected.includes(l));
  const lines = [`diagnostics of test/fixtures/${f.name}/input.xbar differ from expected.txt`];
  for (const l of missing) lines.push(`  - ${l}`);
  for (const l of extra) lines.push(`  + ${l}`);
  if (missing.length === 0 && extra.length === 0) lines.push('  (same lines, different order)', ...actual.map((l) => `    ${l}`));
  lines.push('  (- expected only, + actual only; if the change is intended run `npm run goldens` and review git diff test/fixtures)');
  return lines.join('\n');
}

test('there are golden fixtures', () => {
  assert.ok(fixtures.length >= 50, `only ${fixtures.length} fixtures found under test/fixtures`);
});

for (const f of fixtures) {
  test(`golden: ${f.name}`, () => {
    const expected = readExpected(f);
    assert.ok(expected !== undefined, `test/fixtures/${f.name}/expected.txt is missing; run \`npm run goldens\``);
    const actual = runFixture(f).lines;
    assert.ok(JSON.stringify(actual) === JSON.stringify(expected), diffMessage(f, expected, actual));
  });
}

test('every diagnostic code check() can emit has a golden fixture', () => {
  const seen = new Set<string>();
  for (const f of fixtures) {
    for (const line of readExpected(f) ?? []) {
      const m = / (?:error|warning|info) ([a-z-]+): /.exec(line);
      if (m) seen.add(m[1]!);
    }
  }
  const codes = Object.keys(diagnosticCodes) as DiagnosticCode[];
  for (const code of Object.keys(notFromCheck)) assert.ok(codes.includes(code as DiagnosticCode), `excluded code ${code} is not in the registry`);
  const missing = codes.filter((c) => !(c in notFromCheck) && !seen.has(c));
  assert.deepEqual(missing, [], `codes with no fixture in test/fixtures (add one named after the code): ${missing.join(', ')}`);
  const unknown = [...seen].filter((c) => !codes.includes(c as DiagnosticCode));
  assert.deepEqual(unknown, [], 'expected.txt files name codes that are not in the registry');
  for (const code of Object.keys(notFromCheck)) assert.ok(!seen.has(code), `${code} is excluded as not emitted by check(), yet a fixture shows it`);
  for (const c of codes)
    if (!(c in notFromCheck))
      assert.ok(
        fixtures.some((f) => f.name === c || f.name.startsWith(`${c}-`)),
        `no fixture folder is named after ${c}`,
      );
});

test('every diagnostic has a well-formed span that agrees with its file', () => {
  const problems: string[] = [];
  for (const f of fixtures) {
    const { result, lines } = runFixture(f);
    result.diagnostics.forEach((d: Diagnostic, i) => {
      const s = d.span;
      const where = `${f.name}: ${lines[i]}`;
      if (!(s.line >= 1 && s.col >= 1 && s.endLine >= 1 && s.endCol >= 1)) problems.push(`${where}: line/col below 1`);
      if (!(s.endLine > s.line || (s.endLine === s.line && s.endCol >= s.col))) problems.push(`${where}: end before start`);
      if (!(s.start >= 0 && s.end >= s.start)) problems.push(`${where}: offsets ${s.start}..${s.end}`);
      if (d.file.startsWith('<')) return;
      const text = result.program.modules.get(d.file)?.parsed.text ?? readFileSync(d.file, 'utf8');
      if (s.end > text.length) problems.push(`${where}: end offset ${s.end} past the end of the text (${text.length})`);
      const a = lineColAt(text, s.start);
      const b = lineColAt(text, s.end);
      if (a.line !== s.line || a.col !== s.col) problems.push(`${where}: offset ${s.start} is ${a.line}:${a.col}, span says ${s.line}:${s.col}`);
      if (b.line !== s.endLine || b.col !== s.endCol) problems.push(`${where}: offset ${s.end} is ${b.line}:${b.col}, span says ${s.endLine}:${s.endCol}`);
    });
  }
  assert.deepEqual(problems, []);
});

test('every fix, applied, removes its diagnostic', () => {
  let applied = 0;
  const problems: string[] = [];
  for (const f of fixtures) {
    const { result, lines } = runFixture(f);
    result.diagnostics.forEach((d: Diagnostic, i) => {
      if (!d.fix) return;
      const fix = d.fix;
      const where = `${f.name}: ${lines[i]}`;
      let sets = f.sets;
      const overlay = new Map<string, string>();
      if (fix.file.startsWith('<--set> ')) {
        // A fix in a --set value: rewrite that value.
        const path = fix.file.slice('<--set> '.length);
        sets = f.sets.map((s) => {
          const eq = s.indexOf('=');
          if (s.slice(0, eq).trim() !== path) return s;
          const value = s.slice(eq + 1);
          return `${s.slice(0, eq + 1)}${value.slice(0, fix.span.start)}${fix.newText}${value.slice(fix.span.end)}`;
        });
        assert.notDeepEqual(sets, f.sets, `${where}: no --set value for ${path}`);
      } else {
        const text = result.program.modules.get(fix.file)?.parsed.text ?? readFileSync(fix.file, 'utf8');
        overlay.set(fix.file, text.slice(0, fix.span.start) + fix.newText + text.slice(fix.span.end));
      }
      const after = check(f.input, { host: new FileSystemHost(overlay), ...(sets.length ? { sets } : {}) });
      const still = after.diagnostics.filter((x) => x.code === d.code && x.file === d.file && x.span.start === d.span.start);
      if (still.length > 0) problems.push(`${where}: after "${fix.title}" still reports ${still.map((x) => x.message).join('; ')}`);
      applied++;
    });
  }
  assert.deepEqual(problems, []);
  assert.ok(applied >= 10, `only ${applied} fixes were exercised by the fixtures`);
});
