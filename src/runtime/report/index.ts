/**
 * Reports: `xbarc report DIR` renders a results directory through handlebars templates —
 * `report.html` (self-contained: inline CSS and SVG plots, no scripts, nothing fetched) and
 * `report.md` (plots as SVG files in `report-plots/` beside it). Templates live in
 * `templates/report/` and can be replaced with `--template FILE`.
 */
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { toolVersion } from '../../model/tool.js';
import { packageRoot } from '../../model/tool.js';
import { writeFileAtomic } from '../results/index.js';
import { ensureOutputDir } from '../results/output-dir.js';
import { readTemplate } from '../templates.js';
import { loadReportData, type ReportData } from './load.js';
import { renderPlot, reportPlots, type RenderedPlot } from './plots.js';

export { loadReportData, readResultsFile, type ReportData, type ReportRun } from './load.js';
export { reportPlots, renderPlot, parseSweepValue, type PlotSpec, type RenderedPlot } from './plots.js';

export type ReportFormat = 'html' | 'md';
export const REPORT_PLOTS_DIR = 'report-plots';

export interface ReportOptions {
  formats?: ReportFormat[];
  /** A handlebars template replacing the built-in one (with several formats: used for each). */
  template?: string;
  now?: Date;
}

export function defaultTemplatePath(format: ReportFormat): string {
  return join(packageRoot, 'templates', 'report', format === 'html' ? 'report.html.hbs' : 'report.md.hbs');
}

const pct = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(2)} %` : '—');
const num = (x: unknown, digits = 4) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '—');

export function reportHandlebars(): typeof Handlebars {
  const hb = Handlebars.create();
  hb.registerHelper('pct', (x: unknown) => pct(x));
  hb.registerHelper('fixed', (x: unknown, digits: unknown) => num(x, typeof digits === 'number' ? digits : 4));
  hb.registerHelper('json', (x: unknown) => JSON.stringify(x, null, 2));
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  // Markdown table cells: no pipes or newlines.
  hb.registerHelper('cell', (x: unknown) =>
    String(x ?? '')
      .replace(/\|/g, '\\|')
      .replace(/\r?\n/g, ' '),
  );
  return hb;
}

/** Everything a template sees. */
export function reportContext(data: ReportData, plots: RenderedPlot[], now: Date): Record<string, unknown> {
  const runs = data.runs.map((r) => ({
    label: r.label,
    dir: r.dir,
    experiment: r.results.experiment,
    fidelity: r.results.fidelity,
    seed: r.results.seed,
    specHash: r.results.specHash,
    shortHash: r.results.specHash.slice(0, 12),
    version: r.results.xbarc.version,
    startedAt: r.results.startedAt,
    finishedAt: r.results.finishedAt,
    testAccuracy: r.results.final.testAccuracy,
    testLoss: r.results.final.testLoss,
    seconds: r.results.timing.totalSeconds,
    epochs: r.results.epochs,
    layers: r.results.layers ?? [],
    hasLayers: (r.results.layers ?? []).length > 0,
    resolvedSpec: JSON.stringify(r.results.resolvedSpec, null, 2),
    // A point of a sweep in a comparison: its sweep and values (its epochs are in the sweep's own report).
    sweep: r.sweep,
    pointText:
      r.sweep !== undefined
        ? Object.entries(r.results.point?.assignments ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')
        : undefined,
  }));
  const experimentNames = new Set(data.runs.map((r) => r.sweep ?? `\0${r.dir}`));
  for (const s of data.sweeps ?? []) experimentNames.add(s.summary.experiment);
  const sweep = data.sweep
    ? {
        experiment: data.sweep.experiment,
        spec: data.sweep.spec,
        axes: data.sweep.axes,
        axisNames: data.sweep.axes.map((a) => a.path),
        counts: data.sweep.counts,
        points: data.sweep.points.map((p) => ({ ...p, values: data.sweep!.axes.map((a) => p.assignments[a.path] ?? '') })),
        best: [...data.sweep.points].filter((p) => p.status === 'done').sort((a, b) => (b.testAccuracy ?? 0) - (a.testAccuracy ?? 0))[0],
      }
    : undefined;
  return {
    title: data.title,
    kind: data.kind,
    isExperiment: data.kind === 'experiment',
    isSweep: data.kind === 'sweep',
    isComparison: data.kind === 'comparison',
    generatedAt: now.toISOString(),
    version: toolVersion,
    runs,
    run: runs[0],
    experimentCount: experimentNames.size,
    sweepCount: (data.sweeps ?? []).length,
    sweep,
    plots: plots.map((p) => ({ id: p.id, title: p.title, caption: p.caption, svg: p.svg, file: `${REPORT_PLOTS_DIR}/${p.id}.svg` })),
  };
}

/** Render the report(s) of `dir`; returns the files written. */
export async function renderReport(dir: string, options: ReportOptions = {}): Promise<string[]> {
  const formats = options.formats ?? ['html'];
  const data = loadReportData(dir, toolVersion);
  const plots: RenderedPlot[] = [];
  for (const p of reportPlots(data)) plots.push(await renderPlot(p));
  const context = reportContext(data, plots, options.now ?? new Date());
  const hb = reportHandlebars();
  const written: string[] = [];
  for (const format of formats) {
    const templatePath = options.template ?? defaultTemplatePath(format);
    const template = hb.compile(readTemplate(templatePath), { strict: false });
    const text = template(context);
    if (format === 'md') {
      ensureOutputDir(join(dir, REPORT_PLOTS_DIR));
      for (const p of plots) {
        const file = join(dir, REPORT_PLOTS_DIR, `${p.id}.svg`);
        await writeFileAtomic(file, `<?xml version="1.0" encoding="UTF-8"?>\n${p.svg}\n`);
        written.push(file);
      }
    }
    const out = join(dir, format === 'html' ? 'report.html' : 'report.md');
    await writeFileAtomic(out, text);
    written.push(out);
  }
  return written;
}
