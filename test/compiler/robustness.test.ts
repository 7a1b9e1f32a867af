/**
 * Robustness: `check` must never throw or hang on any text. Every stdlib and experiments file is
 * mutated thousands of times in total (characters and real tokens deleted, inserted, swapped,
 * duplicated; the text truncated), deterministically from named seeded streams, and each
 * mutated text must check to an array of diagnostics with valid spans within the text.
 * A failure prints the mutation and the mutated text, so it can be replayed with
 * `xbarc check` or `check(path, { text })`. Hostile files on disk (devices, a FIFO, a directory,
 * link loops, files over the size cap, binary bytes, deep nesting), imported or checked as the
 * root, must give located diagnostics within a time bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { check } from '../../src/compiler/check.js';
import { diagnosticCodes, type Diagnostic } from '../../src/compiler/diagnostics.js';
import { packageRoot } from '../../src/compiler/resolve.js';
import { allTokens, keywordTokens, keywordWord, xbarLexer } from '../../grammar/tokens.js';
import { unitNames } from '../../src/compiler/units.js';
import { Rng } from '../../src/runtime/rng.js';
import { lineColAt } from '../../src/lsp/services/positions.js';
import { hostileWorkspace } from '../support/hostile-workspace.js';

/** Mutations per file; 8 files × 400 ≈ 3,200 checks. XBARC_FUZZ_COUNT / XBARC_FUZZ_SEED explore further. */
const MUTATIONS_PER_FILE = Number(process.env['XBARC_FUZZ_COUNT'] ?? 400);
const SEED = Number(process.env['XBARC_FUZZ_SEED'] ?? 20240601);
const PER_CALL_LIMIT_MS = 2000;
/** One check of a workspace of hostile files: generous, so a loaded machine does not fail it, yet far below a hang. */
const HOSTILE_LIMIT_MS = 10_000;

const specFiles = ['stdlib', 'experiments'].flatMap((dir) =>
  readdirSync(join(packageRoot, dir))
    .filter((f) => f.endsWith('.xbar'))
    .sort()
    .map((f) => ({ name: `${dir}/${f}`, path: join(packageRoot, dir, f) })),
);

interface Piece {
  start: number;
  end: number;
  image: string;
}

/** Tokens of a text (comments included) as source ranges. */
function pieces(text: string): Piece[] {
  const lexed = xbarLexer.tokenize(text);
  const toks = [...lexed.tokens, ...((lexed.groups['comments'] ?? []) as typeof lexed.tokens)];
  return toks.map((t) => ({ start: t.startOffset, end: (t.endOffset ?? t.startOffset) + 1, image: t.image })).sort((a, b) => a.start - b.start);
}

/** The real token vocabulary: every token image in the spec files, every keyword and unit, and the fixed punctuation. */
function vocabulary(): string[] {
  const words = new Set<string>();
  for (const f of specFiles) for (const p of pieces(readFileSync(f.path, 'utf8'))) if (p.image.length < 40) words.add(p.image);
  for (const k of keywordTokens) words.add(keywordWord(k));
  for (const u of unitNames) words.add(u);
  for (const t of allTokens) {
    const label = t.LABEL;
    if (label && /^'.+'$/.test(label)) words.add(label.slice(1, -1));
  }
  for (const extra of [
    '"',
    '/*',
    '*/',
    '//',
    '×',
    '\n',
    '0',
    '-1',
    '1e309',
    '1e-400',
    '0.0',
    '"std/',
    'import * from "std/networks"',
    'network N { }',
    'block b {',
    'shortcut {',
    '@',
    '#',
    '\u00a0',
    '\r\n',
  ])
    words.add(extra);
  return [...words].sort();
}

const ASCII = ' \n\t{}[]()=,;.*/+-%"x0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_->';

function mutate(text: string, rng: Rng, vocab: string[]): { text: string; what: string } {
  const kind = rng.int(9);
  const at = (n: number): number => rng.int(Math.max(1, n));
  if (text.length === 0) return { text: vocab[at(vocab.length)]!, what: 'insert into empty' };
  switch (kind) {
    case 0: {
      const i = at(text.length);
      return { text: text.slice(0, i) + text.slice(i + 1), what: `delete char at ${i}` };
    }
    case 1: {
      const i = at(text.length + 1);
      const c = ASCII[at(ASCII.length)]!;
      return { text: text.slice(0, i) + c + text.slice(i), what: `insert char ${JSON.stringify(c)} at ${i}` };
    }
    case 2: {
      const i = at(text.length - 1);
      return { text: text.slice(0, i) + text[i + 1]! + text[i]! + text.slice(i + 2), what: `swap chars at ${i}` };
    }
    case 3: {
      const i = at(text.length);
      return { text: text.slice(0, i) + text[i]! + text.slice(i), what: `duplicate char at ${i}` };
    }
    case 8: {
      const i = at(text.length);
      return { text: text.slice(0, i), what: `truncate at ${i}` };
    }
    default: {
      const ps = pieces(text);
      if (ps.length < 2) return { text: text.slice(0, at(text.length)), what: 'truncate (few tokens)' };
      const j = at(ps.length);
      const p = ps[j]!;
      if (kind === 4) return { text: text.slice(0, p.start) + text.slice(p.end), what: `delete token ${JSON.stringify(p.image)} at ${p.start}` };
      if (kind === 5) {
        const w = vocab[at(vocab.length)]!;
        const sep = rng.int(2) === 0 ? ' ' : '';
        return { text: text.slice(0, p.start) + w + sep + text.slice(p.start), what: `insert token ${JSON.stringify(w)} at ${p.start}` };
      }
      if (kind === 6) {
        const k = at(ps.length);
        const [a, b] = j < k ? [p, ps[k]!] : [ps[k]!, p];
        if (a === b) return { text: text.slice(0, a.start) + text.slice(a.end), what: `delete token ${JSON.stringify(a.image)} at ${a.start}` };
        return {
          text: text.slice(0, a.start) + b.image + text.slice(a.end, b.start) + a.image + text.slice(b.end),
          what: `swap tokens ${JSON.stringify(a.image)}@${a.start} and ${JSON.stringify(b.image)}@${b.start}`,
        };
      }
      return { text: text.slice(0, p.end) + ' ' + p.image + text.slice(p.end), what: `duplicate token ${JSON.stringify(p.image)} at ${p.start}` };
    }
  }
}

/** Problems with one diagnostic's shape and span, or [] when it is valid. */
function spanProblems(d: Diagnostic, text: string): string[] {
  const problems: string[] = [];
  const s = d.span;
  if (!(d.code in diagnosticCodes)) problems.push(`unknown code ${d.code}`);
  if (d.severity !== diagnosticCodes[d.code]?.severity) problems.push(`severity ${d.severity}`);
  if (typeof d.message !== 'string' || d.message.length === 0) problems.push('empty message');
  for (const k of ['start', 'end', 'line', 'col', 'endLine', 'endCol'] as const) {
    if (!Number.isInteger(s[k])) problems.push(`${k} = ${s[k]} is not an integer`);
  }
  if (problems.length) return problems;
  if (s.line < 1 || s.col < 1) problems.push('line/col not 1-based');
  if (s.endLine < s.line || (s.endLine === s.line && s.endCol < s.col)) problems.push('end before start (line/col)');
  if (s.start < 0 || s.end < s.start) problems.push('end before start (offsets)');
  if (s.end > text.length) problems.push(`end ${s.end} beyond the text (${text.length})`);
  const lines = text.split('\n');
  if (s.endLine > lines.length) problems.push(`endLine ${s.endLine} beyond the ${lines.length} lines`);
  else {
    if (s.col > lines[s.line - 1]!.length + 1) problems.push(`col ${s.col} beyond line ${s.line} (${lines[s.line - 1]!.length} chars)`);
    if (s.endCol > lines[s.endLine - 1]!.length + 1) problems.push(`endCol ${s.endCol} beyond line ${s.endLine} (${lines[s.endLine - 1]!.length} chars)`);
  }
  if (problems.length === 0 && s.start <= text.length) {
    const lc = lineColAt(text, s.start);
    if (lc.line !== s.line || lc.col !== s.col) problems.push(`offset ${s.start} is ${lc.line}:${lc.col}, span says ${s.line}:${s.col}`);
  }
  return problems;
}

function runFile(spec: { name: string; path: string }, vocab: string[]): { checks: number; diagnostics: number; slowest: number } {
  const original = readFileSync(spec.path, 'utf8');
  const root = resolve(spec.path);
  const rng = new Rng(SEED, `fuzz/${spec.name}`);
  const failures: string[] = [];
  const diskText = new Map<string, string | undefined>();
  const textOf = (file: string): string | undefined => {
    if (!diskText.has(file)) {
      try {
        diskText.set(file, readFileSync(file, 'utf8'));
      } catch {
        diskText.set(file, undefined);
      }
    }
    return diskText.get(file);
  };
  let diagnostics = 0;
  let slowest = 0;
  for (let i = 0; i < MUTATIONS_PER_FILE && failures.length < 5; i++) {
    // Mostly one mutation; sometimes several stacked, so damage compounds.
    let text = original;
    const steps: string[] = [];
    const count = rng.int(4) === 0 ? 2 + rng.int(4) : 1;
    for (let k = 0; k < count; k++) {
      const m = mutate(text, rng, vocab);
      text = m.text;
      steps.push(m.what);
    }
    const report = (why: string): string =>
      `${spec.name} mutation #${i} (${steps.join('; ')}): ${why}\n----- mutated text -----\n${text}\n------------------------`;
    const t0 = performance.now();
    let result;
    try {
      result = check(spec.path, { text });
    } catch (e) {
      failures.push(report(`check threw ${(e as Error).stack ?? String(e)}`));
      continue;
    }
    const ms = performance.now() - t0;
    slowest = Math.max(slowest, ms);
    if (ms > PER_CALL_LIMIT_MS) failures.push(report(`check took ${ms.toFixed(0)} ms`));
    if (!Array.isArray(result.diagnostics)) {
      failures.push(report('diagnostics is not an array'));
      continue;
    }
    diagnostics += result.diagnostics.length;
    for (const d of result.diagnostics) {
      const source = resolve(d.file) === root ? text : textOf(d.file);
      if (source === undefined) {
        failures.push(report(`diagnostic in an unknown file ${d.file}: ${d.code} ${d.message}`));
        break;
      }
      const problems = spanProblems(d, source);
      if (problems.length) {
        failures.push(report(`bad span ${JSON.stringify(d.span)} on ${d.code} "${d.message}" in ${d.file}: ${problems.join(', ')}`));
        break;
      }
    }
  }
  assert.deepEqual(failures, [], `check misbehaved on mutated input:\n${failures.join('\n\n')}`);
  return { checks: MUTATIONS_PER_FILE, diagnostics, slowest };
}

const vocab = vocabulary();

test('the fuzz vocabulary holds the real tokens', () => {
  assert.ok(vocab.length > 100, `vocabulary of ${vocab.length}`);
  for (const w of ['device', 'crossbar', '->', '..', 'kOhm', '%', '{', 'conv2d']) assert.ok(vocab.includes(w), w);
});

test('the mutations are deterministic', () => {
  const text = readFileSync(specFiles[0]!.path, 'utf8');
  const run = () => {
    const rng = new Rng(SEED, 'fuzz/determinism');
    return Array.from({ length: 20 }, () => mutate(text, rng, vocab).what);
  };
  assert.deepEqual(run(), run());
});

for (const spec of specFiles) {
  test(`check survives ${MUTATIONS_PER_FILE} mutations of ${spec.name}`, () => {
    const { diagnostics, slowest } = runFile(spec, vocab);
    // The mutations must actually break things, or the test proves nothing.
    assert.ok(diagnostics > MUTATIONS_PER_FILE / 4, `only ${diagnostics} diagnostics over ${MUTATIONS_PER_FILE} mutated texts`);
    assert.ok(slowest < PER_CALL_LIMIT_MS);
  });
}

test('pathological inputs: deep nesting, long operator chains and huge sweeps are reported, not crashed on', () => {
  const n = 5000;
  const cases: { name: string; text: string; code: string }[] = [
    { name: 'nested parentheses', text: `experiment e { seed = ${'('.repeat(n)}1${')'.repeat(n)} }`, code: 'syntax-error' },
    { name: 'unclosed lists', text: `experiment e { seed = ${'['.repeat(n)}`, code: 'syntax-error' },
    { name: 'nested objects', text: `crossbar c { adc = ${'{ a = '.repeat(n)}1${' }'.repeat(n)} }`, code: 'syntax-error' },
    { name: 'nested blocks', text: `network N { ${'block b { '.repeat(n)}relu${' }'.repeat(n)} }`, code: 'syntax-error' },
    { name: 'a run of signs', text: `experiment e { seed = ${'-'.repeat(n)}1 }`, code: 'syntax-error' },
    { name: 'a long sum', text: `experiment e { seed = ${Array(n).fill('1').join(' + ')} }`, code: 'syntax-error' },
    {
      name: 'a huge cartesian sweep',
      text: `experiment e { sweep ${Array(12).fill('seed in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]').join(' * ')} }`,
      code: 'sweep-too-large',
    },
  ];
  const path = join(packageRoot, 'experiments', 'pathological.xbar');
  for (const c of cases) {
    const t0 = performance.now();
    let result;
    try {
      result = check(path, { text: c.text });
    } catch (e) {
      assert.fail(`${c.name}: check threw ${(e as Error).message}`);
    }
    assert.ok(performance.now() - t0 < PER_CALL_LIMIT_MS, `${c.name} took too long`);
    assert.ok(
      result.diagnostics.some((d) => d.code === c.code),
      `${c.name}: expected ${c.code}, got ${result.diagnostics.map((d) => d.code).join(', ')}`,
    );
    for (const d of result.diagnostics) assert.deepEqual(spanProblems(d, c.text), [], `${c.name}: ${d.code} ${JSON.stringify(d.span)}`);
  }
  // Nesting well within the limit is fine.
  const ok = check(path, { text: `experiment e { seed = ${'('.repeat(20)}1${')'.repeat(20)} }` });
  assert.ok(!ok.diagnostics.some((d) => d.code === 'syntax-error'));
});

/** check() of `path`, timed; a throw fails the test with the case named. */
function timedCheck(what: string, path: string): { result: ReturnType<typeof check>; ms: number } {
  const t0 = performance.now();
  try {
    const result = check(path);
    const ms = performance.now() - t0;
    assert.ok(ms < HOSTILE_LIMIT_MS, `${what}: check took ${ms.toFixed(0)} ms`);
    return { result, ms };
  } catch (e) {
    assert.fail(`${what}: check threw ${(e as Error).stack ?? String(e)}`);
  }
}

/** Every diagnostic's span is valid within the text of its file (as loaded, or empty when it never loaded). */
function assertSpans(what: string, result: ReturnType<typeof check>): void {
  for (const d of result.diagnostics) {
    const text = result.program.modules.get(d.file)?.parsed.text ?? '';
    assert.deepEqual(spanProblems(d, text), [], `${what}: ${d.code} "${d.message}" in ${d.file} at ${JSON.stringify(d.span)}`);
  }
}

test(
  'hostile workspace files, imported: each import is a located diagnostic; files that load get bounded diagnostics of their own',
  { timeout: 30_000 },
  () => {
    const w = hostileWorkspace();
    try {
      const { result } = timedCheck('spec.xbar importing every hostile file', w.spec);
      assertSpans('spec.xbar', result);
      w.files.forEach((f, i) => {
        const path = join(w.dir, `${f.stem}.xbar`);
        if (f.atImport) {
          const at = result.diagnostics.filter((d) => d.file === w.spec && d.span.line === i + 1).map((d) => `${d.code}: ${d.message}`);
          assert.equal(at.length, 1, `${f.what}: ${JSON.stringify(at)}`);
          assert.match(at[0]!, f.atImport, f.what);
          assert.ok(!result.diagnostics.some((d) => d.file === path), `${f.what}: diagnostics inside a file that must not be read`);
        } else {
          const own = result.diagnostics.filter((d) => d.file === path);
          assert.ok(own.length >= 1 && own.length <= 101, `${f.what}: ${own.length} diagnostics in ${f.stem}.xbar`);
          assert.ok(
            own.some((d) => d.severity === 'error'),
            `${f.what}: no error in ${f.stem}.xbar`,
          );
        }
      });
      // The device after the imports is still checked, and no error lands on it.
      assert.ok(result.module?.own.has('d'));
      assert.ok(!result.diagnostics.some((d) => d.file === w.spec && d.span.line > w.files.length));
    } finally {
      w.cleanup();
    }
  },
);

test('hostile workspace files as the root of check: a located diagnostic each, never a throw or a hang', { timeout: 30_000 }, () => {
  const w = hostileWorkspace();
  try {
    for (const f of w.files) {
      const path = join(w.dir, `${f.stem}.xbar`);
      const { result } = timedCheck(f.what, path);
      assertSpans(f.what, result);
      assert.ok(result.hasErrors, `${f.what}: no error`);
      const own = result.diagnostics.filter((d) => d.file === path);
      assert.ok(own.length >= 1 && own.length <= 101, `${f.what}: ${own.length} diagnostics in the file itself`);
      if (f.atImport) {
        // Unread: one diagnostic at the start of the file, saying why.
        assert.equal(own.length, 1, f.what);
        assert.equal(own[0]!.span.start, 0, f.what);
        assert.match(`${own[0]!.code}: ${own[0]!.message}`, f.stem === 'dangling' ? /^import-not-found: / : /^import-unreadable: /, f.what);
      }
    }
    // An editor buffer for a special file is checked from the buffer: nothing is read from disk.
    const fifo = join(w.dir, 'x.xbar');
    const t0 = performance.now();
    const buffered = check(fifo, { text: 'device d { levels = 4 }\n' });
    assert.ok(performance.now() - t0 < HOSTILE_LIMIT_MS);
    assert.deepEqual(buffered.diagnostics, []);
  } finally {
    w.cleanup();
  }
});
