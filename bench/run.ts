/**
 * `npm run bench`: run the registered benchmark sections, print each measurement with its ratio
 * against a baseline measured in this same run, and write bench/out/latest.json.
 *
 *   node dist/bench/run.js [filter ...]   (run only sections whose name contains a filter)
 *
 * A section whose module fails to load, or that throws SkipSection, is skipped with its reason;
 * a section that fails while running sets a non-zero exit code.
 */

import { cpus } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../src/runtime/results/atomic.js';
import { repoRoot, SkipSection, timeIt, type Row, type Section, type Timing } from './harness.js';

/** Section modules, relative to this file, in run order. */
const SECTION_MODULES = [
  './engine.bench.js',
  './torch.bench.js',
  './forms.bench.js',
  './lsp.bench.js',
  './crossbar.bench.js',
  './parasitics.bench.js',
  './parasitics-accuracy.bench.js',
  './surrogate.bench.js',
  './devices.bench.js',
  './contention.bench.js',
  './online.bench.js',
  './scale.bench.js',
];

interface ReportRow extends Row {
  /** value / baseline.value */
  ratio?: number;
  /** For time rows: value / calibration median, a machine-speed-independent cost. */
  perCalibration?: number;
}

interface SectionReport {
  module: string;
  name: string;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  seconds: number;
  rows: ReportRow[];
}

/**
 * A fixed pure-JS workload (128³ float32 matmul) timed before and after the sections: it turns
 * time rows into machine-independent multiples, and its drift shows how noisy this run was.
 */
function calibrationKernel(): () => number {
  const n = 128;
  const a = new Float32Array(n * n).map((_, i) => (i % 13) / 13);
  const b = new Float32Array(n * n).map((_, i) => (i % 7) / 7);
  const c = new Float32Array(n * n);
  return () => {
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < n; k++) {
        const aik = a[i * n + k]!;
        for (let j = 0; j < n; j++) c[i * n + j]! += aik * b[k * n + j]!;
      }
    }
    return c[0]!;
  };
}

async function calibrate(): Promise<Timing> {
  return timeIt(calibrationKernel(), { warmup: 10, reps: 40 });
}

async function loadSection(spec: string): Promise<Section> {
  let mod: { section?: Section };
  try {
    mod = (await import(spec)) as { section?: Section };
  } catch (err) {
    throw new SkipSection(`module failed to load: ${firstLine(err)}`);
  }
  if (!mod.section || typeof mod.section.run !== 'function') throw new SkipSection('module exports no `section`');
  return mod.section;
}

async function runSection(spec: string, filters: string[], calibrationMs: number): Promise<SectionReport | null> {
  const t0 = performance.now();
  const report = (status: SectionReport['status'], name: string, rows: ReportRow[], reason?: string): SectionReport => ({
    module: spec,
    name,
    status,
    ...(reason === undefined ? {} : { reason }),
    seconds: (performance.now() - t0) / 1000,
    rows,
  });
  let section: Section;
  try {
    section = await loadSection(spec);
  } catch (err) {
    return report('skipped', spec, [], firstLine(err));
  }
  if (filters.length > 0 && !filters.some((f) => section.name.includes(f))) return null;
  try {
    const rows = await section.run();
    return report(
      'ok',
      section.name,
      rows.map((r) => withRatios(r, calibrationMs)),
    );
  } catch (err) {
    if (err instanceof SkipSection) return report('skipped', section.name, [], err.message);
    return report('failed', section.name, [], err instanceof Error ? (err.stack ?? err.message) : String(err));
  }
}

function withRatios(row: Row, calibrationMs: number): ReportRow {
  const out: ReportRow = { ...row };
  if (row.baseline) out.ratio = row.value / row.baseline.value;
  if (row.unit === 'ms') out.perCalibration = row.value / calibrationMs;
  return out;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

function fmt(x: number | undefined, digits = 3): string {
  if (x === undefined || !Number.isFinite(x)) return '';
  return Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(digits);
}

function printSection(s: SectionReport): void {
  console.log(`\n## ${s.name}  [${s.status}${s.status === 'ok' ? `, ${s.seconds.toFixed(1)} s` : ''}]`);
  if (s.reason) console.log(`   ${s.status === 'skipped' ? 'skipped' : 'FAILED'}: ${s.reason}`);
  if (s.rows.length === 0) return;
  const table = [
    ['measurement', 'value', 'unit', 'baseline', 'ratio', '× calib'],
    ...s.rows.map((r) => [r.name, fmt(r.value), r.unit, r.baseline?.name ?? '', r.ratio === undefined ? '' : `${fmt(r.ratio)}×`, fmt(r.perCalibration)]),
  ];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  for (const [i, row] of table.entries()) {
    console.log('   ' + row.map((cell, c) => (c === 0 || c === 3 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
    if (i === 0) console.log('   ' + widths.map((w) => '-'.repeat(w)).join('  '));
  }
  for (const r of s.rows) if (r.note) console.log(`   note (${r.name}): ${r.note}`);
}

async function main(): Promise<void> {
  const filters = process.argv.slice(2);
  const startedAt = new Date().toISOString();
  const calibStart = await calibrate();
  console.log(`xbarc bench — Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'})`);
  console.log(`calibration (pure-JS 128³ matmul): median ${fmt(calibStart.medianMs)} ms, fastest ${fmt(calibStart.minMs)} ms`);

  const sections: SectionReport[] = [];
  for (const spec of SECTION_MODULES) {
    const report = await runSection(spec, filters, calibStart.medianMs);
    if (!report) continue;
    printSection(report);
    sections.push(report);
    if (report.status === 'failed') process.exitCode = 1;
  }

  const calibEnd = await calibrate();
  const drift = calibEnd.medianMs / calibStart.medianMs;
  console.log(`\ncalibration after: median ${fmt(calibEnd.medianMs)} ms (drift ${fmt(drift)}× — far from 1 means a noisy run)`);

  const outDir = join(repoRoot(), 'bench', 'out');
  await mkdir(outDir, { recursive: true });
  const latest = {
    startedAt,
    finishedAt: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? null,
    calibration: { unit: 'ms', start: calibStart, end: calibEnd, drift },
    sections,
  };
  await writeFileAtomic(join(outDir, 'latest.json'), JSON.stringify(latest, null, 2) + '\n');
  console.log(`wrote ${join('bench', 'out', 'latest.json')}`);
}

await main();
