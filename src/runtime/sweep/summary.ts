/**
 * The sweep summary: `DIR/sweep.json` and `DIR/sweep.csv`, one row per point (index, swept
 * values, final accuracy and loss, status, seconds). Both are written atomically and rewritten
 * as points finish, so a reader always sees a complete file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readRegularText } from '../../io/read-file.js';
import { writeFileAtomic, type Results } from '../results/index.js';
import { ensureOutputDir } from '../results/output-dir.js';
import { listPointDirs, pointDir, pointRelDir, readPointState } from './points.js';

export const SWEEP_JSON = 'sweep.json';
export const SWEEP_CSV = 'sweep.csv';

export type PointStatus = 'done' | 'failed' | 'running' | 'pending';

export interface SweepPointRecord {
  index: number;
  /** Relative to the sweep directory: `points/0003`. */
  dir: string;
  assignments: Record<string, string>;
  status: PointStatus;
  /** The spec hash the point runs (or ran) with. */
  specHash?: string;
  testAccuracy?: number;
  testLoss?: number | null;
  /** Wall-clock seconds of the point's run. */
  seconds?: number;
  finishedAt?: string;
  fidelity?: string;
  error?: string;
  /** A point another run is running (it holds the point's lock): that run. */
  heldBy?: string;
}

export interface SweepSummary {
  xbarc: { version: string };
  experiment: string;
  /** The spec file, when known. */
  spec?: string;
  /** The swept paths, in order, with their values in first-seen order. */
  axes: { path: string; values: string[] }[];
  counts: { total: number; done: number; failed: number; running: number; pending: number };
  points: SweepPointRecord[];
  updatedAt: string;
}

/** A point whose results.json is on disk, as a summary row. */
export function recordFromResults(index: number, results: Results): SweepPointRecord {
  return {
    index,
    dir: pointRelDir(index).split('\\').join('/'),
    assignments: results.point?.assignments ?? {},
    status: 'done',
    specHash: results.specHash,
    testAccuracy: results.final.testAccuracy,
    testLoss: results.final.testLoss,
    seconds: results.timing.totalSeconds,
    finishedAt: results.finishedAt,
    fidelity: results.fidelity,
  };
}

export function pendingRecord(index: number, assignments: Record<string, string>, specHash?: string): SweepPointRecord {
  return { index, dir: pointRelDir(index).split('\\').join('/'), assignments, status: 'pending', ...(specHash ? { specHash } : {}) };
}

/** Axes from the points' assignments: paths in first-seen order, values in first-seen order. */
export function axesOf(points: SweepPointRecord[]): { path: string; values: string[] }[] {
  const axes = new Map<string, string[]>();
  for (const p of [...points].sort((a, b) => a.index - b.index)) {
    for (const [k, v] of Object.entries(p.assignments)) {
      const values = axes.get(k) ?? [];
      if (!values.includes(v)) values.push(v);
      axes.set(k, values);
    }
  }
  return [...axes].map(([path, values]) => ({ path, values }));
}

export function buildSummary(experiment: string, points: SweepPointRecord[], meta: { version: string; spec?: string; now?: Date }): SweepSummary {
  const sorted = [...points].sort((a, b) => a.index - b.index);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.index === sorted[i - 1]!.index) throw new Error(`sweep summary: point ${sorted[i]!.index} appears twice`);
  }
  const count = (s: PointStatus) => sorted.filter((p) => p.status === s).length;
  return {
    xbarc: { version: meta.version },
    experiment,
    ...(meta.spec ? { spec: meta.spec } : {}),
    axes: axesOf(sorted),
    counts: { total: sorted.length, done: count('done'), failed: count('failed'), running: count('running'), pending: count('pending') },
    points: sorted,
    updatedAt: (meta.now ?? new Date()).toISOString(),
  };
}

function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  const s = String(value);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per point: index, one column per swept path, status, accuracy, loss, seconds, dir. */
export function summaryToCsv(summary: SweepSummary): string {
  const axes = summary.axes.map((a) => a.path);
  const header = ['index', ...axes, 'status', 'test_accuracy', 'test_loss', 'seconds', 'dir', 'error'];
  const rows = summary.points.map((p) => [
    p.index,
    ...axes.map((a) => p.assignments[a]),
    p.status,
    p.testAccuracy,
    p.testLoss,
    p.seconds === undefined ? undefined : Number(p.seconds.toFixed(3)),
    p.dir,
    p.error,
  ]);
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}

/** Write sweep.json and sweep.csv atomically (each: temp file, fsync, rename). */
export async function writeSummary(sweepDir: string, summary: SweepSummary): Promise<void> {
  ensureOutputDir(sweepDir);
  await writeFileAtomic(join(sweepDir, SWEEP_JSON), JSON.stringify(summary, null, 2) + '\n');
  await writeFileAtomic(join(sweepDir, SWEEP_CSV), summaryToCsv(summary));
}

export function readSummary(sweepDir: string): SweepSummary | undefined {
  const path = join(sweepDir, SWEEP_JSON);
  if (!existsSync(path)) return undefined;
  const parsed = JSON.parse(readRegularText(path, 'json')) as SweepSummary;
  if (!parsed || !Array.isArray(parsed.points)) throw new Error(`${path} is not a sweep summary (no points)`);
  return parsed;
}

export interface MergeOutcome {
  summary: SweepSummary;
  missing: number[];
  invalid: { index: number; reason: string }[];
}

/**
 * Assemble the summary of a sweep directory from the points that finished (`xbarc merge`). The
 * expected points come from an existing sweep.json (written by `xbarc run` or `xbarc sweep
 * --emit`); without one, from the point folders present. Expected spec hashes are enforced.
 */
export function mergeSweepDir(sweepDir: string, meta: { version: string }): MergeOutcome {
  const previous = readSummary(sweepDir);
  const expected = new Map<number, SweepPointRecord>();
  for (const p of previous?.points ?? []) expected.set(p.index, p);
  for (const i of listPointDirs(sweepDir)) if (!previous) expected.set(i, pendingRecord(i, {}));
  const records: SweepPointRecord[] = [];
  const missing: number[] = [];
  const invalid: { index: number; reason: string }[] = [];
  let experiment = previous?.experiment;
  for (const [index, prior] of [...expected].sort((a, b) => a[0] - b[0])) {
    const state = readPointState(pointDir(sweepDir, index), prior.specHash, index);
    if (state.state === 'done') {
      records.push(recordFromResults(index, state.results));
      experiment ??= state.results.experiment;
      continue;
    }
    if (state.state !== 'missing') invalid.push({ index, reason: state.reason });
    missing.push(index);
    const { testAccuracy: _a, testLoss: _l, seconds: _s, finishedAt: _f, ...rest } = prior;
    records.push({ ...rest, status: prior.status === 'failed' ? 'failed' : 'pending' });
  }
  const summary = buildSummary(experiment ?? 'sweep', records, { version: meta.version, ...(previous?.spec ? { spec: previous.spec } : {}) });
  return { summary, missing, invalid };
}

/**
 * The summary as the points on disk have it (reports): every point sweep.json lists or a folder
 * holds; a point with a valid results.json is done with its own numbers, whatever sweep.json
 * (possibly stale: a killed run, a point rerun or edited by hand) says about it. Unfinished
 * points keep sweep.json's `failed` (with its error); the rest are pending.
 */
export function summaryFromPoints(sweepDir: string, meta: { version: string }): SweepSummary {
  const previous = readSummary(sweepDir);
  const listed = new Map<number, SweepPointRecord>((previous?.points ?? []).map((p) => [p.index, p]));
  const indices = new Set([...listed.keys(), ...listPointDirs(sweepDir)]);
  let experiment = previous?.experiment;
  const records: SweepPointRecord[] = [];
  for (const index of [...indices].sort((a, b) => a - b)) {
    const state = readPointState(pointDir(sweepDir, index), undefined, index);
    const prior = listed.get(index) ?? pendingRecord(index, {});
    if (state.state === 'done') {
      const record = recordFromResults(index, state.results);
      records.push(Object.keys(record.assignments).length > 0 ? record : { ...record, assignments: prior.assignments });
      experiment ??= state.results.experiment;
      continue;
    }
    const { testAccuracy: _a, testLoss: _l, seconds: _s, finishedAt: _f, heldBy: _h, ...rest } = prior;
    records.push({ ...rest, status: prior.status === 'failed' ? 'failed' : 'pending' });
  }
  return buildSummary(experiment ?? 'sweep', records, { version: meta.version, ...(previous?.spec ? { spec: previous.spec } : {}) });
}
