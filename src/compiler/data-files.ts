/**
 * Data files named by a spec (`idx(...)` files, a `cifar10(dir = ...)` folder) must exist: check
 * reports a missing one at the argument that names it, instead of `plan`/`run` failing later.
 * Only existence is checked here; the runtime reads and validates the contents.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Span } from './ast.js';
import type { Value } from './values.js';

/** `path` as the spec wrote it (diagnostics stay the same on every machine). */
export interface MissingDataFile {
  file: string;
  span: Span;
  what: string;
  path: string;
}

/** Paths are relative to the file that wrote them (as lowering resolves them). */
function resolveDataPath(v: Value & { k: 'str' }): string {
  return isAbsolute(v.v) ? v.v : resolve(dirname(v.file), v.v);
}

const IDX_FILES = ['train_images', 'train_labels', 'test_images', 'test_labels'];
/** The CIFAR-10 files every run reads: the first training batch and the test batch. */
const CIFAR_FIRST_FILES = ['data_batch_1.bin', 'test_batch.bin'];

export function missingDataFiles(data: Value | undefined): MissingDataFile[] {
  if (data?.k !== 'call') return [];
  const out: MissingDataFile[] = [];
  if (data.name === 'idx') {
    for (const name of IDX_FILES) {
      const a = data.args[name];
      if (a?.k !== 'str' || a.v === '') continue;
      const path = resolveDataPath(a);
      if (!isFile(path)) out.push({ file: a.file, span: a.span, what: `idx ${name} file`, path: a.v });
    }
  } else if (data.name === 'cifar10') {
    const a = data.args['dir'];
    if (a?.k !== 'str' || a.v === '') return out;
    const dir = resolveDataPath(a);
    if (!isDirectory(dir)) out.push({ file: a.file, span: a.span, what: 'cifar10 directory', path: a.v });
    else
      for (const f of CIFAR_FIRST_FILES)
        if (!isFile(join(dir, f))) out.push({ file: a.file, span: a.span, what: 'cifar10 file', path: `${a.v.replace(/\/+$/, '')}/${f}` });
  }
  return out;
}

function isFile(path: string): boolean {
  return existsSync(path) && !statSync(path).isDirectory();
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}
