/**
 * `npm run goldens`: rewrite every test/fixtures/<case>/expected.txt from the current checker and
 * print which ones changed. Review the result with `git diff test/fixtures` before committing.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { relative } from 'node:path';
import { packageRoot } from '../../src/compiler/resolve.js';
import { goldenText, listFixtures, runFixture } from './goldens.js';

const fixtures = listFixtures();
let changed = 0;
for (const f of fixtures) {
  const text = goldenText(runFixture(f).lines);
  const before = existsSync(f.expectedPath) ? readFileSync(f.expectedPath, 'utf8') : undefined;
  if (before === text) continue;
  writeFileSync(f.expectedPath, text);
  changed++;
  process.stdout.write(`${before === undefined ? 'created' : 'updated'} ${relative(packageRoot, f.expectedPath)}\n`);
}
process.stdout.write(
  `${fixtures.length} fixtures, ${changed} expected.txt file${changed === 1 ? '' : 's'} changed${changed > 0 ? ' (review with: git diff test/fixtures)' : ''}\n`,
);
