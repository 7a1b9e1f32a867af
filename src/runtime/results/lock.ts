/**
 * Output-directory locks: `DIR/.xbarc.lock`, created exclusively (O_EXCL), naming the run that
 * holds it (pid, host, start time). A second run into the same directory is refused instead of
 * silently racing the first; a lock whose process is gone (same host, pid not alive) is stale
 * and taken over. Sweeps lock each point's folder, so several runs can share one sweep.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { XbarcRuntimeError } from '../../model/errors.js';

export const LOCK_FILE = '.xbarc.lock';

export interface LockHolder {
  pid: number;
  hostname: string;
  startedAt: string;
  /** What holds it, e.g. `xbarc run spec.xbar`. */
  command?: string;
  /** The process doing the work for the holder (a sweep point's process). */
  workerPid?: number;
}

export type LockAttempt =
  | { ok: true; lock: DirLock; tookOver?: LockHolder }
  | { ok: false; path: string; holder: LockHolder | undefined; why: 'held' | 'other-host' | 'being-created' | 'taking-over' };

/** A lock file that cannot be parsed and is older than this is a writer that died mid-creation. */
const UNREADABLE_STALE_MS = 10_000;

/** Locks this process holds, released on exit (one listener for all: a sweep holds many). */
const held = new Set<DirLock>();
let exitHookInstalled = false;

function releaseAllOnExit(): void {
  for (const lock of [...held]) lock.release();
}

export class DirLock {
  private released = false;

  /** `createdDir`: the folder the lock created, removed again on release if nothing else landed in it. */
  constructor(
    readonly path: string,
    private holder: LockHolder,
    private readonly createdDir?: string,
  ) {
    held.add(this);
    if (!exitHookInstalled) {
      process.once('exit', releaseAllOnExit);
      exitHookInstalled = true;
    }
  }

  /** Record the process doing the work (shown to a refused run; checked by tests). */
  setWorker(pid: number | undefined): void {
    if (this.released || pid === undefined) return;
    this.holder = { ...this.holder, workerPid: pid };
    // The lock stays ours throughout: rewriting in place never drops it.
    const fd = openSync(this.path, 'r+');
    try {
      writeSync(fd, lockText(this.holder), 0);
    } finally {
      closeSync(fd);
    }
  }

  /** Remove the lock if it is still ours (a taker-over may have replaced a lock thought stale). */
  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this);
    const now = readHolder(this.path);
    if (now.holder && now.holder.pid === this.holder.pid && now.holder.startedAt === this.holder.startedAt && now.holder.hostname === this.holder.hostname) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
    if (this.createdDir) {
      try {
        if (readdirSync(this.createdDir).length === 0) rmdirSync(this.createdDir);
      } catch {
        // not empty or gone: leave it
      }
    }
  }
}

/** Try to lock `dir` (created if needed). Never throws for a held lock: the caller words the refusal. */
export function tryLockDir(dir: string, info: { command?: string } = {}): LockAttempt {
  const created = existsSync(dir) ? undefined : dir;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), ...(info.command ? { command: info.command } : {}) };
  for (let attempt = 0; attempt < 2; attempt++) {
    if (createExclusive(path, lockText(me))) return { ok: true, lock: new DirLock(path, me, created) };
    const seen = readHolder(path);
    if (seen.missing) continue; // released between our create and our read
    const verdict = judge(path, seen);
    if (verdict !== 'stale') return { ok: false, path, holder: seen.holder, why: verdict };
    const outcome = takeOver(path, seen.text, me);
    if (outcome === 'taken') return { ok: true, lock: new DirLock(path, me, created), ...(seen.holder ? { tookOver: seen.holder } : {}) };
    if (outcome === 'busy') return { ok: false, path, holder: seen.holder, why: 'taking-over' };
    // The lock changed under us (someone else took it over): look again.
  }
  const seen = readHolder(path);
  return { ok: false, path, holder: seen.holder, why: 'held' };
}

/** Lock `dir` or throw `run/locked` naming the holder; `onNote` hears about stale locks taken over. */
export function lockDirOrThrow(dir: string, info: { command?: string; onNote?: (note: string) => void } = {}): DirLock {
  const attempt = tryLockDir(dir, info.command ? { command: info.command } : {});
  if (!attempt.ok) throw new XbarcRuntimeError('run/locked', refusalMessage(dir, attempt));
  if (attempt.tookOver) info.onNote?.(takeOverNote(dir, attempt.tookOver));
  return attempt.lock;
}

export function refusalMessage(dir: string, attempt: Extract<LockAttempt, { ok: false }>): string {
  const who = attempt.holder ? describeHolder(attempt.holder) : 'a run that is still creating its lock';
  switch (attempt.why) {
    case 'other-host':
      return `${dir} is in use by ${who}; if that run is gone, delete ${attempt.path}`;
    case 'taking-over':
      return `${dir}: another run is taking over the stale lock of ${who}; try again`;
    default:
      return `${dir} is in use by ${who}; wait for it to finish or stop it (if no such run exists, delete ${attempt.path})`;
  }
}

export function takeOverNote(dir: string, holder: LockHolder): string {
  return `${dir}: took over the stale lock of ${describeHolder(holder)}, which is no longer running`;
}

/** `xbarc run spec.xbar (pid 123 on host h, started 2026-…)`. */
export function describeHolder(h: LockHolder): string {
  const worker = h.workerPid !== undefined ? `, point process ${h.workerPid}` : '';
  return `${h.command ?? 'another run'} (pid ${h.pid}${worker} on host ${h.hostname}, started ${h.startedAt})`;
}

/** Whether a pid is a live process on this host (EPERM: alive, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockText(h: LockHolder): string {
  return JSON.stringify(h) + '\n';
}

function createExclusive(path: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return true;
}

interface Seen {
  missing: boolean;
  text: string;
  holder: LockHolder | undefined;
  ageMs: number;
}

function readHolder(path: string): Seen {
  let text: string;
  let ageMs: number;
  try {
    text = readFileSync(path, 'utf8');
    ageMs = Date.now() - statSync(path).mtimeMs;
  } catch {
    return { missing: true, text: '', holder: undefined, ageMs: 0 };
  }
  return { missing: false, text, holder: parseHolder(text), ageMs };
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.pid === 'number' && typeof h.hostname === 'string' && typeof h.startedAt === 'string') return h as LockHolder;
  } catch {
    // partially written or foreign: judged by age
  }
  return undefined;
}

function judge(_path: string, seen: Seen): 'stale' | 'held' | 'other-host' | 'being-created' {
  const h = seen.holder;
  if (!h) return seen.ageMs > UNREADABLE_STALE_MS ? 'stale' : 'being-created';
  if (h.hostname !== hostname()) return 'other-host';
  return h.pid !== process.pid && pidAlive(h.pid) ? 'held' : 'stale';
}

/**
 * Replace a stale lock. A guard file (`.xbarc.lock.takeover`, itself O_EXCL) lets one run at a
 * time do it, and the lock is replaced only if it still reads as the stale one: two runs racing
 * for the same stale lock never both end up holding it.
 */
function takeOver(path: string, staleText: string, me: LockHolder): 'taken' | 'changed' | 'busy' {
  const guard = `${path}.takeover`;
  if (!createExclusive(guard, lockText(me))) {
    const g = readHolder(guard);
    const guardStale = g.holder ? g.holder.hostname === hostname() && !pidAlive(g.holder.pid) : g.ageMs > UNREADABLE_STALE_MS;
    if (!guardStale && !g.missing) return 'busy';
    removeFile(guard);
    if (!createExclusive(guard, lockText(me))) return 'busy';
  }
  try {
    const now = readHolder(path);
    if (!now.missing && now.text !== staleText) return 'changed';
    removeFile(path);
    return createExclusive(path, lockText(me)) ? 'taken' : 'changed';
  } finally {
    removeFile(guard);
  }
}

function removeFile(path: string): void {
  try {
    if (existsSync(path)) unlinkSync(path);
  } catch {
    // gone already
  }
}
