import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateResults } from '../../src/runtime/results/index.js';
import {
  buildSummary,
  classifyPoints,
  mergeSweepDir,
  pendingRecord,
  pointRelDir,
  readPointState,
  recordFromResults,
  removeStaleTempFiles,
  summaryToCsv,
  writeSummary,
} from '../../src/runtime/sweep/index.js';
import { fixtureResults, tmpDir, writeResultsFile } from './helpers.js';

const H1 = '1'.repeat(64);
const H2 = '2'.repeat(64);

test('fixture results are schema-valid (the other tests rely on it)', () => {
  assert.deepEqual(validateResults(fixtureResults({ layers: true, point: { index: 0, of: 2, assignments: { a: '1' } } })), []);
});

test('point folders are numbered with four digits', () => {
  assert.equal(pointRelDir(3).split(/[\\/]/).join('/'), 'points/0003');
  assert.equal(pointRelDir(1234).split(/[\\/]/).join('/'), 'points/1234');
});

test('readPointState: missing, invalid JSON, schema-invalid, stale hash, wrong point, done', () => {
  const dir = tmpDir();
  assert.equal(readPointState(dir, H1).state, 'missing');
  writeFileSync(join(dir, 'results.json'), '{"experiment": "x", ');
  assert.equal(readPointState(dir, H1).state, 'invalid');
  writeFileSync(join(dir, 'results.json'), '{"experiment": "x"}');
  const invalid = readPointState(dir, H1);
  assert.equal(invalid.state, 'invalid');
  assert.match((invalid as { reason: string }).reason, /missing required property/);
  writeResultsFile(dir, fixtureResults({ hash: H2, point: { index: 1, of: 2, assignments: {} } }));
  assert.equal(readPointState(dir, H1).state, 'stale');
  assert.equal(readPointState(dir, H2, 0).state, 'stale', 'results of another point');
  assert.equal(readPointState(dir, H2, 1).state, 'done');
  assert.equal(readPointState(dir).state, 'done', 'without an expected hash any valid results count');
});

test('classifyPoints keeps finished points and redoes the rest', () => {
  const dir = tmpDir();
  writeResultsFile(join(dir, 'points', '0000'), fixtureResults({ hash: H1, point: { index: 0, of: 3, assignments: { a: '1' } } }));
  writeResultsFile(join(dir, 'points', '0001'), fixtureResults({ hash: H2, point: { index: 1, of: 3, assignments: { a: '2' } } }));
  const { done, todo, reasons } = classifyPoints(dir, [
    { index: 0, assignments: { a: '1' }, specHash: H1 },
    { index: 1, assignments: { a: '2' }, specHash: H1 },
    { index: 2, assignments: { a: '3' }, specHash: H1 },
  ]);
  assert.deepEqual([...done.keys()], [0]);
  assert.deepEqual(
    todo.map((t) => t.index),
    [1, 2],
  );
  assert.match(reasons.get(1)!, /spec changed/);
  assert.equal(reasons.has(2), false);
});

test('removeStaleTempFiles removes only atomic-writer temp files', () => {
  const dir = tmpDir();
  writeFileSync(join(dir, '.results.json.1234.deadbeef.tmp'), '{');
  writeFileSync(join(dir, 'results.json'), '{}');
  writeFileSync(join(dir, 'notes.tmp'), '');
  assert.deepEqual(removeStaleTempFiles(dir), ['.results.json.1234.deadbeef.tmp']);
  assert.deepEqual(readdirSync(dir).sort(), ['notes.tmp', 'results.json']);
});

test('buildSummary: sorted points, axes in order, counts; duplicates are refused', () => {
  const a = recordFromResults(2, fixtureResults({ accuracy: 0.8, point: { index: 2, of: 4, assignments: { lr: '0.1', bits: '4' } } }));
  const b = pendingRecord(0, { lr: '0.01', bits: '4' }, H1);
  const c = { ...pendingRecord(1, { lr: '0.01', bits: '8' }), status: 'failed' as const, error: 'boom, "quoted"\nline' };
  const d = { ...pendingRecord(3, { lr: '0.1', bits: '8' }), status: 'running' as const };
  const s = buildSummary('exp', [a, b, c, d], { version: '9.9.9', now: new Date(0) });
  assert.deepEqual(
    s.points.map((p) => p.index),
    [0, 1, 2, 3],
  );
  assert.deepEqual(s.axes, [
    { path: 'lr', values: ['0.01', '0.1'] },
    { path: 'bits', values: ['4', '8'] },
  ]);
  assert.deepEqual(s.counts, { total: 4, done: 1, failed: 1, running: 1, pending: 1 });
  assert.equal(s.updatedAt, '1970-01-01T00:00:00.000Z');
  const csv = summaryToCsv(s).trimEnd().split('\n');
  assert.equal(csv[0], 'index,lr,bits,status,test_accuracy,test_loss,seconds,dir,error');
  assert.equal(csv[1], '0,0.01,4,pending,,,,points/0000,');
  assert.equal(csv[2], '1,0.01,8,failed,,,,points/0001,"boom, ""quoted""');
  assert.equal(csv[3], 'line"');
  assert.match(csv[4]!, /^2,0\.1,4,done,0\.8,0\.733\d*,4\.5,points\/0002,$/);
  assert.throws(() => buildSummary('exp', [b, b], { version: '1' }), /point 0 appears twice/);
});

test('mergeSweepDir: expected points from sweep.json, spec hashes enforced, missing listed', async () => {
  const dir = tmpDir();
  const pts = [0, 1, 2].map((i) => pendingRecord(i, { x: String(i) }, i === 1 ? H2 : H1));
  await writeSummary(dir, buildSummary('exp', pts, { version: '1' }));
  writeResultsFile(
    join(dir, 'points', '0000'),
    fixtureResults({ experiment: 'exp', hash: H1, accuracy: 0.5, point: { index: 0, of: 3, assignments: { x: '0' } } }),
  );
  writeResultsFile(join(dir, 'points', '0001'), fixtureResults({ experiment: 'exp', hash: H1, point: { index: 1, of: 3, assignments: { x: '1' } } }));
  const m = mergeSweepDir(dir, { version: '1' });
  assert.deepEqual(m.missing, [1, 2]);
  assert.equal(m.invalid.length, 1, 'point 1 has results of another spec');
  assert.deepEqual(
    m.summary.points.map((p) => p.status),
    ['done', 'pending', 'pending'],
  );
  assert.equal(m.summary.points[0]!.testAccuracy, 0.5);
  // Without a sweep.json: the point folders present.
  const bare = tmpDir();
  mkdirSync(join(bare, 'points', '0001'), { recursive: true });
  writeResultsFile(join(bare, 'points', '0000'), fixtureResults({ experiment: 'bare', point: { index: 0, of: 2, assignments: { y: 'a' } } }));
  const mb = mergeSweepDir(bare, { version: '1' });
  assert.equal(mb.summary.experiment, 'bare');
  assert.deepEqual(mb.missing, [1]);
  assert.deepEqual(mb.summary.axes, [{ path: 'y', values: ['a'] }]);
  await writeSummary(bare, mb.summary);
  assert.match(readFileSync(join(bare, 'sweep.csv'), 'utf8'), /^index,y,status/);
  assert.deepEqual(
    readdirSync(bare).filter((n) => n.endsWith('.tmp')),
    [],
    'no temp files left behind',
  );
});
