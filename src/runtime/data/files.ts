/** Reading data files with errors that name the file and say what is wrong. */

import { gunzipSync } from 'node:zlib';
import { FILE_SIZE_LIMITS, FileReadError, formatSize, readRegularFile } from '../../io/read-file.js';
import { XbarcDataError } from '../../model/errors.js';

/** Read a whole regular file (at most the data-file cap); anything else becomes an XbarcDataError naming it. */
export function readDataFile(file: string): Buffer {
  try {
    return readRegularFile(file, 'data');
  } catch (err) {
    if (!(err instanceof FileReadError)) throw err;
    if (err.problem === 'missing') throw new XbarcDataError('data/missing', `${file}: file not found`);
    if (err.problem === 'directory') throw new XbarcDataError('data/read-failed', `${file}: is a directory, expected a file`);
    throw new XbarcDataError('data/read-failed', `${file}: ${err.reason}`);
  }
}

/** True when the buffer starts with the gzip magic bytes 1f 8b. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Read a file, transparently gunzipping it when it carries the gzip magic (whatever its name); the output has the same cap. */
export function readMaybeGzip(file: string): Buffer {
  const raw = readDataFile(file);
  if (!isGzip(raw)) return raw;
  try {
    return gunzipSync(raw, { maxOutputLength: FILE_SIZE_LIMITS.data });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new XbarcDataError('data/too-large', `${file}: decompresses to more than the ${formatSize(FILE_SIZE_LIMITS.data)} limit for data files`);
    }
    throw new XbarcDataError('data/corrupt-gzip', `${file}: corrupt or truncated gzip stream (${(err as Error).message})`);
  }
}
