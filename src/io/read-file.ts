/**
 * The one way xbarc reads a user's file: only regular files, and only up to a size that fits
 * what the file is. A path may name a FIFO (opening it would wait for a writer forever), a device
 * such as /dev/zero (reading never ends) or a huge file; each is refused with a message naming
 * the path. Opened with O_NONBLOCK so a FIFO cannot block, then fstat'ed (the file itself, after
 * any symlink, not the name), then read to EOF with the cap enforced on the bytes actually read
 * (a file may grow, and /proc files report size 0). Neutral: the compiler, the language server,
 * the runtime and the CLI all import it.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

export type FileKind = 'spec' | 'template' | 'json' | 'npy' | 'data';

const MiB = 2 ** 20;

/** Size caps by kind: specs are hand-written text; data sets are the big ones (CIFAR-10 ≈ 180 MB). */
export const FILE_SIZE_LIMITS: Record<FileKind, number> = {
  spec: 4 * MiB,
  template: 4 * MiB,
  json: 256 * MiB,
  npy: 1024 * MiB,
  data: 2048 * MiB,
};

const KIND_NAMES: Record<FileKind, string> = { spec: '.xbar specs', template: 'templates', json: 'JSON files', npy: '.npy arrays', data: 'data files' };

export type FileProblem = 'missing' | 'directory' | 'not-regular' | 'too-large' | 'unreadable';

/** A file that cannot be read; `reason` completes "PATH: …" and `problem` says which case. */
export class FileReadError extends Error {
  constructor(
    readonly path: string,
    readonly problem: FileProblem,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'FileReadError';
  }
}

/** `4 MiB`, `1.5 GiB`; rounded up to a tenth, so a size just over a cap never reads as the cap. */
export function formatSize(bytes: number): string {
  const [value, unit] = bytes >= 1024 * MiB ? [bytes / (1024 * MiB), 'GiB'] : [bytes / MiB, 'MiB'];
  return `${String(Math.ceil(value * 10) / 10)} ${unit}`;
}

function tooLarge(path: string, kind: FileKind, size: string): FileReadError {
  return new FileReadError(path, 'too-large', `is larger than the ${formatSize(FILE_SIZE_LIMITS[kind])} limit for ${KIND_NAMES[kind]} (${size})`);
}

/** What a non-regular file is, in words. */
function fileType(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a plain file';
}

function openError(path: string, err: NodeJS.ErrnoException): FileReadError {
  switch (err.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new FileReadError(path, 'missing', 'no such file');
    case 'ENXIO': // a socket, or a FIFO opened for writing
      return new FileReadError(path, 'not-regular', 'is not a regular file');
    case 'ELOOP':
      return new FileReadError(path, 'unreadable', 'is a symbolic link loop');
    case 'EACCES':
    case 'EPERM':
      return new FileReadError(path, 'unreadable', 'permission denied');
    default:
      return new FileReadError(path, 'unreadable', `cannot be read (${err.code ?? err.message})`);
  }
}

/** Opens without blocking and checks the opened file is regular and within the cap; the caller closes the fd. */
function openRegular(path: string, kind: FileKind): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw openError(path, err as NodeJS.ErrnoException);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new FileReadError(path, 'directory', 'is a directory, not a file');
    if (!st.isFile()) throw new FileReadError(path, 'not-regular', `is not a regular file (it is ${fileType(st)})`);
    if (st.size > FILE_SIZE_LIMITS[kind]) throw tooLarge(path, kind, formatSize(st.size));
    return { fd, size: st.size };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Reads a regular file of `kind` whole; anything else throws a FileReadError naming the path. */
export function readRegularFile(path: string, kind: FileKind): Buffer {
  const { fd, size } = openRegular(path, kind);
  const limit = FILE_SIZE_LIMITS[kind];
  try {
    // One byte past the size, so a file that grew is noticed; /proc files say 0 and start at 64 KiB.
    let buf = Buffer.allocUnsafe(Math.min(limit + 1, Math.max(size + 1, 64 * 1024)));
    let length = 0;
    for (;;) {
      if (length === buf.length) {
        if (length > limit) throw tooLarge(path, kind, `more than ${formatSize(limit)} read`);
        const grown = Buffer.allocUnsafe(Math.min(limit + 1, buf.length * 2));
        buf.copy(grown, 0, 0, length);
        buf = grown;
      }
      let n: number;
      try {
        n = readSync(fd, buf, length, buf.length - length, null);
      } catch (err) {
        throw new FileReadError(path, 'unreadable', `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      if (n === 0) break;
      length += n;
    }
    if (length > limit) throw tooLarge(path, kind, `more than ${formatSize(limit)} read`);
    return buf.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

/** The UTF-8 text of a regular file of `kind`. */
export function readRegularText(path: string, kind: FileKind): string {
  return readRegularFile(path, kind).toString('utf8');
}

/** Whether `path` could be read as `kind`, without reading it: undefined when it can, the problem otherwise. */
export function probeFile(path: string, kind: FileKind): FileReadError | undefined {
  try {
    closeSync(openRegular(path, kind).fd);
    return undefined;
  } catch (err) {
    if (err instanceof FileReadError) return err;
    throw err;
  }
}
