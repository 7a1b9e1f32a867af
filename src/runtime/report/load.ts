/**
 * What a report shows, read from a results directory: one experiment (DIR/results.json), a sweep
 * (DIR/sweep.json and DIR/points/NNNN/results.json), or several experiments side by side
 * (DIR/<name>/, as `xbarc run --out DIR` writes for a spec with several experiments) — plain
 * ones and sweeps alike, so a baseline can be read against a sweep.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileReadError, readRegularText } from '../../io/read-file.js';
import { XbarcRuntimeError } from '../../model/errors.js';
import { formatResultsIssues, validateResults, type Results } from '../results/index.js';
import { listPointDirs, pointDir, readPointState } from '../sweep/points.js';
import { summaryFromPoints, type SweepSummary } from '../sweep/summary.js';

export interface ReportRun {
  /** Short label for legends: the experiment (and fidelity), or the point's assignments. */
  label: string;
  /** Relative to the report directory. */
  dir: string;
  results: Results;
  /** In a comparison: the sweep this run is a point of (its experiment name). */
  sweep?: string;
}

export interface ReportData {
  kind: 'experiment' | 'sweep' | 'comparison';
  title: string;
  runs: ReportRun[];
  sweep?: SweepSummary;
  /** In a comparison: the sweeps among the experiments, with their folders (relative). */
  sweeps?: { dir: string; summary: SweepSummary }[];
}

export function readResultsFile(path: string): Results {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readRegularText(path, 'json'));
  } catch (err) {
    if (err instanceof FileReadError) throw new XbarcRuntimeError('report/unreadable-results', err.message);
    throw new XbarcRuntimeError('report/invalid-results', `${path} is not readable JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const issues = validateResults(parsed);
  if (issues.length > 0)
    throw new XbarcRuntimeError('report/invalid-results', `${path} does not match schemas/results.schema.json:\n${formatResultsIssues(issues)}`);
  return parsed as Results;
}

export function loadReportData(dir: string, version: string): ReportData {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new XbarcRuntimeError('report/no-results', `${dir} is not a directory`);
  const single = join(dir, 'results.json');
  if (existsSync(single)) {
    const results = readResultsFile(single);
    return { kind: 'experiment', title: results.experiment, runs: [{ label: runLabel(results), dir: '.', results }] };
  }
  if (isSweepDir(dir)) {
    const { summary, runs } = loadSweep(dir, version);
    return { kind: 'sweep', title: summary.experiment, runs, sweep: summary };
  }
  const subs = readdirSync(dir)
    .filter((n) => isDirectory(join(dir, n)) && (existsSync(join(dir, n, 'results.json')) || isSweepDir(join(dir, n))))
    .sort();
  if (subs.length > 0) return loadComparison(dir, subs, version);
  throw new XbarcRuntimeError(
    'report/no-results',
    `${dir} has no results.json, sweep.json or points/ to report on; run an experiment first (xbarc run SPEC --out ${dir})`,
  );
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // a dangling link
  }
}

function isSweepDir(dir: string): boolean {
  return existsSync(join(dir, 'sweep.json')) || listPointDirs(dir).length > 0;
}

/** A sweep's summary rebuilt from its points on disk, and its finished points as runs. */
function loadSweep(dir: string, version: string): { summary: SweepSummary; runs: ReportRun[] } {
  const summary = summaryFromPoints(dir, { version });
  const runs: ReportRun[] = [];
  for (const p of summary.points) {
    if (p.status !== 'done') continue;
    const state = readPointState(pointDir(dir, p.index), undefined, p.index);
    if (state.state !== 'done') continue;
    runs.push({
      label:
        Object.entries(p.assignments)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ') || `point ${p.index}`,
      dir: p.dir,
      results: state.results,
    });
  }
  return { summary, runs };
}

/** Every experiment folder of `dir`: plain runs as they are, sweeps as their finished points. */
function loadComparison(dir: string, subs: string[], version: string): ReportData {
  const runs: ReportRun[] = [];
  const sweeps: { dir: string; summary: SweepSummary }[] = [];
  const names: string[] = [];
  for (const n of subs) {
    if (existsSync(join(dir, n, 'results.json'))) {
      const results = readResultsFile(join(dir, n, 'results.json'));
      runs.push({ label: runLabel(results), dir: n, results });
      names.push(results.experiment);
      continue;
    }
    const sweep = loadSweep(join(dir, n), version);
    sweeps.push({ dir: n, summary: sweep.summary });
    names.push(sweep.summary.experiment);
    for (const r of sweep.runs) runs.push({ ...r, label: `${sweep.summary.experiment}: ${r.label}`, dir: `${n}/${r.dir}`, sweep: sweep.summary.experiment });
  }
  return { kind: 'comparison', title: names.join(' vs '), runs, ...(sweeps.length > 0 ? { sweeps } : {}) };
}

function runLabel(r: Results): string {
  return `${r.experiment} (${r.fidelity})`;
}
