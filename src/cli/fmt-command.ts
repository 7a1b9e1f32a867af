/** `xbarc fmt [--check] <files or folders...>`: format .xbar files in place, or list those that would change. */
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatXbar } from '../compiler/format.js';
import { FileReadError, readRegularText } from '../io/read-file.js';
import { writeFileAtomicSync } from '../runtime/results/atomic.js';
import { displayPath } from './format.js';

export interface FmtOptions {
  check?: boolean;
}

/** Files named directly, plus the .xbar files under named folders (sorted, skipping dot-folders and node_modules). */
function expand(paths: string[]): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.') || name === 'node_modules') continue;
      const full = join(dir, name);
      let st;
      try {
        st = statSync(full);
      } catch {
        continue; // a dangling or looping symlink in a folder: not a spec to format
      }
      if (st.isDirectory()) walk(full);
      else if (name.endsWith('.xbar')) files.push(full);
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      missing.push(p);
      continue;
    }
    if (st.isDirectory()) walk(p);
    else files.push(p);
  }
  return { files, missing };
}

/** Exit code: 0 all formatted, 1 some file would change (--check) or cannot be formatted, 2 usage error. */
export function fmtCommand(paths: string[], options: FmtOptions): number {
  const { files, missing } = expand(paths);
  for (const m of missing) process.stderr.write(`xbarc fmt: cannot read ${m}: no such file or folder\n`);
  let wouldChange = 0;
  let failed = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readRegularText(file, 'spec');
    } catch (err) {
      if (!(err instanceof FileReadError)) throw err;
      failed++;
      process.stderr.write(`xbarc fmt: cannot read ${displayPath(file)}: ${err.reason}\n`);
      continue;
    }
    const result = formatXbar(text);
    if (!result.ok) {
      failed++;
      const where = result.line ? `:${result.line}:${result.col ?? 1}` : '';
      process.stderr.write(`${displayPath(file)}${where}: not formatted (left untouched): ${result.reason}\n`);
      continue;
    }
    if (!result.changed) continue;
    wouldChange++;
    if (options.check) {
      process.stdout.write(`${displayPath(file)}\n`);
    } else {
      // Through a symlink to its target (renaming over the link would replace it by a copy),
      // atomically and with the file's permissions, so an interrupted run loses nothing.
      const target = realpathSync(file);
      writeFileAtomicSync(target, result.text, { mode: statSync(target).mode & 0o7777 });
      process.stdout.write(`formatted ${displayPath(file)}\n`);
    }
  }
  if (options.check && wouldChange > 0)
    process.stderr.write(`${wouldChange} file${wouldChange === 1 ? '' : 's'} would be reformatted (run xbarc fmt without --check)\n`);
  if (missing.length > 0) return 2;
  return failed > 0 || (options.check && wouldChange > 0) ? 1 : 0;
}
