/**
 * What a report shows, read from a results directory: one experiment (DIR/results.json), a sweep
 * (DIR/sweep.json and DIR/points/NNNN/results.json), or several experiments side by side
 * (DIR/<name>/results.json, as `xbarc run --out DIR` writes for a spec with several experiments).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileReadError, readRegularText } from '../../io/read-file.js';
import { XbarcRuntimeError } from '../../model/errors.js';
import { formatResultsIssues, validateResults, type Results } from '../results/index.js';
import { listPointDirs, pointDir, readPointState } from '../sweep/points.js';
import { mergeSweepDir, readSummary, type SweepSummary } from '../sweep/summary.js';

export interface ReportRun {
  /** Short label for legends: the experiment (and fidelity), or the point's assignments. */
  label: string;
  /** Relative to the report directory. */
  dir: string;
  results: Results;
}

export interface ReportData {
  kind: 'experiment' | 'sweep' | 'comparison';
  title: string;
  runs: ReportRun[];
  sweep?: SweepSummary;
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
  if (issues.length > 0) throw new XbarcRuntimeError('report/invalid-results', `${path} does not match schemas/results.schema.json:\n${formatResultsIssues(issues)}`);
  return parsed as Results;
}

export function loadReportData(dir: string, version: string): ReportData {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new XbarcRuntimeError('report/no-results', `${dir} is not a directory`);
  const single = join(dir, 'results.json');
  if (existsSync(single)) {
    const results = readResultsFile(single);
    return { kind: 'experiment', title: results.experiment, runs: [{ label: runLabel(results), dir: '.', results }] };
  }
  if (existsSync(join(dir, 'sweep.json')) || listPointDirs(dir).length > 0) {
    const sweep = existsSync(join(dir, 'sweep.json')) ? refreshStatuses(dir, readSummary(dir)!, version) : mergeSweepDir(dir, { version }).summary;
    const runs: ReportRun[] = [];
    for (const p of sweep.points) {
      if (p.status !== 'done') continue;
      const state = readPointState(pointDir(dir, p.index), undefined, p.index);
      if (state.state !== 'done') continue;
      runs.push({ label: Object.entries(p.assignments).map(([k, v]) => `${k}=${v}`).join(', ') || `point ${p.index}`, dir: p.dir, results: state.results });
    }
    return { kind: 'sweep', title: sweep.experiment, runs, sweep };
  }
  const subs = readdirSync(dir).filter((n) => existsSync(join(dir, n, 'results.json'))).sort();
  if (subs.length > 0) {
    const runs = subs.map((n) => {
      const results = readResultsFile(join(dir, n, 'results.json'));
      return { label: runLabel(results), dir: n, results };
    });
    return { kind: 'comparison', title: runs.map((r) => r.results.experiment).join(' vs '), runs };
  }
  throw new XbarcRuntimeError('report/no-results', `${dir} has no results.json, sweep.json or points/ to report on; run an experiment first (xbarc run SPEC --out ${dir})`);
}

/** sweep.json may be older than the points (a killed run): trust the points on disk. */
function refreshStatuses(dir: string, summary: SweepSummary, version: string): SweepSummary {
  const merged = mergeSweepDir(dir, { version }).summary;
  return merged.points.length >= summary.points.length ? merged : summary;
}

function runLabel(r: Results): string {
  return `${r.experiment} (${r.fidelity})`;
}
