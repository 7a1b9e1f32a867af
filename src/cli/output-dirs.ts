/** Output directories of a command, created and checked before it does any work (one line and exit 1 if one is unusable). */
import pc from 'picocolors';
import { OutputDirError, ensureOutputDir } from '../runtime/results/output-dir.js';

export function prepareOutputDirs(command: string, dirs: Iterable<string>): boolean {
  for (const dir of new Set(dirs)) {
    try {
      ensureOutputDir(dir);
    } catch (err) {
      if (!(err instanceof OutputDirError)) throw err;
      process.stderr.write(`xbarc ${command}: ${pc.red('error')} ${err.code}: ${err.message}\n`);
      return false;
    }
  }
  return true;
}
