/**
 * Lower a checked crossbar (and its device) into the plan's typed record (src/model/crossbar.ts).
 * The evaluator has already filled every field from the parameter table (schema.ts), so lowering
 * only renames and converts: a missing field here is a compiler bug, reported as such, never
 * papered over with a second default.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { CheckedCrossbar, CheckedDecl } from './check.js';
import { findConstructor } from './schema.js';
import type {
  AdcRange,
  AdcSpec,
  BackwardConverters,
  CrossbarSpec,
  DeviceSpec,
  IvModelSpec,
  ParasiticsSpec,
  UpdateModelSpec,
  WiresSpec,
} from '../model/crossbar.js';
import { FieldReader } from './field-reader.js';

function lowerAdc(r: FieldReader): AdcSpec {
  return {
    bits: r.num('bits'),
    range: lowerAdcRange(r.call('range')),
    offset: r.num('offset'),
    gainError: r.num('gain_error'),
    inl: r.num('inl'),
    rounding: r.enumOf('rounding', ['nearest', 'truncate'] as const),
  };
}

function lowerAdcRange(c: { name: string; args: FieldReader }): AdcRange {
  if (c.name === 'max') return { kind: 'max' };
  if (c.name === 'fixed') return { kind: 'fixed', current: c.args.num('current') };
  if (c.name === 'calibrate') return { kind: 'calibrate', percentile: c.args.num('percentile') };
  throw new Error(`internal error: unknown ADC range ${c.name}`);
}

function lowerParasitics(c: { name: string; args: FieldReader }): ParasiticsSpec {
  const backward = () => c.args.enumOf('backward', ['transposed', 'reuse'] as const);
  if (c.name === 'none') return { kind: 'none' };
  if (c.name === 'fcm') return { kind: 'fcm', refresh: c.args.num('refresh'), backward: backward() };
  if (c.name === 'aam') return { kind: 'aam', backward: backward(), form: c.args.enumOf('form', ['loaded', 'lumped'] as const) };
  if (c.name === 'surrogate') {
    const file = c.args.str('file');
    return { kind: 'surrogate', file: isAbsolute(file) ? file : resolve(dirname(c.args.fileOf('file')), file), refresh: c.args.num('refresh') };
  }
  throw new Error(`internal error: unknown parasitic model ${c.name}`);
}

/** An update model: its constructor's parameters, every one from the table (no defaults here). */
function lowerUpdate(c: { name: string; args: FieldReader }): UpdateModelSpec {
  const ctor = findConstructor('update', c.name);
  if (!ctor) throw new Error(`internal error: unknown update model ${c.name}`);
  const args = Object.fromEntries(ctor.params.map((p) => [p.name, p.type.t === 'enum' ? c.args.enumOf(p.name, p.type.options) : c.args.num(p.name)]));
  return { kind: c.name, ...args } as UpdateModelSpec;
}

/** A read I-V curve: its constructor's parameters (numbers, or lists of numbers for `table`). */
function lowerIv(c: { name: string; args: FieldReader }): IvModelSpec {
  if (c.name === 'linear') return { kind: 'linear' };
  if (c.name === 'sinh') return { kind: 'sinh', v0: c.args.num('v0'), fold_at: c.args.num('fold_at') };
  if (c.name === 'cubic') return { kind: 'cubic', k: c.args.num('k'), fold_at: c.args.num('fold_at') };
  if (c.name === 'table') return { kind: 'table', v: c.args.numList('v'), i: c.args.numList('i'), fold_at: c.args.num('fold_at') };
  throw new Error(`internal error: unknown I-V model ${c.name}`);
}

function lowerWires(r: FieldReader): WiresSpec {
  return { row: r.num('row'), col: r.num('col'), source: r.num('source'), sense: r.num('sense') };
}

/** G_on = 1/R_on and G_off = G_on/(R_off/R_on), in this order of float operations (the runtime's numbers depend on it). */
export function lowerDevice(device: CheckedDecl): DeviceSpec {
  const r = new FieldReader(`device ${device.name}`, device.values);
  const rOn = r.num('r_on');
  const rOff = r.num('r_off');
  const gOn = 1 / rOn;
  return {
    name: device.name,
    levels: r.num('levels'),
    rOn,
    rOff,
    gOn,
    gOff: gOn / (rOff / rOn),
    vRead: r.num('v_read'),
    d2dSigma: r.num('d2d_sigma'),
    d2dDist: r.enumOf('d2d_dist', ['normal', 'lognormal'] as const),
    readNoise: r.num('read_noise'),
    driftNu: r.num('drift_nu'),
    driftT0: r.num('drift_t0'),
    pSa0: r.num('p_sa0'),
    pSa1: r.num('p_sa1'),
    update: lowerUpdate(r.call('update')),
    iv: lowerIv(r.call('iv')),
  };
}

/** The plan record of a checked crossbar whose device resolved. */
export function lowerCrossbar(name: string, xb: CheckedCrossbar): CrossbarSpec {
  if (!xb.device) throw new Error(`internal error: lowering crossbar ${name}: its device did not resolve`);
  const r = new FieldReader(`crossbar ${name}`, xb.values);
  const [rows, cols] = r.shape('size');
  const back = r.block('backward');
  const backward: BackwardConverters = { inputBits: back.num('input_bits'), dacBits: back.num('dac_bits'), adc: lowerAdc(back.block('adc')) };
  return {
    name,
    rows: rows!,
    cols: cols ?? rows!,
    mapping: r.enumOf('mapping', ['differential', 'offset'] as const),
    subtract: r.enumOf('subtract', ['digital', 'analog'] as const),
    weightBits: r.num('weight_bits'),
    cellBits: r.num('cell_bits'),
    inputBits: r.num('input_bits'),
    dacBits: r.num('dac_bits'),
    adc: lowerAdc(r.block('adc')),
    backward,
    wires: lowerWires(r.block('wires')),
    parasitics: lowerParasitics(r.call('parasitics')),
    device: lowerDevice(xb.device),
  };
}
