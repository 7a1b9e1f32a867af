/**
 * What may go into a Slurm job script, and how it is escaped there. Every value reaching the
 * script is checked: no control characters anywhere (a newline would end an `#SBATCH` header or
 * start a new shell command), and the options sbatch parses have the forms Slurm documents.
 * Values then go out escaped for their context: shell words single-quoted, `#SBATCH` values
 * backslash-escaped as sbatch's own line parser reads them.
 */
import { XbarcError } from '../../model/errors.js';

/** A value that cannot go into a Slurm script safely; the message names it. */
export class SlurmValueError extends XbarcError {
  constructor(message: string) {
    super('slurm/unsafe-value', message);
  }
}

export interface SlurmOptionValues {
  partition?: string;
  time?: string;
  account?: string;
  mem?: string;
  jobName?: string;
}

// C0 controls, DEL and C1 controls: none has a place in a path, a name or an option.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const NAMES: Record<string, string> = { '\n': 'a newline', '\r': 'a carriage return', '\t': 'a tab' };

/** Throws when `value` has a control character; `what` names where it came from. */
export function assertNoControlCharacters(what: string, value: string): void {
  const m = CONTROL.exec(value);
  if (!m) return;
  const ch = m[0];
  const name = NAMES[ch] ?? `control character U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  throw new SlurmValueError(`${what} ${JSON.stringify(value)} contains ${name}, which cannot go into a Slurm job script`);
}

const SLURM_NAME = /^[A-Za-z0-9_.-]+$/;
// Slurm's time formats: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS (and no limit).
const SLURM_TIME = /^(?:\d+(?::\d{1,2}){0,2}|\d+-\d{1,2}(?::\d{1,2}){0,2}|UNLIMITED|INFINITE)$/;
const SLURM_MEM = /^\d+[KMGT]?$/i;

/** Problems with the user's sbatch options, one message each (empty when all are fine). */
export function slurmOptionProblems(o: SlurmOptionValues): string[] {
  const problems: string[] = [];
  const check = (flag: string, value: string | undefined, ok: (v: string) => boolean, expected: string) => {
    if (value !== undefined && !ok(value)) problems.push(`${flag} expects ${expected}, got ${JSON.stringify(value)}`);
  };
  check(
    '--partition',
    o.partition,
    (v) => v.split(',').every((p) => SLURM_NAME.test(p)),
    'a partition name (letters, digits, _ . -; several separated by commas)',
  );
  check('--account', o.account, (v) => SLURM_NAME.test(v), 'an account name (letters, digits, _ . -)');
  check('--time', o.time, (v) => SLURM_TIME.test(v), 'a Slurm time: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS');
  check('--mem', o.mem, (v) => SLURM_MEM.test(v), 'a size such as 4G, 4096M or 4096 (MiB)');
  check('job name', o.jobName, (v) => SLURM_NAME.test(v), 'letters, digits, _ . -');
  return problems;
}

/**
 * A value for an `#SBATCH` line. sbatch splits those lines itself, honouring quotes and
 * backslashes and treating an unquoted `#` as a comment: escape each of those and spaces.
 */
export function sbatchValue(value: string): string {
  assertNoControlCharacters('a #SBATCH value', value);
  return value.replace(/[\s"'\\#]/g, '\\$&');
}

/** A literal path inside a Slurm filename pattern (`--output`): `%` would be a replacement symbol, a backslash turns them all off. */
export function slurmPatternPath(what: string, path: string): string {
  assertNoControlCharacters(what, path);
  if (path.includes('\\')) throw new SlurmValueError(`${what} ${JSON.stringify(path)} contains a backslash, which Slurm's --output pattern cannot carry`);
  return path.replace(/%/g, '%%');
}
