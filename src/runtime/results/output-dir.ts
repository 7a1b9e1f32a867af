/**
 * Output directories, checked before any work: a run that trains for an hour and then cannot
 * write its results has lost the hour. `ensureOutputDir` creates the folder one level at a time
 * (Node's recursive mkdir loops forever where a file system refuses a mkdir with ENOENT, as
 * /proc does), refuses a path that is, or runs through, a file, and proves the folder writable
 * by creating and removing a probe file in it.
 */
import { closeSync, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { XbarcError } from '../../model/errors.js';

export class OutputDirError extends XbarcError {
  constructor(message: string) {
    super('output/unusable', message);
  }
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'ENOENT':
      return 'the file system does not allow it';
    default:
      return e.code ?? e.message;
  }
}

/** The folders still to create for `abs`, top-down; the deepest existing part of the path must be a folder. */
function missingFolders(abs: string, shown: string): string[] {
  const missing: string[] = [];
  for (let p = abs; ; p = dirname(p)) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(p) !== p) {
        missing.unshift(p);
        continue;
      }
      throw new OutputDirError(`cannot use ${shown} as the output directory: ${p}: ${reason(err)}`);
    }
    if (isDir) return missing;
    throw new OutputDirError(
      p === abs ? `the output directory ${shown} is a file, not a directory` : `cannot create the output directory ${shown}: ${p} is a file, not a directory`,
    );
  }
}

/** Creates `dir` (and its parents) if needed and checks it can be written; throws an OutputDirError naming it otherwise. */
export function ensureOutputDir(dir: string): void {
  const abs = resolve(dir);
  for (const folder of missingFolders(abs, dir)) {
    try {
      mkdirSync(folder);
    } catch (err) {
      // Another process (a parallel sweep point) may have made it meanwhile.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statSync(folder).isDirectory()) continue;
      throw new OutputDirError(`cannot create the output directory ${dir}: ${folder === abs ? '' : `${folder}: `}${reason(err)}`);
    }
  }
  const probe = join(abs, `.xbarc-write-probe.${process.pid}.tmp`);
  try {
    closeSync(openSync(probe, 'wx'));
    unlinkSync(probe);
  } catch (err) {
    throw new OutputDirError(`cannot write to the output directory ${dir}: ${reason(err)}`);
  }
}
