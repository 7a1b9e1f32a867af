/**
 * `xbarc init [DIR]`: scaffold an experiment folder from templates/init/ — a spec that imports
 * the standard library and checks clean, a README, and a .gitignore for result directories.
 * Existing files are never overwritten: if any target exists, nothing is written.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import Handlebars from 'handlebars';
import { keywordTokens, keywordWord } from '../../grammar/tokens.js';
import { check } from '../compiler/check.js';
import { packageRoot } from '../compiler/resolve.js';
import { displayPath } from './format.js';
import { prepareOutputDirs } from './output-dirs.js';

/** Words that cannot name a declaration: the language's keywords, and `x` (the size operator). */
const RESERVED = new Set([...keywordTokens.map(keywordWord), 'x']);

/** A valid experiment name from a folder name: `my-exp 2` → `my_exp_2`, `device` → `device_exp`. */
export function experimentNameFor(dir: string): string {
  let name = basename(resolve(dir))
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toLowerCase();
  if (!name) name = 'my_experiment';
  if (!/^[A-Za-z_]/.test(name)) name = `exp_${name}`;
  if (RESERVED.has(name)) name = `${name}_exp`;
  return name;
}

/** Why `name` cannot name the experiment, or undefined when it can. */
function nameProblem(name: string): string | undefined {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `${JSON.stringify(name)} is not a valid experiment name (letters, digits, _; not starting with a digit)`;
  if (RESERVED.has(name)) return `${JSON.stringify(name)} is a keyword of the .xbar language and cannot name an experiment; choose another, e.g. ${name}_1`;
  return undefined;
}

export interface InitOptions {
  name?: string;
}

export function initCommand(dir: string | undefined, options: InitOptions = {}): number {
  const target = resolve(dir ?? '.');
  const name = options.name ?? experimentNameFor(target);
  const problem = nameProblem(name);
  if (problem) {
    process.stderr.write(`xbarc init: ${problem}\n`);
    return 2;
  }
  const file = `${name}.xbar`;
  const templates = join(packageRoot, 'templates', 'init');
  const files: [string, string][] = [
    ['experiment.xbar.hbs', file],
    ['README.md.hbs', 'README.md'],
    // npm renames .gitignore inside packages, so the template has no leading dot.
    ['gitignore.hbs', '.gitignore'],
  ];
  const existing = files.map(([, out]) => join(target, out)).filter((p) => existsSync(p));
  if (existing.length > 0) {
    process.stderr.write(
      `xbarc init: refusing to overwrite existing files: ${existing.map(displayPath).join(', ')}\nnothing was written; choose an empty folder (xbarc init DIR)\n`,
    );
    return 1;
  }
  const hb = Handlebars.create();
  const texts = files.map(([tpl]) => hb.compile(readFileSync(join(templates, tpl), 'utf8'), { noEscape: true })({ name, file }));
  // The scaffold's promise is a spec that checks clean: make sure before writing anything.
  const scaffold = check(join(target, file), { text: texts[0]! });
  const first = scaffold.diagnostics.find((d) => d.severity === 'error');
  if (first) {
    process.stderr.write(`xbarc init: the spec for experiment ${name} would not check (${first.code}: ${first.message}); nothing was written\n`);
    return 1;
  }
  if (!prepareOutputDirs('init', [target])) return 1;
  for (const [i, [, out]] of files.entries()) {
    // 'wx': fail rather than replace a file that appeared meanwhile.
    writeFileSync(join(target, out), texts[i]!, { flag: 'wx' });
    process.stdout.write(`created ${displayPath(join(target, out))}\n`);
  }
  const rel = displayPath(target);
  process.stdout.write(`\nnext: cd ${rel === '' ? '.' : rel} && xbarc check ${file} && xbarc run ${file} --jobs 2 --report\n`);
  return 0;
}
