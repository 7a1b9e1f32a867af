/**
 * `xbarc init [DIR]`: scaffold an experiment folder from templates/init/ — a spec that imports
 * the standard library and checks clean, a README, and a .gitignore for result directories.
 * Existing files are never overwritten: if any target exists, nothing is written.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import Handlebars from 'handlebars';
import { packageRoot } from '../compiler/resolve.js';
import { displayPath } from './format.js';
import { prepareOutputDirs } from './output-dirs.js';

/** A valid experiment name from a folder name: `my-exp 2` → `my_exp_2`. */
export function experimentNameFor(dir: string): string {
  let name = basename(resolve(dir)).replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').toLowerCase();
  if (!name) name = 'experiment';
  if (!/^[A-Za-z_]/.test(name)) name = `exp_${name}`;
  return name;
}

export interface InitOptions { name?: string }

export function initCommand(dir: string | undefined, options: InitOptions = {}): number {
  const target = resolve(dir ?? '.');
  const name = options.name ?? experimentNameFor(target);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    process.stderr.write(`xbarc init: ${JSON.stringify(name)} is not a valid experiment name (letters, digits, _; not starting with a digit)\n`);
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
    process.stderr.write(`xbarc init: refusing to overwrite existing files: ${existing.map(displayPath).join(', ')}\nnothing was written; choose an empty folder (xbarc init DIR)\n`);
    return 1;
  }
  const hb = Handlebars.create();
  if (!prepareOutputDirs('init', [target])) return 1;
  for (const [tpl, out] of files) {
    const text = hb.compile(readFileSync(join(templates, tpl), 'utf8'), { noEscape: true })({ name, file });
    // 'wx': fail rather than replace a file that appeared meanwhile.
    writeFileSync(join(target, out), text, { flag: 'wx' });
    process.stdout.write(`created ${displayPath(join(target, out))}\n`);
  }
  const rel = displayPath(target);
  process.stdout.write(`\nnext: cd ${rel === '' ? '.' : rel} && xbarc check ${file} && xbarc run ${file} --jobs 2 --report\n`);
  return 0;
}
