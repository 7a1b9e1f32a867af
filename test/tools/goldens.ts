/**
 * Golden diagnostics fixtures: each folder under test/fixtures/ holds an `input.xbar` (plus any
 * files it imports, and an optional `args.json` with `{"sets": ["path=value", …]}` for `--set`
 * cases) and an `expected.txt` with the diagnostics `check()` reports, one per line, in the
 * `formatDiagnostic` format. An empty expected.txt means the input checks clean.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { check, type CheckResult } from '../../src/compiler/check.js';
import { formatDiagnostic, type Diagnostic } from '../../src/compiler/diagnostics.js';
import { packageRoot, stdlibDir } from '../../src/compiler/resolve.js';

export const fixturesDir = join(packageRoot, 'test', 'fixtures');

export interface Fixture {
  name: string;
  dir: string;
  input: string;
  expectedPath: string;
  sets: string[];
}

/** Every fixture folder (those holding an input.xbar), sorted by name. */
export function listFixtures(): Fixture[] {
  if (!existsSync(fixturesDir)) return [];
  return readdirSync(fixturesDir)
    .filter((name) => statSync(join(fixturesDir, name)).isDirectory() && existsSync(join(fixturesDir, name, 'input.xbar')))
    .sort()
    .map((name) => {
      const dir = join(fixturesDir, name);
      const argsPath = join(dir, 'args.json');
      const sets = existsSync(argsPath) ? ((JSON.parse(readFileSync(argsPath, 'utf8')) as { sets?: string[] }).sets ?? []) : [];
      return { name, dir, input: join(dir, 'input.xbar'), expectedPath: join(dir, 'expected.txt'), sets };
    });
}

/** Path as shown in goldens: relative to the fixture, `std/<name>.xbar` for the stdlib, `<--set>` as is. */
export function displayPath(file: string, fixtureDir: string): string {
  if (file.startsWith('<')) return file;
  if (file.startsWith(stdlibDir + sep)) return 'std/' + relative(stdlibDir, file).split(sep).join('/');
  return relative(fixtureDir, file).split(sep).join('/');
}

export function runFixture(f: Fixture): { result: CheckResult; lines: string[] } {
  const result = check(f.input, f.sets.length > 0 ? { sets: f.sets } : {});
  return { result, lines: result.diagnostics.map((d: Diagnostic) => formatDiagnostic(d, displayPath(d.file, f.dir))) };
}

export function goldenText(lines: string[]): string {
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

export function readExpected(f: Fixture): string[] | undefined {
  if (!existsSync(f.expectedPath)) return undefined;
  return readFileSync(f.expectedPath, 'utf8')
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '');
}
