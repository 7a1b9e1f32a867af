/** `xbarc plan <file>`: the execution plan as a readable table, or as JSON. */
import { compile, type CompiledExperiment } from '../compiler/compile.js';
import { formatBytes } from '../compiler/lower.js';
import type { PlanExperiment, PlanLayer, PlanMemory } from '../model/plan.js';
import { printDiagnostics } from './diagnostics-output.js';
import { displayPath } from './format.js';

export interface PlanCommandOptions {
  json?: boolean;
  set?: string[];
  point?: string;
  experiment?: string;
}

export function planCommand(file: string, options: PlanCommandOptions): number {
  const point = parsePoint(options.point);
  if (point === null) return 2;
  const result = compile(file, {
    ...(options.set ? { sets: options.set } : {}),
    ...(point !== undefined ? { point } : {}),
    ...(options.experiment ? { experiment: options.experiment } : {}),
  });
  if (result.hasErrors || !result.plan) {
    printDiagnostics(result.diagnostics, result.check.program);
    return 1;
  }
  if (pointWithoutSweep('plan', file, point, result.experiments)) return 2;
  printDiagnostics(result.diagnostics, result.check.program, { stream: process.stderr, summary: false });
  if (options.json) {
    process.stdout.write(JSON.stringify(result.plan, null, 2) + '\n');
    return 0;
  }
  if (result.plan.experiments.length === 0) process.stdout.write('no experiments to plan\n');
  for (const exp of result.plan.experiments) process.stdout.write(renderExperiment(exp) + '\n');
  return 0;
}

/**
 * `--point K` only means something for a sweep: on experiments without one it would run (or
 * plan) them whole. True, after a message, when none of the selected experiments sweeps.
 */
export function pointWithoutSweep(command: string, file: string, point: number | undefined, experiments: CompiledExperiment[]): boolean {
  if (point === undefined || experiments.length === 0 || experiments.some((e) => e.plan.point !== undefined)) return false;
  const names = [...new Set(experiments.map((e) => e.plan.name))].join(', ');
  process.stderr.write(
    `xbarc ${command}: --point ${point}: ${displayPath(file)} has no sweep in experiment ${names}, so there are no points to choose from; drop --point\n`,
  );
  return true;
}

export function parsePoint(text: string | undefined): number | undefined | null {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) {
    process.stderr.write(`xbarc: --point expects a point number (0, 1, …), got ${JSON.stringify(text)}\n`);
    return null;
  }
  return Number(text);
}

function renderExperiment(exp: PlanExperiment): string {
  const lines: string[] = [];
  const point = exp.point
    ? ` — point ${exp.point.index + 1}/${exp.point.of}: ${Object.entries(exp.point.assignments)
        .map(([k, v]) => `${k} = ${v}`)
        .join(', ')}`
    : '';
  lines.push(`experiment ${exp.name} (fidelity ${exp.fidelity}, seed ${exp.seed})${point}`);
  const src = exp.data.source;
  const counts = src.kind === 'mnist' ? `${src.train} train / ${src.test} test` : `${src.train ?? 'all'} train / ${src.test ?? 'all'} test`;
  lines.push(`  data      ${src.kind}, ${counts}${exp.data.crop ? `, cropped to ${exp.data.crop}x${exp.data.crop}` : ''}`);
  lines.push(`  network   ${exp.network.name}, input ${exp.network.inputShape.join('x')}, ${exp.network.classes} classes`);
  if (exp.train) {
    const o = exp.train.optimizer;
    const opt = o.kind === 'adam' ? `adam(lr ${o.lr})` : `sgd(lr ${o.lr}${o.momentum ? `, momentum ${o.momentum}` : ''})`;
    lines.push(
      `  train     ${exp.train.epochs} epochs, batch ${exp.train.batch}, ${opt}, non-ideal: ${exp.train.nonideal.length ? exp.train.nonideal.join(', ') : 'none'}`,
    );
  } else lines.push('  train     none (inference only)');
  lines.push(`  output    ${exp.outDir}`);
  lines.push('');
  const header = [
    'layer',
    'op',
    'input',
    'output',
    'params',
    'MFLOP/sample',
    'act KiB',
    'train MiB',
    'eval MiB',
    'mapped to',
    'tiles',
    'slices',
    'streams',
    'arrays',
  ];
  const mem = new Map((exp.estimate.memory?.layers ?? []).map((l) => [l.name, l]));
  const rows = exp.network.layers.map((l) => layerRow(l, mem.get(l.name)));
  const params = exp.network.layers.reduce((s, l) => s + l.params, 0);
  const flops = exp.network.layers.reduce((s, l) => s + l.flopsPerSample, 0);
  const arrays = exp.network.layers.reduce((s, l) => s + (l.mapping?.crossbarCount ?? 0), 0);
  const m = exp.estimate.memory;
  rows.push([
    'total',
    '',
    '',
    '',
    String(params),
    (flops / 1e6).toFixed(3),
    '',
    m && exp.train ? mib(m.trainBytes) : '',
    m ? mib(m.evalBytes) : '',
    '',
    '',
    '',
    '',
    arrays ? String(arrays) : '',
  ]);
  lines.push(table([header, ...rows]));
  const merges = mergeLines(exp);
  if (merges.length) lines.push('', ...merges);
  lines.push('');
  lines.push(
    `  estimate  memory ${formatBytes(exp.estimate.memoryBytes)}, ${(exp.estimate.flopsPerTrainStep / 1e9).toFixed(3)} GFLOP per training step, ${(exp.estimate.flopsPerEvalSample / 1e6).toFixed(3)} MFLOP per inference`,
  );
  if (m) lines.push(memoryLine(exp, m));
  return lines.join('\n');
}

/** The "merges" section: every crossbar layer × direction, applied or not, and why (LayerMapping.merges). */
function mergeLines(exp: PlanExperiment): string[] {
  const rows: string[][] = [];
  for (const l of exp.network.layers) {
    for (const m of l.mapping?.merges ?? []) {
      const status = m.applied ? (exp.fidelity === 'fast' ? 'folded' : 'applied') : 'not applied';
      rows.push([l.name, m.direction, status, m.reason]);
    }
  }
  if (rows.length === 0) return [];
  const title =
    exp.fidelity === 'fast'
      ? '  merges    slices, streams and tiles of each crossbar layer folded into one GEMM (fidelity fast)'
      : '  merges    slices, streams and tiles of each crossbar layer merged into one integer GEMM where provably exact';
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  return [title, ...rows.map((r) => '    ' + r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  '))];
}

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

/** The estimated peak split by phase (docs/running.md, "Memory"). */
function memoryLine(exp: PlanExperiment, m: PlanMemory): string {
  const parts = [
    ...(exp.train ? [`training step ${formatBytes(m.trainBytes)} at batch ${exp.train.batch}`] : []),
    `evaluation ${formatBytes(m.evalBytes)} at batch ${exp.evaluate.batch}`,
    ...(m.calibrationBytes > 0 ? [`calibration ${formatBytes(m.calibrationBytes)}`, `statistics ${formatBytes(m.statisticsBytes)}`] : []),
    ...(m.noiseBytes > 0 ? [`read noise ${formatBytes(m.noiseBytes)}`] : []),
    `runtime, data and parameters ${formatBytes(m.fixedBytes)}`,
  ];
  return `  memory    peak ${formatBytes(m.peakBytes)}: ${parts.join(', ')}`;
}

function layerRow(l: PlanLayer, mem: { trainBytes: number; evalBytes: number } | undefined): string[] {
  const m = l.mapping;
  const mapped = !m ? '' : m.target === 'crossbar' ? (m.crossbar ?? 'crossbar') : 'digital';
  const tiles = m?.tiles
    ? `${m.tiles.rowTiles}x${m.tiles.colTiles} of ${m.tiles.tileRows}x${m.tiles.tileCols}`
    : m
      ? `(${m.matrix.rows}x${m.matrix.cols})`
      : '';
  return [
    l.name,
    l.op.kind,
    l.inputShape.join('x'),
    l.outputShape.join('x'),
    l.params ? String(l.params) : '',
    (l.flopsPerSample / 1e6).toFixed(3),
    (l.activationBytesPerSample / 1024).toFixed(1),
    mem && mem.trainBytes > 0 ? mib(mem.trainBytes) : '',
    mem ? mib(mem.evalBytes) : '',
    mapped,
    tiles,
    m?.weightSlices ? String(m.weightSlices) : '',
    m?.inputStreams ? String(m.inputStreams) : '',
    m?.crossbarCount ? String(m.crossbarCount) : '',
  ];
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const numeric = new Set([4, 5, 6, 7, 8, 11, 12, 13]);
  return rows
    .map(
      (r, ri) =>
        '  ' +
        r
          .map((c, i) => (numeric.has(i) && ri > 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
    )
    .join('\n');
}
