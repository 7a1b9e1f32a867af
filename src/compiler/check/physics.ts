/**
 * Physical consistency of devices and crossbars: on/off ratio and resistances, stuck-at
 * probabilities, bit slicing and input streaming, cell levels, wires for parasitics, offset
 * mapping; and the checks that join a crossbar to the experiments using it (ADC width against the
 * lossless width at fidelity exact, device updates on offset-mapped crossbars).
 */
import type { ConfigDecl, Declaration } from '../ast.js';
import type { DeclEval } from '../evaluate.js';
import type { Module } from '../resolve.js';
import { Dim, formatQuantity, trimNumber } from '../units.js';
import { numOf, showValue, type Value } from '../values.js';
import { inputEncoding, largestPartialSum, losslessBits, weightSlices } from '../../model/crossbar-math.js';
import type { CheckedCrossbar, CheckedDecl, CheckedExperiment, CrossbarGeometry } from '../check.js';
import { fidelityOf, presetFailed, type CheckContext } from './context.js';
import { surrogateFileProblem } from '../surrogate-files.js';

/** A device, checked once per module and name: on/off ratio, r_off against r_on × on_off (deriving the one not given), stuck-at probabilities. */
export function checkDevice(ctx: CheckContext, module: Module, decl: ConfigDecl): CheckedDecl {
  const key = `${module.path}#${decl.name.text}`;
  const hit = ctx.devices.get(key);
  if (hit) return hit;
  const de = ctx.ev.declEval(module, decl);
  const values = de.all();
  const rOn = numOf(values['r_on']);
  let roffWritten = de.isWritten('r_off');
  let onOffWritten = de.isWritten('on_off');
  // r_off or on_off written here wins over the other one inherited from a preset.
  if (roffWritten && onOffWritten && de.isWrittenHere('r_off') !== de.isWrittenHere('on_off')) {
    if (de.isWrittenHere('r_off')) onOffWritten = false;
    else roffWritten = false;
  }
  if (roffWritten && values['r_off'] && !onOffWritten) {
    values['on_off'] = { ...values['r_off'], k: 'num', v: numOf(values['r_off']) / rOn, dim: Dim.none, isDefault: true };
  }
  const onOff = numOf(values['on_off']);
  if (values['on_off'] && !(onOff > 1)) {
    const derived = roffWritten && !onOffWritten && values['r_off'] && values['r_on'];
    const at = ctx.fieldSpan(de, derived ? 'r_off' : 'on_off');
    ctx.diags.add('on-off-ratio', at.file, at.span, {
      value: derived ? `r_off / r_on = ${showValue(values['r_off']!)} / ${showValue(values['r_on']!)} = ${trimNumber(onOff)}` : trimNumber(onOff),
    });
  }
  if (roffWritten && onOffWritten && values['r_off'] && values['on_off']) {
    const product = rOn * onOff;
    const rOff = numOf(values['r_off']);
    if (Math.abs(product - rOff) > 1e-9 * Math.max(product, rOff)) {
      const at = ctx.fieldSpan(de, 'r_off');
      const roffValue = values['r_off'];
      ctx.diags.add('inconsistent-resistance', at.file, at.span, { roff: showValue(roffValue), product: formatQuantity(product, Dim.resistance) });
    }
  }
  if ((!values['r_off'] || !roffWritten) && values['r_on'] && values['on_off']) {
    values['r_off'] = { k: 'num', v: rOn * onOff, dim: Dim.resistance, file: module.path, span: decl.name.span, isDefault: true };
  }
  const sa = numOf(values['p_sa0']) + numOf(values['p_sa1']);
  if (sa > 1) {
    const at = ctx.fieldSpan(de, 'p_sa1');
    ctx.diags.add('out-of-range', at.file, at.span, { name: 'p_sa0 + p_sa1', value: `${trimNumber(sa * 100)} %`, range: '≤ 100 %' });
  }
  checkIvCurve(ctx, de, values);
  const checked: CheckedDecl = { kind: 'device', name: decl.name.text, file: module.path, span: decl.name.span, values, eval: de };
  ctx.devices.set(key, checked);
  return checked;
}

/**
 * The read I-V curve: a table's points in order (voltages strictly increasing, I/G non-decreasing,
 * as many of each), and a cubic with k < 0 increasing up to v_read (|V| < 1/sqrt(3|k|)).
 */
function checkIvCurve(ctx: CheckContext, de: DeclEval, values: ReturnType<DeclEval['all']>): void {
  const iv = values['iv'];
  if (iv?.k !== 'call') return;
  const at = ctx.fieldSpan(de, 'iv');
  const bad = (name: string, value: string, range: string) => ctx.diags.add('out-of-range', at.file, at.span, { name, value, range });
  if (iv.name === 'table') {
    const list = (name: string) => {
      const l = iv.args[name];
      return l?.k === 'list' ? l.items.map((x) => numOf(x)) : [];
    };
    const v = list('v');
    const i = list('i');
    if (v.length !== i.length) bad('table(v, i)', `${v.length} voltages and ${i.length} values`, 'as many values as voltages');
    for (let k = 1; k < v.length; k++)
      if (!(v[k]! > v[k - 1]!)) bad(`table v[${k}]`, formatQuantity(v[k]!, Dim.voltage), `> v[${k - 1}] (strictly increasing)`);
    for (let k = 1; k < i.length; k++) if (!(i[k]! >= i[k - 1]!)) bad(`table i[${k}]`, formatQuantity(i[k]!, Dim.voltage), `≥ i[${k - 1}] (non-decreasing)`);
  }
  if (iv.name === 'cubic') {
    const k = iv.args['k'] ? numOf(iv.args['k']) : 0;
    const vRead = values['v_read'] ? numOf(values['v_read']) : 0;
    if (k < 0 && vRead >= 1 / Math.sqrt(-3 * k))
      bad(
        'v_read',
        formatQuantity(vRead, Dim.voltage),
        `< 1/sqrt(3·|k|) = ${formatQuantity(1 / Math.sqrt(-3 * k), Dim.voltage)}, where cubic(k = ${trimNumber(k)}) stops increasing`,
      );
  }
}

/** A crossbar and its device, checked once per module and name: slicing, streaming, cell levels, wires, offset mapping; its tile geometry. */
export function checkCrossbar(ctx: CheckContext, module: Module, decl: ConfigDecl): CheckedCrossbar {
  const key = `${module.path}#${decl.name.text}`;
  const hit = ctx.crossbars.get(key);
  if (hit) return hit;
  const de = ctx.ev.declEval(module, decl);
  const values = de.all();
  let device: CheckedDecl | undefined;
  const devRef = values['device'];
  if (devRef?.k === 'decl') {
    const found = ctx.ev.lookupDecl(de.module, devRef.name) ?? findDeclFromPreset(ctx, de, devRef.name);
    if (found && found.decl.kind === 'device') device = checkDevice(ctx, found.module, found.decl);
  } else if (!devRef && !de.isWritten('device') && !presetFailed(decl, de)) {
    ctx.diags.add('missing-field', module.path, decl.name.span, {
      owner: `crossbar ${decl.name.text}`,
      name: 'device',
      doc: 'the device in every cell, e.g. device = rram',
    });
  }
  // Every field has a value here unless it failed to evaluate (already reported): NaN then skips the checks below.
  const size = values['size'];
  const rows = size?.k === 'shape' ? size.dims[0]! : NaN;
  const cols = size?.k === 'shape' ? size.dims[1]! : NaN;
  const weightBits = numOf(values['weight_bits']);
  const cellBits = numOf(values['cell_bits']);
  const inputBits = numOf(values['input_bits']);
  const dacBits = numOf(values['dac_bits']);
  if (inputBits % dacBits !== 0 && Number.isFinite(inputBits) && Number.isFinite(dacBits)) {
    const at = ctx.fieldSpan(de, de.isWritten('dac_bits') ? 'dac_bits' : 'input_bits');
    ctx.diags.add('stream-mismatch', at.file, at.span, { dac: dacBits, input: inputBits });
  }
  const backward = values['backward'];
  if (backward?.k === 'object') {
    const bIn = numOf(backward.fields['input_bits']);
    const bDac = numOf(backward.fields['dac_bits']);
    if (bIn % bDac !== 0 && Number.isFinite(bIn) && Number.isFinite(bDac)) {
      const at = ctx.fieldSpan(de, 'backward');
      ctx.diags.add('stream-mismatch', at.file, at.span, { dac: bDac, input: bIn });
    }
  }
  // Slices of cell_bits from the LSB up, the top one narrower when cell_bits does not divide
  // weight_bits: the widest slice, min(cell_bits, weight_bits), bounds the partial sums (and the
  // analog difference of two planes, whose signed ADC needs one bit more).
  const analog = values['subtract']?.k === 'enum' && values['subtract'].v === 'analog';
  const lossless = losslessBits(rows, dacBits, Math.min(cellBits, weightBits), analog);
  if (analog) checkAnalogSubtraction(ctx, de, decl.name.text, values);
  const parasitics = values['parasitics'];
  const wires = values['wires'];
  if (parasitics?.k === 'call' && parasitics.name !== 'none' && wires?.k === 'object') {
    if (numOf(wires.fields['row']) === 0 && numOf(wires.fields['col']) === 0) {
      const at = ctx.fieldSpan(de, 'parasitics');
      ctx.diags.add('parasitics-without-wires', at.file, at.span, { model: parasitics.name });
    }
  }
  const sp = surrogateFileProblem(parasitics, rows, cols);
  if (sp) {
    const { code, file, span, ...args } = sp;
    ctx.diags.add(code, file, span, args);
  }
  if (device && device.values['levels']) {
    const levels = numOf(device.values['levels']);
    const needed = 2 ** cellBits;
    if (needed > levels) {
      const at = ctx.fieldSpan(de, de.isWritten('cell_bits') ? 'cell_bits' : 'device');
      ctx.diags.add('cell-levels', at.file, at.span, { cell: cellBits, needed, device: device.name, levels });
    }
  }
  if (values['mapping']?.k === 'enum' && values['mapping'].v === 'offset' && weightBits < 2) {
    const at = ctx.fieldSpan(de, de.isWritten('weight_bits') ? 'weight_bits' : 'mapping');
    ctx.diags.add('offset-weight-bits', at.file, at.span, { bits: weightBits });
  }
  const geometry: CrossbarGeometry = {
    rows,
    cols,
    weightSlices: weightSlices({ weightBits, cellBits }),
    inputStreams: inputEncoding(inputBits, dacBits, false).streams,
    losslessAdcBits: lossless,
  };
  const checked: CheckedCrossbar = {
    kind: 'crossbar',
    name: decl.name.text,
    file: module.path,
    span: decl.name.span,
    values,
    eval: de,
    ...(device ? { device } : {}),
    geometry,
  };
  ctx.crossbars.set(key, checked);
  return checked;
}

/** `subtract = analog`: differential mapping only, and signed ADCs (forward and backward) of at least 2 bits. */
function checkAnalogSubtraction(ctx: CheckContext, de: DeclEval, name: string, values: Record<string, Value>): void {
  if (values['mapping']?.k === 'enum' && values['mapping'].v === 'offset') {
    const at = ctx.fieldSpan(de, 'subtract');
    ctx.diags.add('analog-subtraction-offset', at.file, at.span, { crossbar: name });
  }
  const adcs: [string, Value | undefined, string][] = [
    ['adc.bits', values['adc'], 'adc'],
    ['backward.adc.bits', values['backward']?.k === 'object' ? values['backward'].fields['adc'] : undefined, 'backward'],
  ];
  for (const [field, adc, at] of adcs) {
    const bits = adc?.k === 'object' ? numOf(adc.fields['bits']) : NaN;
    if (!(bits < 2)) continue;
    const span = ctx.fieldSpan(de, de.isWritten(at) ? at : 'subtract');
    ctx.diags.add('analog-subtraction-adc-bits', span.file, span.span, { field, bits });
  }
}

/** A device named inside a preset lives in the preset's module. */
function findDeclFromPreset(ctx: CheckContext, de: DeclEval, name: string): { decl: Declaration; module: Module } | undefined {
  for (const m of ctx.ev.program.modules.values()) {
    const d = m.own.get(name);
    if (d && m !== de.module) return { decl: d, module: m };
  }
  return undefined;
}

/**
 * An ADC wider than the lossless width adds no accuracy only where each tile's partial sums have
 * their own ADC: at fidelity exact. At fast the ADC converts layer-level values, where every bit
 * counts, and at ideal there is no ADC; so the crossbar is judged by the exact experiments that
 * map layers to it, once per crossbar. A fixed range is left alone: its step shrinks with more
 * bits until it reaches one level, so bits above the lossless width can still help.
 */
export function checkAdcWidths(ctx: CheckContext, result: CheckedExperiment): void {
  if (fidelityOf(result) !== 'exact') return;
  for (const target of new Set([...result.mapping.values()].flatMap((t) => (t.target === 'crossbar' ? [t.crossbar] : [])))) {
    const xb = result.crossbars.get(target);
    const adc = xb?.values['adc'];
    if (!xb || adc?.k !== 'object') continue;
    const key = `${xb.file}#${xb.name}`;
    const range = adc.fields['range'];
    const bits = numOf(adc.fields['bits']);
    const { rows, losslessAdcBits: lossless } = xb.geometry;
    // Only an ADC someone chose (here or in a preset) is worth a warning, not the default width.
    if (ctx.adcWarned.has(key) || !(bits > lossless) || !xb.eval.isWritten('adc') || (range?.k === 'call' && range.name === 'fixed')) continue;
    ctx.adcWarned.add(key);
    const largest = largestPartialSum(rows, numOf(xb.values['dac_bits']), Math.min(numOf(xb.values['cell_bits']), numOf(xb.values['weight_bits'])));
    const at = ctx.fieldSpan(xb.eval, 'adc');
    const signed = xb.values['subtract']?.k === 'enum' && xb.values['subtract'].v === 'analog' ? ' for the signed plane difference of subtract = analog' : '';
    ctx.diags.add('adc-above-lossless', at.file, at.span, { bits, lossless, rows, largest, signed, experiment: result.name, crossbar: target });
  }
}
