/**
 * Report plots as Vega-Lite specs, rendered to SVG on the server (vega's headless renderer), so
 * a report needs no script and no network to view.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { ReportData } from './load.js';

export interface PlotSpec { id: string; title: string; caption: string; spec: Record<string, unknown> }
export interface RenderedPlot extends PlotSpec { svg: string }

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
      y: measure === 'accuracy'
        ? { field: 'accuracy', type: 'quantitative', title: 'accuracy', axis: { format: '.0%' } }
        : { field: 'loss', type: 'quantitative', title: 'cross-entropy loss', scale: { zero: false } },
      color: several ? { field: 'run', type: 'nominal', title: null, sort: runs.map((r) => r.label), legend: { labelLimit: 360 } } : { field: 'split', type: 'nominal', title: null, sort: ['train', 'test'] },
    };
    const which = several ? `test ${measure} per ${data.kind === 'sweep' ? 'sweep point' : 'experiment'}` : `train and test ${measure}`;
    return {
      id: `epochs-${measure}`,
      title: `${measure === 'loss' ? 'Loss' : 'Accuracy'} per epoch`,
      caption: `${which}${data.kind === 'sweep' && data.runs.length > MAX_CURVES ? ` (first ${MAX_CURVES} points)` : ''}`,
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

function axisField(path: string, values: string[]): { type: 'quantitative' | 'ordinal'; unit: string; toValue: (s: string) => number | string } {
  const parsed = values.map(parseSweepValue);
  const units = new Set(parsed.map((p) => p?.unit));
  if (parsed.every((p) => p !== undefined) && units.size === 1 && values.length > 2) {
    return { type: 'quantitative', unit: parsed[0]!.unit, toValue: (s) => parseSweepValue(s)!.value };
  }
  void path;
  return { type: 'ordinal', unit: '', toValue: (s) => s };
}

/** Final test accuracy across the sweep: a line for one axis, a heatmap for two, lines per combination beyond. */
export function sweepPlots(data: ReportData): PlotSpec[] {
  const sweep = data.sweep;
  if (!sweep || sweep.axes.length === 0) return [];
  const done = sweep.points.filter((p) => p.status === 'done' && typeof p.testAccuracy === 'number');
  if (done.length === 0) return [];
  const [a1, a2, ...rest] = sweep.axes;
  const f1 = axisField(a1!.path, a1!.values);
  const title1 = f1.unit ? `${a1!.path} (${f1.unit})` : a1!.path;
  const x = { field: 'x', type: f1.type, title: title1, ...(f1.type === 'ordinal' ? { sort: a1!.values } : {}) };
  if (!a2) {
    const values = done.map((p) => ({ x: f1.toValue(p.assignments[a1!.path] ?? ''), accuracy: p.testAccuracy!, loss: p.testLoss ?? null }));
    return [{
      id: 'sweep-accuracy',
      title: `Final test accuracy vs ${a1!.path}`,
      caption: `one point per sweep value (${done.length} of ${sweep.points.length} points finished)`,
      spec: base(values, { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'accuracy', type: 'quantitative', title: 'final test accuracy', axis: { format: '.0%' }, scale: { zero: false } } } }),
    }];
  }
  if (rest.length === 0) {
    const accs = done.map((p) => p.testAccuracy!);
    const mid = (Math.min(...accs) + Math.max(...accs)) / 2;
    const values = done.map((p) => ({ x: p.assignments[a1!.path] ?? '', y: p.assignments[a2.path] ?? '', accuracy: p.testAccuracy!, label: `${(p.testAccuracy! * 100).toFixed(1)}` }));
    const enc = {
      x: { field: 'x', type: 'ordinal', title: a1!.path, sort: a1!.values, axis: { labelAngle: 0 } },
      y: { field: 'y', type: 'ordinal', title: a2.path, sort: a2.values },
    };
    return [{
      id: 'sweep-heatmap',
      title: `Final test accuracy: ${a1!.path} × ${a2.path}`,
      caption: `accuracy in % per cell (${done.length} of ${sweep.points.length} points finished)`,
      spec: base(values, {
        layer: [
          { mark: 'rect', encoding: { ...enc, color: { field: 'accuracy', type: 'quantitative', title: 'accuracy', scale: { scheme: 'viridis' }, legend: { format: '.0%' } } } },
          { mark: { type: 'text', fontSize: 11 }, encoding: { ...enc, text: { field: 'label', type: 'nominal' }, color: { condition: { test: `datum.accuracy < ${mid}`, value: 'white' }, value: 'black' } } },
        ],
      }),
    }];
  }
  const others = [a2, ...rest].map((a) => a.path);
  const values = done.map((p) => ({ x: f1.toValue(p.assignments[a1!.path] ?? ''), accuracy: p.testAccuracy!, group: others.map((o) => `${o}=${p.assignments[o] ?? ''}`).join(', ') }));
  return [{
    id: 'sweep-accuracy',
    title: `Final test accuracy vs ${a1!.path}`,
    caption: `one line per combination of ${others.join(', ')}`,
    spec: base(values, { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'accuracy', type: 'quantitative', title: 'final test accuracy', axis: { format: '.0%' }, scale: { zero: false } }, color: { field: 'group', type: 'nominal', title: null, legend: { labelLimit: 360 } } } }),
  }];
}

/** Per-layer crossbar statistics (ADC saturation, SNR) when results.json has `layers`. */
export function layerPlots(data: ReportData): PlotSpec[] {
  let runs = data.runs.filter((r) => Array.isArray(r.results.layers) && r.results.layers.length > 0);
  if (runs.length === 0) return [];
  let note = '';
  if (data.kind === 'sweep' && runs.length > 1) {
    runs = [...runs].sort((a, b) => b.results.final.testAccuracy - a.results.final.testAccuracy).slice(0, 1);
    note = ` (best sweep point: ${runs[0]!.label})`;
  }
  const stats: { key: string; id: string; title: string; axis: Record<string, unknown>; scale: number }[] = [
    { key: 'adcSaturation', id: 'layers-adc-saturation', title: 'ADC saturation per layer', axis: { format: '.2~%' }, scale: 1 },
    { key: 'snrDb', id: 'layers-snr', title: 'MVM signal-to-noise ratio per layer (dB)', axis: {}, scale: 1 },
  ];
  const out: PlotSpec[] = [];
  for (const s of stats) {
    const values: Row[] = [];
    for (const run of runs) for (const l of run.results.layers!) {
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
          ...(several ? { color: { field: 'run', type: 'nominal', title: null, legend: { labelLimit: 360 } }, xOffset: { field: 'run' } } : { color: { value: '#4c78a8' } }),
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
