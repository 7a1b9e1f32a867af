/**
 * A scratch workspace of files that an import (or an editor) may name but that are no specs:
 * symlinks to /dev/zero and /dev/urandom (a read never ends), a FIFO (opening it waits for a
 * writer), a directory, a symlink loop, a dangling symlink, a file over the 4 MiB spec cap,
 * garbage just under the cap, binary bytes, and text nested thousands deep. Shared by the
 * compiler and language-server robustness tests; `spec.xbar` imports every one of them.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FILE_SIZE_LIMITS } from '../../src/io/read-file.js';
import { Rng } from '../../src/runtime/rng.js';

export interface HostileFile {
  /** The import source in spec.xbar, `./<stem>`. */
  stem: string;
  what: string;
  /**
   * What check reports at the import of it in spec.xbar (code and message), or undefined when the
   * file is read and its own diagnostics are in it.
   */
  atImport?: RegExp;
}

export interface HostileWorkspace {
  dir: string;
  files: HostileFile[];
  /** spec.xbar: one import per hostile file (line i + 1 imports files[i]), then a device. */
  spec: string;
  specText: string;
  cleanup(): void;
}

export const HOSTILE_FILES: HostileFile[] = [
  {
    stem: 'z',
    what: 'a symlink to /dev/zero',
    atImport: /^import-unreadable: cannot import "\.\/z": z\.xbar is not a regular file \(it is a character device\)$/,
  },
  {
    stem: 'u',
    what: 'a symlink to /dev/urandom',
    atImport: /^import-unreadable: cannot import "\.\/u": u\.xbar is not a regular file \(it is a character device\)$/,
  },
  { stem: 'x', what: 'a FIFO', atImport: /^import-unreadable: cannot import "\.\/x": x\.xbar is not a regular file \(it is a FIFO\)$/ },
  { stem: 'y', what: 'a directory', atImport: /^import-unreadable: cannot import "\.\/y": y\.xbar is a directory, not a file$/ },
  { stem: 'loop', what: 'a symlink to itself', atImport: /^import-unreadable: cannot import "\.\/loop": loop\.xbar is a symbolic link loop$/ },
  { stem: 'dangling', what: 'a symlink to nothing', atImport: /^import-not-found: cannot find import "\.\/dangling"$/ },
  {
    stem: 'huge',
    what: 'a 5 MB file of garbage',
    atImport: /^import-unreadable: cannot import "\.\/huge": huge\.xbar is larger than the 4 MiB limit for \.xbar specs/,
  },
  { stem: 'big', what: 'garbage just under the 4 MiB cap' },
  { stem: 'bin', what: '256 KiB of binary bytes' },
  { stem: 'deep', what: 'text nested 5,000 deep' },
];

/** Text of tokens and punctuation in no sensible order, `bytes` long (one period of 286 pieces, repeated). */
export function garbageText(bytes: number): string {
  const words = ['}', ')', '=', 'x', '1', '"s"', '@', '{', '(', ',', '..', '->', 'device', 'experiment', 'import', '#', 'map', '*', 'sweep', 'in', '[', ']'];
  let period = '';
  for (let i = 0; i < words.length * 13; i++) period += words[(i * 7919) % words.length]! + (i % 13 === 0 ? '\n' : ' ');
  return period.repeat(Math.ceil(bytes / period.length)).slice(0, bytes);
}

/** Seeded uniformly random bytes: NULs, control characters, invalid UTF-8. */
export function binaryBytes(bytes: number): Buffer {
  const rng = new Rng(7, 'test/hostile-workspace/binary');
  const out = Buffer.alloc(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) out.writeUInt32LE(rng.nextUint32(), i);
  return out;
}

export function deepText(n = 5000): string {
  return [
    `experiment e { seed = ${'('.repeat(n)}1${')'.repeat(n)} }`,
    `crossbar c { adc = ${'{ a = '.repeat(n)}1${' }'.repeat(n)} }`,
    `network N { ${'block b { '.repeat(n)}relu${' }'.repeat(n)} }`,
    `experiment f { seed = ${'['.repeat(n)}`,
  ].join('\n');
}

export function hostileWorkspace(): HostileWorkspace {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-hostile-'));
  const path = (stem: string) => join(dir, `${stem}.xbar`);
  symlinkSync('/dev/zero', path('z'));
  symlinkSync('/dev/urandom', path('u'));
  const fifo = spawnSync('mkfifo', [path('x')]);
  if (fifo.status !== 0) throw new Error(`mkfifo failed: ${fifo.stderr.toString()}`);
  mkdirSync(path('y'));
  symlinkSync(path('loop'), path('loop'));
  symlinkSync(join(dir, 'nowhere.xbar'), path('dangling'));
  writeFileSync(path('huge'), garbageText(5_000_000));
  writeFileSync(path('big'), garbageText(FILE_SIZE_LIMITS.spec - 64 * 1024));
  writeFileSync(path('bin'), binaryBytes(256 * 1024));
  writeFileSync(path('deep'), deepText());
  const specText = `${HOSTILE_FILES.map((f) => `import * from "./${f.stem}"`).join('\n')}\n\ndevice d { levels = 4 }\n`;
  const spec = join(dir, 'spec.xbar');
  writeFileSync(spec, specText);
  return { dir, files: HOSTILE_FILES, spec, specText, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
