import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSummary, recordFromResults, writeSummary } from '../../src/runtime/sweep/index.js';
import { loadReportData, parseSweepValue, renderReport, reportPlots } from '../../src/runtime/report/index.js';
import { fixtureResults, htmlProblems, tmpDir, writeResultsFile, xbarc } from './helpers.js';

function svgCount(html: string): number {
  return (html.match(/<svg\b/g) ?? []).length;
}

/** A finished 2-axis (or 1-axis) sweep directory made of fixture results. */
async function fixtureSweep(axes: Record<string, string[]>, dir = tmpDir('xbarc-report-')): Promise<string> {
  const names = Object.keys(axes);
  const combos: Record<string, string>[] = [{}];
  for (const n of names) {
    const next: Record<string, string>[] = [];
    for (const c of combos) for (const v of axes[n]!) next.push({ ...c, [n]: v });
    combos.splice(0, combos.length, ...next);
  }
  const records = combos.map((assignments, index) => {
    const res = fixtureResults({
      experiment: 'sw',
      accuracy: 0.5 + index / (2 * combos.length),
      layers: true,
      point: { index, of: combos.length, assignments },
    });
    writeResultsFile(join(dir, 'points', String(index).padStart(4, '0')), res);
    return recordFromResults(index, res);
  });
  await writeSummary(dir, buildSummary('sw', records, { version: '0.1.0' }));
  return dir;
}

test('single experiment: self-contained, well-formed HTML with an inline SVG per plot (epochs and per-layer stats)', async () => {
  const dir = tmpDir('xbarc-report-');
  writeResultsFile(dir, fixtureResults({ experiment: 'lenet_fast', fidelity: 'fast', layers: true }));
  const written = await renderReport(dir, { formats: ['html'] });
  assert.deepEqual(written, [join(dir, 'report.html')]);
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  assert.deepEqual(htmlProblems(html), []);
  const ids = reportPlots(loadReportData(dir, '0')).map((p) => p.id);
  assert.deepEqual(ids, ['epochs-loss', 'epochs-accuracy', 'layers-adc-saturation', 'layers-snr']);
  assert.equal(svgCount(html), ids.length);
  for (const id of ids) assert.match(html, new RegExp(`<figure id="plot-${id}">\\s*<svg `));
  // No scripts, no external resources: it opens offline.
  assert.doesNotMatch(html, /<script|<link|src="http|href="http|@import/);
  assert.doesNotMatch(html, /<script>alert/, 'values from results are escaped');
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; friends/);
  // Per-layer table with the stats and the epoch table.
  assert.match(html, /<td>fc1<\/td><td>xb<\/td><td>fast<\/td><td class="num">1\.20 %<\/td><td class="num">21\.5<\/td>/);
  assert.match(html, /<td class="num">3<\/td><td class="num">0\.05<\/td>/);
  // Axis labels made it into the SVG text.
  assert.match(html, />epoch</);
  assert.match(html, />SNR \(dB\)</);
  // SVG ids are prefixed per plot, so several inline plots never share one.
  const svgIds = [...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set(svgIds).size, svgIds.length, 'duplicate id in the page');
});

test('sweep with two axes: heatmap, epoch curves per point; Markdown with SVG files beside it', async () => {
  const dir = await fixtureSweep({ 'xb.adc.bits': ['4', '6', '8'], 'rram.d2d_sigma': ['0 %', '5 %'] });
  const written = await renderReport(dir, { formats: ['html', 'md'] });
  assert.ok(written.includes(join(dir, 'report.html')) && written.includes(join(dir, 'report.md')));
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  assert.deepEqual(htmlProblems(html), []);
  const ids = reportPlots(loadReportData(dir, '0')).map((p) => p.id);
  assert.deepEqual(ids, ['epochs-loss', 'epochs-accuracy', 'sweep-heatmap', 'layers-adc-saturation', 'layers-snr']);
  assert.equal(svgCount(html), ids.length);
  assert.match(html, /Sweep of 6 points \(6 finished\)/);
  assert.match(html, /Best point: <strong>91\.67 %<\/strong>/);
  // The heatmap labels each cell with its accuracy (point 5: 0.5 + 5/12).
  assert.match(html, />91\.7</);
  assert.match(html, />xb\.adc\.bits</);
  const md = readFileSync(join(dir, 'report.md'), 'utf8');
  assert.match(md, /^# sw$/m);
  assert.match(md, /\| point \| xb\.adc\.bits \| rram\.d2d_sigma \| status \| test accuracy \| test loss \| seconds \|/);
  assert.match(md, /\| 5 \| 8 \| 5 % \| done \| 91\.67 % \|/);
  for (const id of ids) {
    assert.match(md, new RegExp(`!\\[[^\\]]+\\]\\(report-plots/${id}\\.svg\\)`));
    const svg = readFileSync(join(dir, 'report-plots', `${id}.svg`), 'utf8');
    assert.ok(
      /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/.test(svg),
      `${id}.svg starts like a standalone SVG`,
    );
    assert.deepEqual(htmlProblems(svg, { fragment: true }), [], `${id}.svg`);
  }
});

test('sweep with one numeric axis: a line plot of final accuracy against the values', async () => {
  const dir = await fixtureSweep({ 'rram.d2d_sigma': ['0 %', '2 %', '5 %'] });
  const plots = reportPlots(loadReportData(dir, '0'));
  const line = plots.find((p) => p.id === 'sweep-accuracy');
  assert.ok(line, plots.map((p) => p.id).join());
  const x = (line.spec['layer'] as { encoding: { x: { type: string; title: string } } }[])[0]!.encoding.x;
  assert.equal(x.type, 'quantitative');
  assert.equal(x.title, 'rram.d2d_sigma (%)');
  assert.deepEqual(
    (line.spec['data'] as { values: { x: number }[] }).values.map((v) => v.x),
    [0, 2, 5],
  );
  assert.deepEqual(parseSweepValue('5 %'), { value: 5, unit: '%' });
  assert.deepEqual(parseSweepValue('1e-3'), { value: 0.001, unit: '' });
  assert.equal(parseSweepValue('TaOx_HfOx'), undefined);
});

test('a swept seed is averaged over: mean ± sd per combination of the other axes, error bars, labelled cells', async () => {
  // Points in order (a outer, seed inner): accuracies 0.5 + i/12 for i = 0…5.
  const dir = await fixtureSweep({ 'rram.d2d_sigma': ['0 %', '2 %', '5 %'], seed: ['1', '2'] });
  const plots = reportPlots(loadReportData(dir, '0'));
  const line = plots.find((p) => p.id === 'sweep-accuracy')!;
  assert.ok(line, plots.map((p) => p.id).join());
  assert.match(line.caption, /mean over 2 seeds/);
  const values = (line.spec['data'] as { values: { x: number; accuracy: number; lo: number; hi: number }[] }).values;
  assert.deepEqual(
    values.map((v) => v.x),
    [0, 2, 5],
  );
  // Cell 0: seeds give 0.5 and 0.5 + 1/12: mean 0.5 + 1/24, sample sd (1/12)/√2.
  assert.ok(Math.abs(values[0]!.accuracy - (0.5 + 1 / 24)) < 1e-12);
  assert.ok(Math.abs(values[0]!.hi - values[0]!.accuracy - 1 / 12 / Math.SQRT2) < 1e-12);
  assert.ok((line.spec['layer'] as { mark: { type: string } }[]).some((l) => l.mark.type === 'errorbar'));
  // Two design axes and a seed: a heatmap of means labelled "mean ±sd".
  const dir2 = await fixtureSweep({ 'xb.adc.bits': ['4', '8'], 'rram.d2d_sigma': ['0 %', '5 %'], seed: ['1', '2'] });
  await renderReport(dir2, { formats: ['html'] });
  const html = readFileSync(join(dir2, 'report.html'), 'utf8');
  assert.deepEqual(htmlProblems(html), []);
  const heat = reportPlots(loadReportData(dir2, '0')).find((p) => p.id === 'sweep-heatmap')!;
  const cells = (heat.spec['data'] as { values: { label: string }[] }).values;
  assert.equal(cells.length, 4);
  // Last cell: points 6 and 7 → 0.5 + 6.5/16 = 90.6 %, sd (1/16)/√2 = 4.4 %.
  assert.equal(cells[3]!.label, '90.6 ±4.4');
  assert.match(html, />90\.6 ±4\.4</);
});

test('several experiments side by side (ideal vs crossbar): one curve per experiment', async () => {
  const dir = tmpDir('xbarc-report-');
  writeResultsFile(join(dir, 'net_ideal'), fixtureResults({ experiment: 'net_ideal', fidelity: 'ideal', accuracy: 0.95 }));
  writeResultsFile(join(dir, 'net_fast'), fixtureResults({ experiment: 'net_fast', fidelity: 'fast', accuracy: 0.9, layers: true }));
  await renderReport(dir, { formats: ['html'] });
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  assert.deepEqual(htmlProblems(html), []);
  assert.match(html, /<title>net_fast vs net_ideal — xbarc report<\/title>/);
  assert.match(html, />net_ideal \(ideal\)</, 'legend entry for the ideal run');
  assert.match(html, />net_fast \(fast\)</, 'legend entry for the crossbar run');
  assert.equal(svgCount(html), 4);
});

test('a baseline and a sweep side by side: every experiment reported, the sweep plotted against the dashed baseline', async () => {
  const dir = tmpDir('xbarc-report-');
  writeResultsFile(join(dir, 'baseline'), fixtureResults({ experiment: 'baseline', fidelity: 'ideal', accuracy: 0.97 }));
  await fixtureSweep({ 'rram.d2d_sigma': ['0 %', '2 %', '5 %'] }, join(dir, 'sw'));
  const data = loadReportData(dir, '0');
  assert.equal(data.kind, 'comparison');
  assert.equal(data.title, 'baseline vs sw');
  assert.deepEqual(
    data.runs.map((r) => r.label),
    ['baseline (ideal)', 'sw: rram.d2d_sigma=0 %', 'sw: rram.d2d_sigma=2 %', 'sw: rram.d2d_sigma=5 %'],
  );
  const plots = reportPlots(data);
  assert.deepEqual(
    plots.map((p) => p.id),
    ['epochs-loss', 'epochs-accuracy', 'sweep-accuracy-sw', 'layers-adc-saturation', 'layers-snr'],
  );
  const sweepPlot = plots.find((p) => p.id === 'sweep-accuracy-sw')!;
  const rule = (sweepPlot.spec['layer'] as { mark: { type: string }; data?: { values: { baseline: string; accuracy: number }[] } }[]).find(
    (l) => l.mark.type === 'rule',
  );
  assert.deepEqual(rule?.data?.values, [{ baseline: 'baseline (ideal)', accuracy: 0.97 }]);
  assert.match(sweepPlot.caption, /dashed: baseline \(ideal\) 97\.0 %/);
  await renderReport(dir, { formats: ['html', 'md'] });
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  assert.deepEqual(htmlProblems(html), []);
  assert.match(html, /2 experiments \(1 swept: one row per finished point\)/);
  assert.match(html, /<td>sw \[rram\.d2d_sigma(=|&#x3D;)5 %\]<\/td><td>ideal<\/td>/);
  assert.equal((html.match(/<h2>[^<]*: epochs<\/h2>/g) ?? []).length, 1, 'epoch tables for plain experiments only');
  assert.equal(svgCount(html), plots.length);
  const md = readFileSync(join(dir, 'report.md'), 'utf8');
  assert.match(md, /\| sw \[rram\.d2d_sigma=0 %\] \| ideal \|/);
});

test('a sweep report trusts its points over a stale sweep.json: edited, rerun and unlisted points', async () => {
  const dir = await fixtureSweep({ 'xb.adc.bits': ['4', '6'] });
  // Point 1 rerun (another spec hash) and edited by hand; sweep.json still has the old numbers.
  const p1 = join(dir, 'points', '0001', 'results.json');
  const edited = JSON.parse(readFileSync(p1, 'utf8')) as ReturnType<typeof fixtureResults>;
  edited.final.testAccuracy = 0.42;
  edited.specHash = 'b'.repeat(64);
  writeFileSync(p1, JSON.stringify(edited));
  // A point sweep.json does not list (the sweep grew) and a listed one that failed before but is done now.
  writeResultsFile(
    join(dir, 'points', '0002'),
    fixtureResults({ experiment: 'sw', accuracy: 0.8, point: { index: 2, of: 3, assignments: { 'xb.adc.bits': '8' } } }),
  );
  const summary = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')) as { points: { status: string; error?: string }[] };
  summary.points[0]!.status = 'failed';
  summary.points[0]!.error = 'engine/non-finite: old failure';
  writeFileSync(join(dir, 'sweep.json'), JSON.stringify(summary));
  const data = loadReportData(dir, '0');
  assert.deepEqual(
    data.sweep!.points.map((p) => [p.index, p.status, p.testAccuracy]),
    [
      [0, 'done', 0.5],
      [1, 'done', 0.42],
      [2, 'done', 0.8],
    ],
  );
  assert.deepEqual(data.sweep!.axes, [{ path: 'xb.adc.bits', values: ['4', '6', '8'] }]);
  assert.equal(data.runs.length, 3);
  await renderReport(dir, { formats: ['md'] });
  const md = readFileSync(join(dir, 'report.md'), 'utf8');
  assert.match(md, /\| 1 \| 6 \| done \| 42\.00 % \|/);
  assert.match(md, /Sweep of 3 points \(3 finished\)/);
  // A point without results keeps its recorded failure.
  rmSync(join(dir, 'points', '0000', 'results.json'));
  const after = loadReportData(dir, '0');
  assert.deepEqual([after.sweep!.points[0]!.status, after.sweep!.points[0]!.error], ['failed', 'engine/non-finite: old failure']);
});

test('xbarc report: --format md, --template, and a clear error for a folder without results', () => {
  const dir = tmpDir('xbarc-report-');
  writeResultsFile(dir, fixtureResults({ experiment: 'cli_exp' }));
  const md = xbarc(['report', dir, '--format', 'md']);
  assert.equal(md.code, 0, md.stderr);
  assert.match(md.stdout, /report\.md/);
  assert.ok(existsSync(join(dir, 'report-plots', 'epochs-loss.svg')));
  assert.equal(existsSync(join(dir, 'report.html')), false);
  const tpl = join(dir, 'mine.hbs');
  writeFileSync(tpl, '{{title}}:{{#each plots}} {{id}}{{/each}} {{pct run.testAccuracy}}\n');
  const custom = xbarc(['report', dir, '--template', tpl]);
  assert.equal(custom.code, 0, custom.stderr);
  assert.equal(readFileSync(join(dir, 'report.html'), 'utf8'), 'cli_exp: epochs-loss epochs-accuracy 90.00 %\n');
  const empty = xbarc(['report', tmpDir('xbarc-report-')]);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /report\/no-results: .* has no results\.json, sweep\.json or points\//);
  assert.equal(xbarc(['report', dir, '--format', 'pdf']).code, 2);
});

test('run --report on a spec with two experiments: a report per experiment and one side by side', () => {
  const dir = tmpDir('xbarc-report-');
  const exp = (name: string, lr: string) => `experiment ${name} {
  data     = mnist(train = 300, test = 100)
  model    = MLP(hidden1 = 16, hidden2 = 8)
  fidelity = ideal
  train { epochs = 2, batch = 32, optimizer = sgd(lr = ${lr}) }
  seed     = 1
}
`;
  const spec = join(dir, 'two.xbar');
  writeFileSync(spec, `import { MLP } from "std/networks"\n\n${exp('slow', '0.01')}\n${exp('quick', '0.1')}`);
  const out = join(dir, 'out');
  const r = xbarc(['run', spec, '--out', out, '--quiet', '--report']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const name of ['slow', 'quick']) {
    const html = readFileSync(join(out, name, 'report.html'), 'utf8');
    assert.deepEqual(htmlProblems(html), []);
    assert.equal(svgCount(html), 2, 'loss and accuracy per epoch');
    assert.ok(existsSync(join(out, name, 'report.md')));
  }
  const both = readFileSync(join(out, 'report.html'), 'utf8');
  assert.deepEqual(htmlProblems(both), []);
  assert.match(both, />quick \(ideal\)</);
  assert.match(both, />slow \(ideal\)</);
});
