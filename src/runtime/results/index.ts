/** results.json: validated against its schema, then written atomically. */

import { join } from 'node:path';
import { XbarcRuntimeError } from '../../model/errors.js';
import { writeFileAtomic } from './atomic.js';
import { ensureOutputDir } from './output-dir.js';
import { formatResultsIssues, validateResults } from './validate.js';
import type { Results } from './types.js';

export type { EpochResult, Results, ResultsIssue } from './types.js';
export { writeFileAtomic } from './atomic.js';
export { formatResultsIssues, resultsSchemaPath, validateResults } from './validate.js';

export const RESULTS_FILE = 'results.json';

/**
 * Validate `results` and write `<dir>/results.json` (creating `dir`). Invalid results throw
 * before anything touches the disk, so an existing good file is never replaced by a bad one.
 * Returns the path written.
 */
export async function writeResults(dir: string, results: Results): Promise<string> {
  // Round-trip through JSON first: what is validated is exactly what lands on disk (NaN → null).
  const text = JSON.stringify(results, null, 2) + '\n';
  const issues = validateResults(JSON.parse(text));
  if (issues.length > 0) {
    throw new XbarcRuntimeError(
      'results/invalid',
      `results for experiment "${results.experiment}" do not match schemas/results.schema.json:\n${formatResultsIssues(issues)}`,
    );
  }
  ensureOutputDir(dir);
  const path = join(dir, RESULTS_FILE);
  await writeFileAtomic(path, text);
  return path;
}
