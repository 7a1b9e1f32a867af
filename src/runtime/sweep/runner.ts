/**
 * Run the points of a sweep in parallel worker processes, resuming what an earlier run left:
 * finished points (valid results.json with the point's current spec hash) are kept untouched,
 * everything else is (re)run, and sweep.json/sweep.csv are refreshed as points finish. How a
 * point's process is started is the caller's business (`launch`); the point writes its own
 * results.json atomically, and that file — not the process's exit status — decides "done".
 * Each point's folder is locked while it runs (results/lock.ts): points another live run holds
 * are left to it, so several runs can share one sweep directory, each taking the free points.
 */
import type { ChildProcess } from 'node:child_process';
import { describeHolder, takeOverNote, tryLockDir, type DirLock } from '../results/lock.js';
import { buildSummary, pendingRecord, recordFromResults, writeSummary, type SweepPointRecord, type SweepSummary } from './summary.js';
import { pointDir, readPointState, removeStaleTempFiles } from './points.js';
import { ensureOutputDir } from '../results/output-dir.js';

export interface SweepPointJob {
  index: number;
  assignments: Record<string, string>;
  specHash: string;
}

export type SweepEvent =
  | { type: 'start'; total: number; alreadyDone: number; toRun: number; jobs: number }
  | { type: 'point-start'; index: number; running: number }
  | { type: 'point-end'; record: SweepPointRecord; done: number; failed: number; total: number; finishedThisRun: number; etaSeconds: number | undefined }
  | { type: 'interrupted'; unfinished: number[] };

export interface RunSweepOptions {
  sweepDir: string;
  experiment: string;
  version: string;
  spec?: string;
  points: SweepPointJob[];
  jobs: number;
  /** Start the process that runs one point into `dir`; it must write `dir/results.json`. */
  launch: (job: SweepPointJob, dir: string) => ChildProcess;
  signal?: AbortSignal;
  onEvent?: (e: SweepEvent) => void;
  /** Clock for ETA (tests). */
  now?: () => number;
  /** Written into each point's lock, for a refused run to name (e.g. `xbarc run spec.xbar`). */
  command?: string;
  /** Notes for the user (stale point locks taken over). */
  onNote?: (note: string) => void;
}

/** `elsewhere`: points another live run was running when this one ended (index → that run). */
export interface SweepOutcome {
  summary: SweepSummary;
  interrupted: boolean;
  failed: number[];
  ran: number[];
  kept: number[];
  elsewhere: Map<number, string>;
}

/** Which points are finished on disk (kept) and which must run, with no side effects. */
export function classifyPoints(
  sweepDir: string,
  points: SweepPointJob[],
): { done: Map<number, SweepPointRecord>; todo: SweepPointJob[]; reasons: Map<number, string> } {
  const done = new Map<number, SweepPointRecord>();
  const todo: SweepPointJob[] = [];
  const reasons = new Map<number, string>();
  for (const p of points) {
    const state = readPointState(pointDir(sweepDir, p.index), p.specHash, p.index);
    if (state.state === 'done') done.set(p.index, recordFromResults(p.index, state.results));
    else {
      todo.push(p);
      if (state.state !== 'missing') reasons.set(p.index, state.reason);
    }
  }
  return { done, todo, reasons };
}

export async function runSweep(o: RunSweepOptions): Promise<SweepOutcome> {
  const now = o.now ?? (() => performance.now());
  const seen = new Set<number>();
  for (const p of o.points) {
    if (seen.has(p.index)) throw new Error(`sweep: point ${p.index} listed twice`);
    seen.add(p.index);
  }
  const { done, todo } = classifyPoints(o.sweepDir, o.points);
  const records = new Map<number, SweepPointRecord>();
  for (const p of o.points) records.set(p.index, done.get(p.index) ?? pendingRecord(p.index, p.assignments, p.specHash));

  // Points another run holds: their state is re-read from disk at every refresh.
  const elsewhere = new Map<number, { job: SweepPointJob; holder: string }>();
  const kept = new Set(done.keys());
  const pickUpElsewhere = () => {
    for (const [index, { job }] of elsewhere) {
      const state = readPointState(pointDir(o.sweepDir, index), job.specHash, index);
      if (state.state !== 'done') continue;
      records.set(index, recordFromResults(index, state.results));
      elsewhere.delete(index);
    }
  };

  // Writes are chained so the file on disk always reflects the latest state, never an older one.
  let writing: Promise<void> = Promise.resolve();
  const refresh = () => {
    pickUpElsewhere();
    const summary = buildSummary(o.experiment, [...records.values()], { version: o.version, ...(o.spec ? { spec: o.spec } : {}) });
    writing = writing.then(() => writeSummary(o.sweepDir, summary));
    return writing;
  };
  await refresh();
  const jobs = Math.max(1, Math.floor(o.jobs));
  o.onEvent?.({ type: 'start', total: o.points.length, alreadyDone: done.size, toRun: todo.length, jobs });

  const queue = [...todo];
  const running = new Map<number, ChildProcess>();
  const failed: number[] = [];
  const ran: number[] = [];
  let finishedThisRun = 0;
  const t0 = now();
  let interrupted = o.signal?.aborted === true;

  const onAbort = () => {
    interrupted = true;
    for (const child of running.values()) child.kill('SIGINT');
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });

  /** Lock a point's folder; null when another live run holds it or it finished meanwhile. */
  const claim = (job: SweepPointJob): DirLock | null => {
    const dir = pointDir(o.sweepDir, job.index);
    const attempt = tryLockDir(dir, o.command ? { command: o.command } : {});
    if (!attempt.ok) {
      const holder = attempt.holder ? describeHolder(attempt.holder) : 'another run';
      elsewhere.set(job.index, { job, holder });
      records.set(job.index, { ...pendingRecord(job.index, job.assignments, job.specHash), status: 'running', heldBy: holder });
      return null;
    }
    if (attempt.tookOver) o.onNote?.(takeOverNote(dir, attempt.tookOver));
    // Another run may have finished it since this run looked at the disk.
    const state = readPointState(dir, job.specHash, job.index);
    if (state.state === 'done') {
      attempt.lock.release();
      records.set(job.index, recordFromResults(job.index, state.results));
      kept.add(job.index);
      return null;
    }
    return attempt.lock;
  };

  const runOne = (job: SweepPointJob): Promise<void> =>
    new Promise((resolve) => {
      const lock = claim(job);
      if (!lock) {
        void refresh().then(
          () => resolve(),
          () => resolve(),
        );
        return;
      }
      const dir = pointDir(o.sweepDir, job.index);
      let error: string | undefined;
      let child: ChildProcess;
      try {
        ensureOutputDir(dir); // a point folder that is a file fails this point, not the sweep
        removeStaleTempFiles(dir);
        child = o.launch(job, dir);
      } catch (err) {
        lock.release();
        error = err instanceof Error ? err.message : String(err);
        records.set(job.index, { ...pendingRecord(job.index, job.assignments, job.specHash), status: 'failed', error });
        failed.push(job.index);
        void refresh().then(
          () => resolve(),
          () => resolve(),
        );
        return;
      }
      lock.setWorker(child.pid);
      running.set(job.index, child);
      records.set(job.index, { ...pendingRecord(job.index, job.assignments, job.specHash), status: 'running' });
      void refresh();
      o.onEvent?.({ type: 'point-start', index: job.index, running: running.size });
      child.on('message', (m: unknown) => {
        const msg = m as { type?: string; message?: string };
        if (msg && msg.type === 'error' && typeof msg.message === 'string') error = msg.message;
      });
      child.on('error', (err) => {
        error ??= err.message;
      });
      child.once('close', (code, signal) => {
        running.delete(job.index);
        lock.release();
        const state = readPointState(dir, job.specHash, job.index);
        let record: SweepPointRecord;
        if (state.state === 'done') {
          record = recordFromResults(job.index, state.results);
          ran.push(job.index);
          finishedThisRun++;
        } else if (interrupted) {
          record = pendingRecord(job.index, job.assignments, job.specHash);
        } else {
          const why =
            error ?? (state.state === 'missing' ? `the point's process exited with ${signal ?? `status ${code}`} without writing results.json` : state.reason);
          record = { ...pendingRecord(job.index, job.assignments, job.specHash), status: 'failed', error: why };
          failed.push(job.index);
        }
        records.set(job.index, record);
        if (!interrupted) {
          const doneCount = [...records.values()].filter((r) => r.status === 'done').length;
          const remaining = queue.length + running.size;
          const elapsed = (now() - t0) / 1000;
          const etaSeconds = finishedThisRun > 0 ? (elapsed / finishedThisRun) * remaining : undefined;
          o.onEvent?.({ type: 'point-end', record, done: doneCount, failed: failed.length, total: o.points.length, finishedThisRun, etaSeconds });
        }
        void refresh().then(
          () => resolve(),
          () => resolve(),
        );
      });
    });

  const drain = async () => {
    const lanes = Array.from({ length: Math.min(jobs, queue.length) }, async () => {
      while (!interrupted && queue.length > 0) await runOne(queue.shift()!);
    });
    await Promise.all(lanes);
  };
  try {
    await drain();
    // One more try at the points other runs held: a holder that died since has left them free.
    pickUpElsewhere();
    queue.push(...[...elsewhere.values()].map((e) => e.job));
    elsewhere.clear();
    await drain();
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
  await refresh();
  const summary = buildSummary(o.experiment, [...records.values()], { version: o.version, ...(o.spec ? { spec: o.spec } : {}) });
  if (interrupted) o.onEvent?.({ type: 'interrupted', unfinished: summary.points.filter((p) => p.status !== 'done').map((p) => p.index) });
  const byOthers = new Map([...elsewhere].map(([i, e]) => [i, e.holder] as const));
  return {
    summary,
    interrupted,
    failed: failed.sort((a, b) => a - b),
    ran: ran.sort((a, b) => a - b),
    kept: [...kept].sort((a, b) => a - b),
    elsewhere: byOthers,
  };
}
