/**
 * The HTML report in a real browser (headless Chromium over the DevTools protocol): it loads
 * with no console errors, no exceptions and no network requests, every plot is a rendered SVG,
 * and a full-page screenshot is kept in test-artifacts/. Run with `npm run test:browser`
 * (test/browser/run.sh installs Debian's chromium when it is missing). Without a Chromium this
 * test fails; it never skips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../../src/compiler/resolve.js';
import { renderReport } from '../../src/runtime/report/index.js';
import { buildSummary, recordFromResults, writeSummary } from '../../src/runtime/sweep/index.js';
import { fixtureResults, tmpDir, writeResultsFile } from '../sweep/helpers.js';
import { Browser, findChromium, type CdpEvent } from './cdp.js';

const artifacts = join(packageRoot, 'test-artifacts');

async function sweepFixture(): Promise<string> {
  const dir = tmpDir('xbarc-browser-');
  const records = [];
  let index = 0;
  for (const bits of ['4', '6', '8'])
    for (const sigma of ['0 %', '5 %']) {
      const res = fixtureResults({
        experiment: 'browser_sweep',
        fidelity: 'fast',
        layers: true,
        accuracy: 0.6 + index * 0.05,
        point: { index, of: 6, assignments: { 'xb.adc.bits': bits, 'rram.d2d_sigma': sigma } },
      });
      writeResultsFile(join(dir, 'points', String(index).padStart(4, '0')), res);
      records.push(recordFromResults(index, res));
      index++;
    }
  await writeSummary(dir, buildSummary('browser_sweep', records, { version: '0.1.0' }));
  return dir;
}

function experimentFixture(): string {
  const dir = tmpDir('xbarc-browser-');
  writeResultsFile(dir, fixtureResults({ experiment: 'browser_experiment', fidelity: 'fast', layers: true, epochs: 5 }));
  return dir;
}

function problems(events: CdpEvent[], sessionId: string): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (e.sessionId !== sessionId) continue;
    const p = e.params;
    if (e.method === 'Runtime.exceptionThrown') out.push(`exception: ${JSON.stringify((p['exceptionDetails'] as { text?: string })?.text ?? p)}`);
    if (e.method === 'Runtime.consoleAPICalled' && ['error', 'warning', 'assert'].includes(String(p['type'])))
      out.push(`console.${String(p['type'])}: ${JSON.stringify(p['args'])}`);
    if (e.method === 'Log.entryAdded') {
      const entry = p['entry'] as { level: string; text: string; url?: string };
      if (entry.level === 'error') out.push(`log error: ${entry.text} ${entry.url ?? ''}`);
    }
    if (e.method === 'Network.requestWillBeSent') {
      const url = String((p['request'] as { url: string }).url);
      if (!url.startsWith('file:') && !url.startsWith('data:')) out.push(`network request: ${url}`);
    }
    if (e.method === 'Network.loadingFailed') out.push(`failed to load: ${JSON.stringify(p['errorText'])}`);
  }
  return out;
}

async function checkInBrowser(browser: Browser, html: string, screenshot: string, expectedPlots: number): Promise<void> {
  const { targetId } = (await browser.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
  const { sessionId } = (await browser.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
  for (const domain of ['Page', 'Runtime', 'Log', 'Network']) await browser.send(`${domain}.enable`, {}, sessionId);
  await browser.send('Emulation.setDeviceMetricsOverride', { width: 1200, height: 900, deviceScaleFactor: 1, mobile: false }, sessionId);
  const loaded = browser.waitFor('Page.loadEventFired', sessionId);
  const nav = (await browser.send('Page.navigate', { url: pathToFileURL(html).href }, sessionId)) as { errorText?: string };
  assert.equal(nav.errorText, undefined, `navigation failed: ${nav.errorText}`);
  await loaded;
  const evaluate = async (expression: string) =>
    ((await browser.send('Runtime.evaluate', { expression, returnByValue: true }, sessionId)) as { result: { value: unknown } }).result.value;
  const info = (await evaluate(`(() => {
    const svgs = [...document.querySelectorAll('figure > svg')];
    return {
      title: document.title,
      plots: svgs.length,
      sizes: svgs.map((s) => { const r = s.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; }),
      marks: svgs.map((s) => s.querySelectorAll('path, rect, text').length),
      tables: document.querySelectorAll('table').length,
      height: document.documentElement.scrollHeight,
    };
  })()`)) as { title: string; plots: number; sizes: [number, number][]; marks: number[]; tables: number; height: number };
  assert.equal(info.plots, expectedPlots, `plots in the page: ${JSON.stringify(info)}`);
  for (const [w, h] of info.sizes) assert.ok(w > 200 && h > 150, `every plot is drawn at a real size: ${JSON.stringify(info.sizes)}`);
  for (const m of info.marks) assert.ok(m > 10, `every plot has marks: ${JSON.stringify(info.marks)}`);
  assert.ok(info.tables >= 1);
  assert.match(info.title, /xbarc report/);
  // A moment for late console messages, then none may be errors.
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(problems(browser.events, sessionId), []);
  const shot = (await browser.send(
    'Page.captureScreenshot',
    { format: 'png', captureBeyondViewport: true, clip: { x: 0, y: 0, width: 1200, height: Math.min(info.height, 12000), scale: 1 } },
    sessionId,
  )) as { data: string };
  const png = Buffer.from(shot.data, 'base64');
  assert.ok(png.length > 10_000, 'a real screenshot');
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'PNG signature');
  writeFileSync(screenshot, png);
  await browser.send('Target.closeTarget', { targetId });
}

test('the HTML report renders in headless Chromium with no console errors and no network access', async (t) => {
  const chromium = findChromium();
  assert.ok(
    chromium,
    "Chromium not found: run `npm run test:browser` (test/browser/run.sh installs Debian's chromium with apt-get) or set CHROMIUM_BIN to a Chrome/Chromium executable",
  );
  mkdirSync(artifacts, { recursive: true });
  const browser = await Browser.launch(chromium);
  t.after(() => browser.close());

  const sweep = await sweepFixture();
  await renderReport(sweep, { formats: ['html'] });
  await checkInBrowser(browser, join(sweep, 'report.html'), join(artifacts, 'report-sweep.png'), 5);
  copyFileSync(join(sweep, 'report.html'), join(artifacts, 'report-sweep.html'));

  const single = experimentFixture();
  await renderReport(single, { formats: ['html'] });
  await checkInBrowser(browser, join(single, 'report.html'), join(artifacts, 'report-experiment.png'), 4);
  copyFileSync(join(single, 'report.html'), join(artifacts, 'report-experiment.html'));
});
