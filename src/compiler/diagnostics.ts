/**
 * The one diagnostics registry: every code xbarc can report, its severity, message template and
 * a line of documentation. `check`, `run`, the language server and docs/diagnostics.md all read
 * this table, so a code means the same thing everywhere.
 */
import type { Span } from './ast.js';

export type Severity = 'error' | 'warning' | 'info';

interface CodeInfo {
  severity: Severity;
  template: string;
  doc: string;
}

export const diagnosticCodes = {
  'unexpected-character': { severity: 'error', template: 'unexpected character {char}', doc: 'The lexer found a character that starts no token.' },
  'syntax-error': { severity: 'error', template: '{detail}', doc: 'The text does not follow the grammar; parsing recovers and continues.' },
  'import-not-found': {
    severity: 'error',
    template: 'cannot find import "{source}"{hint}',
    doc: 'An import names a file that does not exist (relative to the importing file, or std/… in the standard library).',
  },
  'import-unreadable': {
    severity: 'error',
    template: 'cannot import "{source}": {reason}',
    doc: 'An import names something that exists but is not a spec xbarc reads: not an .xbar file, a directory, a device or FIFO (only regular files are read), or larger than the 4 MiB limit for specs.',
  },
  'too-many-diagnostics': {
    severity: 'info',
    template: '{count} more diagnostics in this file are not shown (the first {limit} are)',
    doc: 'A file has more diagnostics than are worth reading (or sending to an editor); fix the first ones and check again.',
  },
  'import-cycle': { severity: 'error', template: 'import cycle: {cycle}', doc: 'Files import each other in a loop.' },
  'unknown-import': {
    severity: 'error',
    template: '"{source}" has no declaration named {name}{suggestion}',
    doc: 'An imported name is not declared in the imported file.',
  },
  'unused-import': { severity: 'warning', template: 'imported name {name} is never used', doc: 'An imported name is not referenced in this file.' },
  'duplicate-declaration': {
    severity: 'error',
    template: '{name} is already declared{where}',
    doc: 'Two declarations (or an import and a declaration) share a name.',
  },
  'unknown-name': { severity: 'error', template: 'unknown name {name}{suggestion}', doc: 'A reference names nothing in scope.' },
  'wrong-kind': {
    severity: 'error',
    template: '{name} is a {actual}, but a {expected} is needed here',
    doc: 'A name refers to the wrong kind of declaration (a network where a device is needed, …).',
  },
  'unknown-field': {
    severity: 'error',
    template: '{owner} has no parameter {name}{suggestion}',
    doc: 'A field (or override of a preset) that the declaration does not have.',
  },
  'duplicate-field': { severity: 'error', template: '{name} is set twice in this {owner}', doc: 'The same field is assigned more than once in one body.' },
  'missing-field': { severity: 'error', template: '{owner} needs {name}: {doc}', doc: 'A required parameter has no value and no default.' },
  'unknown-unit': { severity: 'error', template: 'unknown unit {unit}{suggestion}', doc: 'A number is followed by a word that is not a unit.' },
  'missing-unit': {
    severity: 'error',
    template: '{name} is a {dimension} and needs a unit, e.g. {example}',
    doc: 'Physical quantities must say their unit; a bare number is ambiguous.',
  },
  'dimension-mismatch': {
    severity: 'error',
    template: '{context}: expected {expected}, got {actual}',
    doc: 'A value has the wrong physical dimension (a resistance where a voltage is needed, adding Ohm to V, …).',
  },
  'type-mismatch': {
    severity: 'error',
    template: '{context}: expected {expected}, got {actual}',
    doc: 'A value has the wrong type (a string where a number is needed, …).',
  },
  'out-of-range': {
    severity: 'error',
    template: '{name} = {value} is out of range: must be {range}',
    doc: 'A value lies outside the allowed range of its parameter.',
  },
  'not-an-integer': {
    severity: 'error',
    template: '{name} must be a whole number, got {value}',
    doc: 'Counts (bits, levels, epochs, channels, …) must be integers.',
  },
  'unknown-option': {
    severity: 'error',
    template: '{value} is not a valid {name}; choose one of {options}{suggestion}',
    doc: 'An enumerated parameter got a value outside its options.',
  },
  'unknown-function': {
    severity: 'error',
    template: 'unknown {what} {name}{suggestion}',
    doc: 'A call names no known constructor (layer, update model, optimizer, data set, …).',
  },
  'unknown-argument': { severity: 'error', template: '{callee} has no argument {name}{suggestion}', doc: 'A named argument that the function does not take.' },
  'missing-argument': { severity: 'error', template: '{callee} needs argument {name}', doc: 'A required argument is missing.' },
  'too-many-arguments': {
    severity: 'error',
    template: '{callee} takes at most {max} positional argument{s}, got {count}',
    doc: 'More positional arguments than parameters.',
  },
  'duplicate-argument': {
    severity: 'error',
    template: 'argument {name} is given twice',
    doc: 'The same argument is passed twice (positionally and by name, or twice by name).',
  },
  'cyclic-definition': { severity: 'error', template: '{name} is defined in terms of itself: {cycle}', doc: 'Derived values refer to each other in a loop.' },
  'division-by-zero': { severity: 'error', template: 'division by zero', doc: 'An expression divides by zero.' },
  'invalid-expression': {
    severity: 'error',
    template: '{detail}',
    doc: 'An expression that cannot be evaluated (a range where a number is needed, a list in arithmetic, …).',
  },
  'shape-mismatch': {
    severity: 'error',
    template: 'layer {layer} ({op}) cannot take input of shape {shape}: {detail}',
    doc: 'Network shape inference found a layer whose input has the wrong shape; the first such layer is reported.',
  },
  'duplicate-layer': {
    severity: 'error',
    template: 'layer name {name} is used twice in network {network}',
    doc: 'Layer names must be unique within a network (they are what map rules refer to).',
  },
  'misplaced-layer': {
    severity: 'error',
    template: '{detail}',
    doc: 'A layer appears where it cannot (add outside a block, a shortcut outside a block, input not first, …).',
  },
  'input-mismatch': {
    severity: 'error',
    template: 'data {data} has samples of shape {dataShape}, but network {network} expects {netShape}',
    doc: "The data set's sample shape differs from the network input.",
  },
  'classes-mismatch': {
    severity: 'error',
    template: 'network {network} ends in {outputs} outputs, but data {data} has {classes} classes',
    doc: 'The last layer must produce one logit per class.',
  },
  'unknown-layer': {
    severity: 'error',
    template: 'network {network} has no weighted layer matching {pattern}{suggestion}',
    doc: 'A map rule names a layer that does not exist (or is not dense/conv2d).',
  },
  'unmapped-layer': {
    severity: 'error',
    template: 'weighted layer {layer} is not mapped; add a rule such as `{layer} -> digital` or `* -> <crossbar>`',
    doc: 'With a map, every dense and conv2d layer must be mapped to a crossbar or to digital.',
  },
  'duplicate-mapping': {
    severity: 'error',
    template: 'layer {layer} is mapped twice ({first} and {second})',
    doc: 'Two rules of the same specificity map one layer.',
  },
  'unused-mapping': {
    severity: 'warning',
    template: 'map rule {pattern} is overridden for every layer it matches',
    doc: 'A wildcard rule that more specific rules override everywhere.',
  },
  'missing-map': {
    severity: 'error',
    template: 'fidelity {fidelity} runs layers on crossbars, but experiment {experiment} has no map; add `map * -> <crossbar>`',
    doc: 'Non-ideal fidelity needs at least one crossbar mapping.',
  },
  'sweep-unknown-path': { severity: 'error', template: '{source} path {path} does not exist: {detail}', doc: 'A sweep (or --set) path names no parameter.' },
  'sweep-type-mismatch': { severity: 'error', template: 'sweep value for {path}: {detail}', doc: 'A swept value does not fit the parameter it sets.' },
  'sweep-length-mismatch': {
    severity: 'error',
    template: 'zip axes must have the same length: {lengths}',
    doc: 'All axes inside zip(...) need equally many values.',
  },
  'sweep-empty': { severity: 'error', template: 'sweep axis {path} has no values', doc: 'A sweep axis with an empty list or range.' },
  'sweep-too-large': {
    severity: 'error',
    template: 'the sweep has {count} points; at most {max} are allowed',
    doc: 'The cartesian product of the sweep axes is too large to run (or to list).',
  },
  'stream-mismatch': {
    severity: 'error',
    template: 'dac_bits = {dac} does not divide input_bits = {input}: inputs cannot be split into whole streams',
    doc: 'Input streaming needs input_bits to be a multiple of dac_bits.',
  },
  'on-off-ratio': {
    severity: 'error',
    template: 'on_off = {value} must be greater than 1 (R_off must exceed R_on)',
    doc: 'A device whose off state conducts at least as well as its on state cannot store weights.',
  },
  'inconsistent-resistance': {
    severity: 'error',
    template: 'r_off = {roff} disagrees with r_on × on_off = {product}; set only one of r_off and on_off',
    doc: 'r_off and on_off are both given and disagree.',
  },
  'parasitics-without-wires': {
    severity: 'error',
    template: 'parasitics = {model} needs wire resistances, but wires.row and wires.col are zero',
    doc: 'A parasitic model with no wire resistance computes nothing.',
  },
  'adc-above-lossless': {
    severity: 'warning',
    template:
      'adc.bits = {bits} exceeds the lossless width {lossless} for {rows}-row tiles (the largest partial sum, {largest}, needs {lossless} bits{signed}); experiment {experiment} runs crossbar {crossbar} at fidelity exact, where every tile conversion is already exact at {lossless} bits, so the extra bits cost energy and add no accuracy',
    doc: 'At fidelity exact each tile × input stream × weight slice partial sum has its own ADC, and one wider than the lossless width (enough codes for the largest partial sum rows·(2^dac_bits−1)·(2^w−1), w = min(cell_bits, weight_bits) the widest slice; one bit more with subtract = analog, whose signed ADC codes the difference of the ± planes in ±that sum) costs energy and adds no accuracy. Reported once per crossbar, at its adc field, for the first experiment at fidelity exact that maps layers to it, when the ADC was chosen (here or in a preset). Not reported at fidelity fast, where the ADC converts layer-level values and more bits do add accuracy, at ideal (no ADC), for a crossbar no exact experiment uses, or with range = fixed(…), whose step shrinks with more bits.',
  },
  'surrogate-file-missing': {
    severity: 'error',
    template: 'surrogate file "{path}" does not exist (paths are relative to the spec file)',
    doc: 'The file named in `parasitics = surrogate(file = …)` is not there; `xbarc surrogate --out FILE.json` writes one.',
  },
  'surrogate-file-bad': {
    severity: 'error',
    template: 'surrogate file "{path}" cannot be used: {reason}',
    doc: 'The file named in `parasitics = surrogate(file = …)` is not a header written by `xbarc surrogate`.',
  },
  'surrogate-size-mismatch': {
    severity: 'error',
    template: 'surrogate file "{path}" was trained for {trained} tiles, but this crossbar has size = {tile}',
    doc: 'A surrogate predicts one tile size; train one for this crossbar with `xbarc surrogate --size ROWSxCOLS`.',
  },
  'cell-levels': {
    severity: 'error',
    template: 'cell_bits = {cell} needs {needed} conductance levels, but device {device} has levels = {levels}',
    doc: 'A slice of cell_bits needs 2^cell_bits device levels.',
  },
  'offset-weight-bits': {
    severity: 'error',
    template: 'mapping = offset needs weight_bits ≥ 2 (the offset 2^(weight_bits−1) takes the top bit), got weight_bits = {bits}',
    doc: 'Offset mapping stores w + 2^(weight_bits−1) in one array; with one bit no signed weight fits. Use weight_bits ≥ 2 or mapping = differential.',
  },
  'analog-subtraction-offset': {
    severity: 'error',
    template:
      'subtract = analog subtracts the currents of the ± planes of differential mapping before one signed ADC, but crossbar {crossbar} uses mapping = offset, which has no − plane (its reference column is converted and subtracted digitally)',
    doc: 'Analog subtraction (one signed ADC on I⁺ − I⁻ per slice and column) is defined for differential mapping. Use mapping = differential, or subtract = digital.',
  },
  'analog-subtraction-adc-bits': {
    severity: 'error',
    template: 'subtract = analog converts I⁺ − I⁻ with a signed ADC, codes ±(2^(bits−1) − 1), which needs {field} ≥ 2, got {bits}',
    doc: 'A signed ADC with symmetric codes ±(2^(bits−1) − 1) has only the code 0 at one bit. Use at least 2 bits (the lossless width of a signed ADC is one bit more than the unsigned one), or subtract = digital.',
  },
  'data-file-missing': {
    severity: 'error',
    template: '{what} "{path}" does not exist (data paths are relative to the spec file)',
    doc: 'A data file or folder named in `data = idx(…)` or `cifar10(…)` is not there. Only existence is checked; `plan` and `run` read the contents.',
  },
  'batch-too-large': {
    severity: 'warning',
    template: 'batch = {batch} is larger than the {count} training samples',
    doc: 'Every epoch would be a single partial batch.',
  },
  'lr-scale-count': {
    severity: 'error',
    template: 'lr_scale has {given} factors, but network {network} has {count} weighted layers ({layers})',
    doc: '`train.lr_scale` needs one learning-rate factor per weighted layer (dense, conv), in network order.',
  },
  'memory-exceeded': {
    severity: 'error',
    template: 'experiment {experiment} needs about {need} of memory at {batch}, more than the {have} available; {fits}',
    doc: 'The plan estimates a peak memory (docs/running.md, "Memory") above what the machine has: its total memory for `plan`, the memory available now for `run`, which refuses rather than be killed by the kernel; the message names the largest batch that fits. Reduce the batch or the model. `check` does not estimate memory.',
  },
  'no-experiment': { severity: 'error', template: '{file} declares no experiment to run', doc: '`xbarc run` needs an experiment declaration.' },
  'set-swept': {
    severity: 'error',
    template:
      '--set {path}: experiment {experiment} sweeps {axis}, so every sweep point would replace this value and the override would do nothing; change the sweep in the spec instead',
    doc: 'A command-line override of a path the experiment sweeps (or of a path inside it) would be ignored at every point.',
  },
  'set-invalid': { severity: 'error', template: '--set {text}: {detail}', doc: 'A command-line override that does not parse or does not fit its parameter.' },
} satisfies Record<string, CodeInfo>;

export type DiagnosticCode = keyof typeof diagnosticCodes;

export interface Fix {
  title: string;
  file: string;
  span: Span;
  newText: string;
}

export interface Diagnostic {
  code: DiagnosticCode;
  severity: Severity;
  message: string;
  file: string;
  span: Span;
  fix?: Fix;
}

export function formatMessage(code: DiagnosticCode, args: Record<string, string | number>): string {
  const info: CodeInfo = diagnosticCodes[code];
  return info.template.replace(/\{(\w+)\}/g, (_, key: string) => (args[key] !== undefined ? String(args[key]) : ''));
}

/** Collects diagnostics; de-duplicates identical (code, file, span) reports. */
export class Diagnostics {
  readonly items: Diagnostic[] = [];
  private seen = new Set<string>();

  add(code: DiagnosticCode, file: string, span: Span, args: Record<string, string | number> = {}, fix?: Omit<Fix, 'file'> & { file?: string }): Diagnostic {
    const message = formatMessage(code, args);
    const key = `${code}|${file}|${span.start}|${span.end}|${message}`;
    const diag: Diagnostic = {
      code,
      severity: diagnosticCodes[code].severity as Severity,
      message,
      file,
      span,
      ...(fix ? { fix: { ...fix, file: fix.file ?? file } } : {}),
    };
    if (!this.seen.has(key)) {
      this.seen.add(key);
      this.items.push(diag);
    }
    return diag;
  }

  /** Move a reported diagnostic to where the user can act on it, adding a note on where it arose. */
  relocate(d: Diagnostic, file: string, span: Span, note: string): void {
    const key = (x: Diagnostic) => `${x.code}|${x.file}|${x.span.start}|${x.span.end}|${x.message}`;
    this.seen.delete(key(d));
    d.message += note;
    d.file = file;
    d.span = span;
    delete d.fix;
    this.seen.add(key(d));
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }

  sorted(): Diagnostic[] {
    return [...this.items].sort((a, b) => (a.file === b.file ? a.span.start - b.span.start || a.code.localeCompare(b.code) : a.file.localeCompare(b.file)));
  }
}

/** Diagnostics shown per file: past this a file is mostly noise, and each one costs the editor. */
export const MAX_DIAGNOSTICS_PER_FILE = 200;

/** Lexer and parser diagnostics: the causes in a broken file, bounded by the parser's error budget. */
const SYNTAX_CODES: ReadonlySet<string> = new Set(['unexpected-character', 'syntax-error']);

/**
 * At most `limit` diagnostics per file, in the order given: every syntax diagnostic (there are
 * few: the parser stops after its budget, and says so), then the others first to last; one
 * too-many-diagnostics at the first one left out says how many were.
 */
export function limitPerFile(items: Diagnostic[], limit = MAX_DIAGNOSTICS_PER_FILE): Diagnostic[] {
  const byFile = new Map<string, Diagnostic[]>();
  for (const d of items) {
    const list = byFile.get(d.file);
    if (list) list.push(d);
    else byFile.set(d.file, [d]);
  }
  const dropped = new Set<Diagnostic>();
  for (const list of byFile.values()) {
    if (list.length <= limit) continue;
    let room = limit - list.filter((d) => SYNTAX_CODES.has(d.code)).length;
    for (const d of list) if (!SYNTAX_CODES.has(d.code) && room-- <= 0) dropped.add(d);
  }
  if (dropped.size === 0) return items;
  const noted = new Set<string>();
  const out: Diagnostic[] = [];
  for (const d of items) {
    if (!dropped.has(d)) out.push(d);
    else if (!noted.has(d.file)) {
      noted.add(d.file);
      const count = byFile.get(d.file)!.filter((x) => dropped.has(x)).length;
      const code = 'too-many-diagnostics';
      out.push({ code, severity: diagnosticCodes[code].severity as Severity, message: formatMessage(code, { count, limit }), file: d.file, span: d.span });
    }
  }
  return out;
}

/** `file:3:12-3:16 error unknown-unit: message` — the golden-file and CLI format. */
export function formatDiagnostic(d: Diagnostic, displayPath: string = d.file): string {
  return `${displayPath}:${d.span.line}:${d.span.col}-${d.span.endLine}:${d.span.endCol} ${d.severity} ${d.code}: ${d.message}`;
}

// ---- "did you mean" --------------------------------------------------------------------------

export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
    }
    prev = cur;
  }
  return prev[n]!;
}

/** The closest candidate, if close enough to be a plausible typo (case-insensitive match first). */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  const lower = word.toLowerCase();
  for (const c of candidates) {
    if (c === word) continue;
    if (c.toLowerCase() === lower) return c;
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestScore) {
      bestScore = d;
      best = c;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return best !== undefined && bestScore <= limit ? best : undefined;
}

export function didYouMean(suggestion: string | undefined): string {
  return suggestion ? `; did you mean ${suggestion}?` : '';
}
