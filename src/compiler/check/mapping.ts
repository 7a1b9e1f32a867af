/**
 * Layer→crossbar mapping: every weighted layer of an experiment's network is matched against its
 * map rules (names and globs; the most specific rule wins), each target resolved to a crossbar or
 * digital; uncovered layers, rules matching nothing, ties and rules overridden everywhere reported.
 */
import type { Span } from '../ast.js';
import { closest, didYouMean } from '../diagnostics.js';
import type { DeclEval } from '../evaluate.js';
import type { CheckedExperiment, LayerTarget } from '../check.js';
import { fidelityOf, type CheckContext } from './context.js';
import { checkCrossbar } from './physics.js';

/** Fill the experiment's mapping (every weighted layer to a crossbar or digital) from its map rules. */
export function checkMapping(ctx: CheckContext, de: DeclEval, result: CheckedExperiment): void {
  const fidelity = fidelityOf(result);
  const maps = de.statements.filter((s) => s.kind === 'map');
  const weighted = (result.network?.layers ?? []).filter((l) => l.weighted);
  if (maps.length === 0) {
    for (const l of weighted) result.mapping.set(l.name, { target: 'digital' });
    if (fidelity !== 'ideal') ctx.diags.add('missing-map', result.file, result.span, { fidelity, experiment: result.name });
    return;
  }
  // A rule whose target is wrong (reported) still claims its layers, so they are not also unmapped.
  interface Rule {
    pattern: string;
    regex: RegExp;
    specificity: number;
    target?: LayerTarget;
    targetText: string;
    span: Span;
    used: boolean;
    matched: boolean;
  }
  const rules: Rule[] = [];
  for (const m of maps) {
    if (m.kind !== 'map') continue;
    for (const entry of m.entries) {
      const target = mapTarget(ctx, entry.target, result);
      rules.push({
        pattern: entry.pattern.text,
        regex: globToRegex(entry.pattern.text),
        specificity: specificity(entry.pattern.text),
        ...(target ? { target } : {}),
        targetText: entry.target.text,
        span: entry.pattern.span,
        used: false,
        matched: false,
      });
    }
  }
  if (!result.network?.complete) return;
  // After a syntax error the map may be cut short: coverage errors would only repeat it.
  const syntaxBroken = ctx.ev.program.diagnostics.items.some(
    (d) => d.file === ctx.module.path && (d.code === 'syntax-error' || d.code === 'unexpected-character'),
  );
  for (const layer of weighted) {
    const matching = rules.filter((r) => r.regex.test(layer.name));
    for (const r of matching) r.matched = true;
    if (matching.length === 0) {
      if (!syntaxBroken) ctx.diags.add('unmapped-layer', result.file, maps[0]!.span, { layer: layer.name });
      continue;
    }
    const best = Math.max(...matching.map((r) => r.specificity));
    const top = matching.filter((r) => r.specificity === best);
    if (top.length > 1) {
      const show = (r: Rule) => `${r.pattern} -> ${r.targetText}`;
      ctx.diags.add('duplicate-mapping', result.file, top[1]!.span, { layer: layer.name, first: show(top[0]!), second: show(top[1]!) });
    }
    for (const r of top) r.used = true;
    const target = top[0]!.target;
    if (target) result.mapping.set(layer.name, target);
  }
  const layerNames = weighted.map((l) => l.name);
  for (const r of rules) {
    if (!r.matched) {
      const suggestion = closest(r.pattern, layerNames);
      ctx.diags.add(
        'unknown-layer',
        result.file,
        r.span,
        {
          network: result.network.name,
          pattern: r.pattern,
          suggestion: suggestion ? didYouMean(suggestion) : `; weighted layers are ${layerNames.slice(0, 8).join(', ')}${layerNames.length > 8 ? ', …' : ''}`,
        },
        suggestion ? { title: `Change to ${suggestion}`, span: r.span, newText: suggestion } : undefined,
      );
    } else if (!r.used) {
      ctx.diags.add('unused-mapping', result.file, r.span, { pattern: r.pattern });
    }
  }
}

function mapTarget(ctx: CheckContext, target: { text: string; span: Span }, result: CheckedExperiment): LayerTarget | undefined {
  if (target.text === 'digital') return { target: 'digital' };
  const found = ctx.ev.lookupDecl(ctx.module, target.text);
  if (!found) {
    if (ctx.module.unresolved.has(target.text)) return undefined;
    const candidates = ['digital', ...[...ctx.module.scope.entries()].filter(([, e]) => e.decl.kind === 'crossbar').map(([n]) => n)];
    const suggestion = closest(target.text, candidates);
    ctx.diags.add(
      'unknown-name',
      result.file,
      target.span,
      { name: target.text, suggestion: suggestion ? didYouMean(suggestion) : '; map targets are a crossbar or digital' },
      suggestion ? { title: `Change to ${suggestion}`, span: target.span, newText: suggestion } : undefined,
    );
    return undefined;
  }
  if (found.decl.kind !== 'crossbar') {
    ctx.diags.add('wrong-kind', result.file, target.span, { name: target.text, actual: found.decl.kind, expected: 'crossbar (or digital)' });
    return undefined;
  }
  const xb = checkCrossbar(ctx, found.module, found.decl);
  result.crossbars.set(target.text, xb);
  return { target: 'crossbar', crossbar: target.text };
}

/** `*` matches any run of characters (dots included), `?` one character; anchored. */
export function globToRegex(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Exact names beat globs; among globs, more literal characters win. */
export function specificity(pattern: string): number {
  if (!/[*?]/.test(pattern)) return 1e6 + pattern.length;
  return pattern.replace(/[*?]/g, '').length;
}
