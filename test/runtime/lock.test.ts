import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { XbarcRuntimeError } from '../../src/model/errors.js';
import { LOCK_FILE, lockDirOrThrow, pidAlive, tryLockDir, type LockHolder } from '../../src/runtime/results/lock.js';

const dir = () => mkdtempSync(join(tmpdir(), 'xbarc-lock-'));

/** The pid of a process that has exited (a lock it "held" is stale). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(r.stdout);
  assert.ok(pid > 0 && !pidAlive(pid));
  return pid;
}

function writeLock(d: string, h: Partial<LockHolder> | string): void {
  writeFileSync(join(d, LOCK_FILE), typeof h === 'string' ? h : JSON.stringify(h));
}

test('a lock names its holder, refuses a second taker while held, and is removed on release', () => {
  const d = dir();
  const first = tryLockDir(d, { command: 'xbarc run a.xbar' });
  assert.ok(first.ok);
  const held = JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8')) as LockHolder;
  assert.equal(held.pid, process.pid);
  assert.equal(held.hostname, hostname());
  assert.ok(!Number.isNaN(Date.parse(held.startedAt)));
  assert.equal(held.command, 'xbarc run a.xbar');
  first.lock.release();
  assert.equal(existsSync(join(d, LOCK_FILE)), false);
  assert.ok(existsSync(d), 'a folder that was there stays');
  // A folder the lock had to create is removed again when nothing else was written into it.
  const fresh = join(d, 'fresh', 'out');
  const made = tryLockDir(fresh);
  assert.ok(made.ok && existsSync(fresh));
  made.lock.release();
  assert.equal(existsSync(fresh), false);
  // A live holder that is not this process (the parent test runner stands in for another run).
  writeLock(d, { pid: process.ppid, hostname: hostname(), startedAt: '2026-01-01T00:00:00.000Z', command: 'xbarc run other.xbar' });
  const second = tryLockDir(d);
  assert.equal(second.ok, false);
  assert.throws(
    () => lockDirOrThrow(d),
    (err: unknown) => {
      assert.ok(err instanceof XbarcRuntimeError);
      assert.equal(err.code, 'run/locked');
      assert.match(err.message, new RegExp(`is in use by xbarc run other\\.xbar \\(pid ${process.ppid} on host .*, started 2026-01-01T00:00:00\\.000Z\\)`));
      assert.doesNotMatch(err.message, /\n/);
      return true;
    },
  );
});

test("a stale lock (dead pid on this host) is taken over with a note; another host's lock never is", () => {
  const d = dir();
  const pid = deadPid();
  writeLock(d, { pid, hostname: hostname(), startedAt: '2026-01-01T00:00:00.000Z' });
  const notes: string[] = [];
  const lock = lockDirOrThrow(d, { onNote: (n) => notes.push(n) });
  assert.equal(notes.length, 1);
  assert.match(notes[0]!, new RegExp(`took over the stale lock of another run \\(pid ${pid} .*which is no longer running`));
  assert.equal((JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8')) as LockHolder).pid, process.pid);
  assert.ok(!existsSync(join(d, `${LOCK_FILE}.takeover`)), 'the takeover guard is removed');
  lock.release();

  writeLock(d, { pid, hostname: 'elsewhere.example', startedAt: '2026-01-01T00:00:00.000Z' });
  assert.throws(() => lockDirOrThrow(d), /in use by another run \(pid \d+ on host elsewhere\.example.*delete .*\.xbarc\.lock/);
});

test('a half-written lock is respected while young and stale once old; release leaves a lock that is not ours alone', () => {
  const d = dir();
  writeLock(d, '');
  assert.equal(tryLockDir(d).ok, false);
  const old = new Date(Date.now() - 60_000);
  utimesSync(join(d, LOCK_FILE), old, old);
  const taken = tryLockDir(d);
  assert.ok(taken.ok);
  // Someone replaced the lock (believing ours stale): our release must not delete theirs.
  const theirs = { pid: process.ppid, hostname: hostname(), startedAt: '2026-02-02T00:00:00.000Z' };
  writeLock(d, theirs);
  taken.lock.release();
  assert.deepEqual(JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8')), theirs);
});
