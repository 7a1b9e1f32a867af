/** Shared helpers for the sweep/report tests: the CLI, tiny specs, fixture results, an HTML check. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/compiler/resolve.js';
import type { Results } from '../../src/runtime/results/index.js';

export const bin = join(packageRoot, 'bin', 'xbarc.js');

export function xbarc(args: string[], cwd = packageRoot, timeout = 120_000) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function tmpDir(prefix = 'xbarc-sweep-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A tiny MLP sweep: `sweep` is the sweep line's right-hand side. */
export function tinySweepSpec(sweep: string, name = 'tiny'): string {
  return `import { MLP } from "std/networks"

experiment ${name} {
  data     = mnist(train = 300, test = 100)
  model    = MLP(hidden1 = 16, hidden2 = 8)
  fidelity = ideal
  train { epochs = 1, batch = 32, optimizer = sgd(lr = 0.05) }
  sweep    ${sweep}
  seed     = 1
}
`;
}

export function writeSpec(dir: string, text: string, name = 'spec.xbar'): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const HASH = 'a'.repeat(64);

/** A schema-valid results.json with `epochs` epochs, optional per-layer stats and sweep point. */
export function fixtureResults(o: {
  experiment?: string;
  fidelity?: 'ideal' | 'fast' | 'exact';
  epochs?: number;
  accuracy?: number;
  layers?: boolean;
  point?: Results['point'];
  hash?: string;
}): Results {
  const n = o.epochs ?? 3;
  const acc = o.accuracy ?? 0.9;
  return {
    xbarc: { version: '0.1.0' },
    experiment: o.experiment ?? 'fixture',
    specHash: o.hash ?? HASH,
    seed: 1,
    fidelity: o.fidelity ?? 'ideal',
    resolvedSpec: { data: { kind: 'mnist', train: 300, test: 100 }, note: '<script>alert(1)</script> & friends' },
    startedAt: '2026-11-22T04:00:00.000Z',
    finishedAt: '2026-11-22T04:00:10.000Z',
    epochs: Array.from({ length: n }, (_, i) => ({
      epoch: i + 1,
      lr: 0.05,
      trainLoss: 2 / (i + 1),
      trainAccuracy: Math.min(1, acc - 0.1 + 0.05 * i),
      testLoss: 2.2 / (i + 1),
      testAccuracy: Math.min(1, acc - 0.05 * (n - 1 - i)),
      seconds: 1.5,
    })),
    final: { testAccuracy: acc, testLoss: 2.2 / n },
    timing: { totalSeconds: 4.5 },
    ...(o.layers
      ? {
          layers: [
            { name: 'fc1', crossbar: 'xb', fidelity: 'fast', adcSaturation: 0.012, snrDb: 21.5, update: 'ideal' },
            { name: 'fc2', crossbar: 'xb', fidelity: 'fast', adcSaturation: 0.003, snrDb: 27.1, update: 'ideal' },
          ],
        }
      : {}),
    ...(o.point ? { point: o.point } : {}),
  };
}

export function writeResultsFile(dir: string, results: Results): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
}

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);

/**
 * A strict well-formedness check of generated HTML (with inline SVG): every tag is syntactically
 * sound with quoted attributes, every non-void element is closed in order, there is no stray `<`
 * or unescaped `&`, and there is exactly one html/head/body. Returns the problems found.
 */
export function htmlProblems(html: string, options: { fragment?: boolean } = {}): string[] {
  const problems: string[] = [];
  let text = html.replace(/^<!DOCTYPE html>\s*/i, '').replace(/^<\?xml[^>]*\?>\s*/, '');
  if (text === html && !options.fragment) problems.push('missing <!DOCTYPE html>');
  text = text.replace(/<!--[\s\S]*?-->/g, '');
  // style content is CSS: check it separately for a stray tag.
  text = text.replace(/<style>([\s\S]*?)<\/style>/g, (_, css: string) => {
    if (css.includes('<')) problems.push('"<" inside <style>');
    return '<style></style>';
  });
  const stack: string[] = [];
  const counts = new Map<string, number>();
  const re = /<[^>]*>|[^<]+/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const tok = m[0];
    if (!tok.startsWith('<')) {
      const amp = tok.match(/&(?!(?:[a-zA-Z][a-zA-Z0-9]*|#\d+|#x[0-9a-fA-F]+);)/);
      if (amp) problems.push(`unescaped & near ${JSON.stringify(tok.slice(Math.max(0, amp.index! - 20), amp.index! + 20))}`);
      continue;
    }
    const tag = /^<(\/?)([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*(?:\s*=\s*"[^"<]*")?)*)\s*(\/?)>$/.exec(tok);
    if (!tag) {
      problems.push(`malformed tag ${JSON.stringify(tok.slice(0, 80))}`);
      continue;
    }
    const [, closing, rawName, attrs, selfClosing] = tag;
    const name = rawName!.toLowerCase();
    const attrNames = [...(attrs ?? '').matchAll(/([A-Za-z_:][\w:.-]*)(?:\s*=\s*"[^"]*")?/g)].map((a) => a[1]!);
    if (new Set(attrNames).size !== attrNames.length) problems.push(`duplicate attribute in ${JSON.stringify(tok.slice(0, 80))}`);
    counts.set(name, (counts.get(name) ?? 0) + (closing ? 0 : 1));
    if (closing) {
      const open = stack.pop();
      if (open !== name) {
        problems.push(`</${name}> closes <${open ?? 'nothing'}>`);
        if (open) stack.push(open);
      }
    } else if (!selfClosing && !VOID.has(name)) stack.push(name);
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(' > ')}`);
  if (!options.fragment)
    for (const t of ['html', 'head', 'body', 'title']) if (counts.get(t) !== 1) problems.push(`expected one <${t}>, found ${counts.get(t) ?? 0}`);
  return problems;
}
