/**
 * Report plots as Vega-Lite specs, rendered to SVG on the server (vega's headless renderer), so
 * a report needs no script and no network to view.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { ReportData, ReportRun } from './load.js';

export interface PlotSpec {
  id: string;
  title: string;
  caption: string;
  spec: Record<string, unknown>;
}
export interface RenderedPlot extends PlotSpec {
  svg: string;
}

const WIDTH = 420;
const HEIGHT = 240;
const MAX_CURVES = 24;

type Row = Record<string, string | number | null>;

function base(values: Row[], extra: Record<string, unknown>): Record<string, unknown> {
  return { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', width: WIDTH, height: HEIGHT, background: 'white', data: { values }, ...extra };
}

/** Loss and accuracy per epoch: train and test for one run; test per run when comparing several. */
export function epochPlots(data: ReportData): PlotSpec[] {
  const runs = data.runs.filter((r) => r.results.epochs.length > 0).slice(0, MAX_CURVES);
  if (runs.length === 0) return [];
  const rows: Row[] = [];
  for (const run of runs) {
    for (const e of run.results.epochs) {
      rows.push({ run: run.label, epoch: e.epoch, split: 'train', loss: e.trainLoss, accuracy: e.trainAccuracy });
      rows.push({ run: run.label, epoch: e.epoch, split: 'test', loss: e.testLoss, accuracy: e.testAccuracy });
    }
  }
  const several = runs.length > 1;
  const maxEpoch = Math.max(...runs.map((r) => r.results.epochs.length));
  const step = Math.max(1, Math.ceil(maxEpoch / 12));
  const epochTicks = Array.from({ length: Math.ceil(maxEpoch / step) }, (_, i) => 1 + i * step);
  const plot = (measure: 'loss' | 'accuracy'): PlotSpec => {
    const values = several ? rows.filter((r) => r['split'] === 'test') : rows;
    const encoding: Record<string, unknown> = {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { values: epochTicks, format: 'd' } },
      y:
        measure === 'accuracy'
          ? { field: 'accuracy', type: 'quantitative', title: 'accuracy', axis: { format: '.0%' } }
          : { field: 'loss', type: 'quantitative', title: 'cross-entropy loss', scale: { zero: false } },
      color: several
        ? { field: 'run', type: 'nominal', title: null, sort: runs.map((r) => r.label), legend: { labelLimit: 360 } }
        : { field: 'split', type: 'nominal', title: null, sort: ['train', 'test'] },
    };
    const per = data.kind === 'sweep' ? 'sweep point' : data.sweeps ? 'experiment and sweep point' : 'experiment';
    const which = several ? `test ${measure} per ${per}` : `train and test ${measure}`;
    return {
      id: `epochs-${measure}`,
      title: `${measure === 'loss' ? 'Loss' : 'Accuracy'} per epoch`,
      caption: `${which}${data.runs.length > MAX_CURVES ? ` (first ${MAX_CURVES} runs)` : ''}`,
      spec: base(values, { mark: { type: 'line', point: true }, encoding }),
    };
  };
  return [plot('loss'), plot('accuracy')];
}

/** "5 %" → {value 5, unit "%"}; "0.01" → {0.01, ""}; names → undefined. */
export function parseSweepValue(text: string): { value: number; unit: string } | undefined {
  const m = /^\s*(-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*([A-Za-z%µ]*)\s*$/i.exec(text);
  return m ? { value: Number(m[1]), unit: m[2] ?? '' } : undefined;
}

function axisField(values: string[]): { type: 'quantitative' | 'ordinal'; unit: string; toValue: (s: string) => number | string } {
  const parsed = values.map(parseSweepValue);
  const units = new Set(parsed.map((p) => p?.unit));
  if (parsed.every((p) => p !== undefined) && units.size === 1 && values.length > 2) {
    return { type: 'quantitative', unit: parsed[0]!.unit, toValue: (s) => parseSweepValue(s)!.value };
  }
  return { type: 'ordinal', unit: '', toValue: (s) => s };
}

/** A sweep point's final accuracy, or the mean over its seeds (sd and n when several). */
interface AccuracyCell {
  assignments: Record<string, string>;
  accuracy: number;
  sd: number;
  n: number;
}

/**
 * Finished points grouped over a swept `seed` axis (replicates, not a design factor): one cell per
 * combination of the other axes with the mean accuracy, its sample standard deviation and count.
 * Without a seed axis (or with seed as the only axis) every point is its own cell.
 */
export function accuracyCells(sweep: NonNullable<ReportData['sweep']>): {
  cells: AccuracyCell[];
  axes: NonNullable<ReportData['sweep']>['axes'];
  seeds: number;
} {
  const done = sweep.points.filter((p) => p.status === 'done' && typeof p.testAccuracy === 'number');
  const seedAxis = sweep.axes.find((a) => a.path === 'seed');
  const axes = seedAxis && sweep.axes.length > 1 ? sweep.axes.filter((a) => a !== seedAxis) : sweep.axes;
  const groups = new Map<string, { assignments: Record<string, string>; accs: number[] }>();
  for (const p of done) {
    const assignments = Object.fromEntries(axes.map((a) => [a.path, p.assignments[a.path] ?? '']));
    const key = JSON.stringify(assignments);
    const g = groups.get(key) ?? { assignments, accs: [] };
    g.accs.push(p.testAccuracy!);
    groups.set(key, g);
  }
  const cells = [...groups.values()].map(({ assignments, accs }) => {
    const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
    const sd = accs.length > 1 ? Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / (accs.length - 1)) : 0;
    return { assignments, accuracy: mean, sd, n: accs.length };
  });
  return { cells, axes, seeds: axes === sweep.axes ? 1 : seedAxis!.values.length };
}

/** A plain experiment's final accuracy, drawn as a reference line across a sweep's plot. */
export interface Baseline {
  label: string;
  accuracy: number;
}

/**
 * Final test accuracy across the sweep(s): a line for one axis, a heatmap for two, lines per
 * combination beyond. A swept `seed` is averaged over (mean, with ± one standard deviation). In a
 * comparison every sweep gets its plot, with the plain experiments as dashed baselines.
 */
export function sweepPlots(data: ReportData): PlotSpec[] {
  if (data.sweep) return sweepPlotsFor(data.sweep, { id: '', baselines: [] });
  const baselines = data.runs.filter((r) => r.sweep === undefined).map((r) => ({ label: r.label, accuracy: r.results.final.testAccuracy }));
  return (data.sweeps ?? []).flatMap((s) =>
    sweepPlotsFor(s.summary, { id: `-${s.dir.replace(/[^A-Za-z0-9_-]/g, '_')}`, baselines, name: s.summary.experiment }),
  );
}

function sweepPlotsFor(sweep: NonNullable<ReportData['sweep']>, o: { id: string; baselines: Baseline[]; name?: string }): PlotSpec[] {
  if (sweep.axes.length === 0) return [];
  const { cells, axes, seeds } = accuracyCells(sweep);
  if (cells.length === 0) return [];
  const finished = `${sweep.points.filter((p) => p.status === 'done').length} of ${sweep.points.length} points finished`;
  const of = o.name ? `${o.name}: ` : '';
  const baseText = o.baselines.map((b) => `${b.label} ${(b.accuracy * 100).toFixed(1)} %`).join(', ');
  const dashed = o.baselines.length > 0 ? `; dashed: ${baseText}` : '';
  // Baselines as dashed horizontal rules (their own data), in the legend by name.
  const rules =
    o.baselines.length > 0
      ? [
          {
            data: { values: o.baselines.map((b) => ({ baseline: b.label, accuracy: b.accuracy })) },
            mark: { type: 'rule', strokeDash: [6, 4] },
            encoding: {
              y: { field: 'accuracy', type: 'quantitative' },
              color: { field: 'baseline', type: 'nominal', title: null, legend: { labelLimit: 360 } },
            },
          },
        ]
      : [];
  const over = seeds > 1 ? `mean over ${seeds} seeds, ± one standard deviation; ` : '';
  const [a1, a2, ...rest] = axes;
  const f1 = axisField(a1!.values);
  const title1 = f1.unit ? `${a1!.path} (${f1.unit})` : a1!.path;
  const x = { field: 'x', type: f1.type, title: title1, ...(f1.type === 'ordinal' ? { sort: a1!.values } : {}) };
  // Sweeps often differ by fractions of a point: one decimal keeps the axis labels distinct.
  const y = {
    field: 'accuracy',
    type: 'quantitative',
    title: seeds > 1 ? 'final test accuracy (mean)' : 'final test accuracy',
    axis: { format: '.1%' },
    scale: { zero: false },
  };
  const bars = (color?: Record<string, unknown>) =>
    seeds > 1
      ? [
          {
            mark: { type: 'errorbar' },
            encoding: { x, y: { field: 'lo', type: 'quantitative', title: y.title, scale: { zero: false } }, y2: { field: 'hi' }, ...(color ? { color } : {}) },
          },
        ]
      : [];
  const spread = (c: AccuracyCell) => ({ lo: c.accuracy - c.sd, hi: c.accuracy + c.sd });
  // A line joins values on a numeric scale; categories (devices, shapes) get points.
  const mark = f1.type === 'quantitative' ? { type: 'line', point: true } : { type: 'point', filled: true, size: 60 };
  if (!a2) {
    const values = cells.map((c) => ({ x: f1.toValue(c.assignments[a1!.path] ?? ''), accuracy: c.accuracy, ...spread(c) }));
    return [
      {
        id: `sweep-accuracy${o.id}`,
        title: `${of}Final test accuracy vs ${a1!.path}`,
        caption: `${over}one point per sweep value (${finished})${dashed}`,
        spec: base(values, { layer: [{ mark, encoding: { x, y } }, ...bars(), ...rules] }),
      },
    ];
  }
  if (rest.length === 0) {
    const accs = cells.map((c) => c.accuracy);
    const mid = (Math.min(...accs) + Math.max(...accs)) / 2;
    const label = (c: AccuracyCell) => `${(c.accuracy * 100).toFixed(1)}${c.n > 1 ? ` ±${(c.sd * 100).toFixed(1)}` : ''}`;
    const values = cells.map((c) => ({ x: c.assignments[a1!.path] ?? '', y: c.assignments[a2.path] ?? '', accuracy: c.accuracy, label: label(c) }));
    const enc = {
      x: { field: 'x', type: 'ordinal', title: a1!.path, sort: a1!.values, axis: { labelAngle: 0 } },
      y: { field: 'y', type: 'ordinal', title: a2.path, sort: a2.values },
    };
    return [
      {
        id: `sweep-heatmap${o.id}`,
        title: `${of}Final test accuracy: ${a1!.path} × ${a2.path}`,
        caption: `${over}accuracy in % per cell (${finished})${baseText ? `; for comparison: ${baseText}` : ''}`,
        spec: base(values, {
          ...(seeds > 1 ? { width: WIDTH + 80 } : {}),
          layer: [
            {
              mark: 'rect',
              encoding: {
                ...enc,
                color: { field: 'accuracy', type: 'quantitative', title: 'accuracy', scale: { scheme: 'viridis' }, legend: { format: '.0%' } },
              },
            },
            {
              mark: { type: 'text', fontSize: 11 },
              encoding: {
                ...enc,
                text: { field: 'label', type: 'nominal' },
                color: { condition: { test: `datum.accuracy < ${mid}`, value: 'white' }, value: 'black' },
              },
            },
          ],
        }),
      },
    ];
  }
  const others = [a2, ...rest].map((a) => a.path);
  const values = cells.map((c) => ({
    x: f1.toValue(c.assignments[a1!.path] ?? ''),
    accuracy: c.accuracy,
    ...spread(c),
    group: others.map((o) => `${o}=${c.assignments[o] ?? ''}`).join(', '),
  }));
  const color = { field: 'group', type: 'nominal', title: null, legend: { labelLimit: 360 } };
  return [
    {
      id: `sweep-accuracy${o.id}`,
      title: `${of}Final test accuracy vs ${a1!.path}`,
      caption: `${over}one line per combination of ${others.join(', ')}${dashed}`,
      spec: base(values, { layer: [{ mark, encoding: { x, y, color } }, ...bars(color), ...rules] }),
    },
  ];
}

/** Per-layer crossbar statistics (ADC saturation, SNR) when results.json has `layers`. */
export function layerPlots(data: ReportData): PlotSpec[] {
  let runs = data.runs.filter((r) => Array.isArray(r.results.layers) && r.results.layers.length > 0);
  if (runs.length === 0) return [];
  let note = '';
  if (data.kind === 'sweep' && runs.length > 1) {
    runs = [...runs].sort((a, b) => b.results.final.testAccuracy - a.results.final.testAccuracy).slice(0, 1);
    note = ` (best sweep point: ${runs[0]!.label})`;
  } else if (data.kind === 'comparison' && runs.some((r) => r.sweep !== undefined)) {
    // One bar group per experiment: a sweep is represented by its best point.
    const best = new Map<string, ReportRun>();
    for (const r of runs) {
      const key = r.sweep ?? `\0${r.dir}`;
      const prev = best.get(key);
      if (!prev || r.results.final.testAccuracy > prev.results.final.testAccuracy) best.set(key, r);
    }
    runs = [...best.values()];
    note = ' (best point of each sweep)';
  }
  const stats: { key: string; id: string; title: string; axis: Record<string, unknown>; scale: number }[] = [
    { key: 'adcSaturation', id: 'layers-adc-saturation', title: 'ADC saturation per layer', axis: { format: '.2~%' }, scale: 1 },
    { key: 'snrDb', id: 'layers-snr', title: 'MVM signal-to-noise ratio per layer (dB)', axis: {}, scale: 1 },
  ];
  const out: PlotSpec[] = [];
  for (const s of stats) {
    const values: Row[] = [];
    for (const run of runs)
      for (const l of run.results.layers!) {
        const v = l[s.key];
        if (typeof v === 'number' && Number.isFinite(v)) values.push({ run: run.label, layer: l.name, value: v * s.scale });
      }
    if (values.length === 0) continue;
    const layersOrder = [...new Set(values.map((v) => String(v['layer'])))];
    const several = runs.length > 1;
    out.push({
      id: s.id,
      title: s.title,
      caption: `evaluation on the first test batch${note}`,
      spec: base(values, {
        mark: 'bar',
        encoding: {
          x: { field: 'layer', type: 'nominal', sort: layersOrder, title: 'layer', axis: { labelAngle: 0 } },
          y: { field: 'value', type: 'quantitative', title: s.key === 'snrDb' ? 'SNR (dB)' : 'saturated conversions', axis: s.axis },
          ...(several
            ? { color: { field: 'run', type: 'nominal', title: null, legend: { labelLimit: 360 } }, xOffset: { field: 'run' } }
            : { color: { value: '#4c78a8' } }),
        },
      }),
    });
  }
  return out;
}

export function reportPlots(data: ReportData): PlotSpec[] {
  return [...epochPlots(data), ...sweepPlots(data), ...layerPlots(data)];
}

/** Render one Vega-Lite spec to SVG; ids are prefixed so several inline SVGs never collide. */
export async function renderPlot(plot: PlotSpec): Promise<RenderedPlot> {
  const compiled = vl.compile(plot.spec as unknown as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    let svg = await view.toSVG();
    svg = svg.replace(/\bid="([^"]+)"/g, `id="${plot.id}-$1"`).replace(/url\(#([^)]+)\)/g, `url(#${plot.id}-$1)`);
    svg = svg.replace('<svg ', `<svg role="img" aria-label="${plot.title.replace(/[&<>"]/g, '')}" `);
    return { ...plot, svg };
  } finally {
    view.finalize();
  }
}
