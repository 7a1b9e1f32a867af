/** Validate results objects against schemas/results.schema.json (ajv, draft 2020-12). */

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Named import: ajv is CommonJS, and under NodeNext its default export is the module object.
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { ResultsIssue } from './types.js';

const SCHEMA_FILE = join('schemas', 'results.schema.json');

/** Find the schema by walking up from this module (works from src/ under ts and from dist/). */
export function resultsSchemaPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, SCHEMA_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find ${SCHEMA_FILE} above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

let validator: ValidateFunction | null = null;

function compiled(): ValidateFunction {
  if (!validator) {
    const schema = JSON.parse(readFileSync(resultsSchemaPath(), 'utf8')) as object;
    validator = new Ajv2020({ allErrors: true, strict: true }).compile(schema);
  }
  return validator;
}

/** Schema violations of `obj` as located issues; empty when it is valid results. */
export function validateResults(obj: unknown): ResultsIssue[] {
  const validate = compiled();
  if (validate(obj)) return [];
  return (validate.errors ?? []).map(toIssue);
}

function toIssue(e: ErrorObject): ResultsIssue {
  const params = e.params as Record<string, unknown>;
  let message = e.message ?? 'is invalid';
  if (e.keyword === 'additionalProperties') message = `unknown property "${String(params['additionalProperty'])}"`;
  if (e.keyword === 'required') message = `missing required property "${String(params['missingProperty'])}"`;
  if (e.keyword === 'enum') message = `must be one of ${JSON.stringify(params['allowedValues'])}`;
  return { path: e.instancePath, message };
}

/** One line per issue, e.g. "  /epochs/0/testAccuracy: must be <= 1". */
export function formatResultsIssues(issues: ResultsIssue[]): string {
  return issues.map((i) => `  ${i.path === '' ? '(root)' : i.path}: ${i.message}`).join('\n');
}
