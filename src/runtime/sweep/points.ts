/**
 * Sweep points on disk: every point of a sweep owns `DIR/points/NNNN/`. A point is finished when
 * its results.json is present, valid against the schema, and carries the point's current spec
 * hash; anything else (missing, half-written temp files, a stale hash, an invalid file) is redone.
 */
import { existsSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { FileReadError, readRegularText } from '../../io/read-file.js';
import { validateResults, type Results } from '../results/index.js';

export const POINTS_DIR = 'points';

/** `points/0003` for point 3 (relative to the sweep directory). */
export function pointRelDir(index: number): string {
  return join(POINTS_DIR, String(index).padStart(4, '0'));
}

export function pointDir(sweepDir: string, index: number): string {
  return join(sweepDir, pointRelDir(index));
}

export type PointState =
  { state: 'done'; results: Results; resultsPath: string } | { state: 'missing' } | { state: 'invalid'; reason: string } | { state: 'stale'; reason: string };

/**
 * What is on disk for one point. With `expectedSpecHash`, results of a different spec (the
 * sweep was edited since) count as stale; without it (merge), any valid results count.
 */
export function readPointState(dir: string, expectedSpecHash?: string, expectedIndex?: number): PointState {
  const resultsPath = join(dir, 'results.json');
  if (!existsSync(resultsPath)) return { state: 'missing' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readRegularText(resultsPath, 'json'));
  } catch (err) {
    if (err instanceof FileReadError) return { state: 'invalid', reason: `results.json ${err.reason}` };
    return { state: 'invalid', reason: `results.json is not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  const issues = validateResults(parsed);
  if (issues.length > 0) return { state: 'invalid', reason: `results.json does not match the schema: ${issues[0]!.path || '(root)'} ${issues[0]!.message}` };
  const results = parsed as Results;
  if (expectedSpecHash !== undefined && results.specHash !== expectedSpecHash)
    return { state: 'stale', reason: "the point's spec changed since these results were written" };
  if (expectedIndex !== undefined && results.point && results.point.index !== expectedIndex)
    return { state: 'stale', reason: `results belong to point ${results.point.index}` };
  return { state: 'done', results, resultsPath };
}

/** Remove temp files an interrupted writer left behind (`.results.json.<pid>.<rand>.tmp`). */
export function removeStaleTempFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    if (!/^\..+\.\d+\.[0-9a-f]+\.tmp$/.test(name)) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch {
      // already gone
    }
  }
  return removed;
}

/** Point indices found under `DIR/points/` (folders named with digits), sorted. */
export function listPointDirs(sweepDir: string): number[] {
  const root = join(sweepDir, POINTS_DIR);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => /^\d+$/.test(n) && statSync(join(root, n)).isDirectory())
    .map((n) => Number(n))
    .sort((a, b) => a - b);
}
