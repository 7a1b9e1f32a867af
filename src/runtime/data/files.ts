/** Reading data files with errors that name the file and say what is wrong. */

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { XbarcDataError } from '../../model/errors.js';

/** Read a whole file; a missing or unreadable file becomes an XbarcDataError naming it. */
export function readDataFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new XbarcDataError('data/missing', `${file}: file not found`);
    if (e.code === 'EISDIR') throw new XbarcDataError('data/read-failed', `${file}: is a directory, expected a file`);
    throw new XbarcDataError('data/read-failed', `${file}: cannot read (${e.code ?? e.message})`);
  }
}

/** True when the buffer starts with the gzip magic bytes 1f 8b. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Read a file, transparently gunzipping it when it carries the gzip magic (whatever its name). */
export function readMaybeGzip(file: string): Buffer {
  const raw = readDataFile(file);
  if (!isGzip(raw)) return raw;
  try {
    return gunzipSync(raw);
  } catch (err) {
    throw new XbarcDataError('data/corrupt-gzip', `${file}: corrupt or truncated gzip stream (${(err as Error).message})`);
  }
}
