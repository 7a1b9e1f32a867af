/**
 * Physical units and dimensions. A dimension is a vector of exponents over the base quantities
 * xbarc needs (voltage, current, time, plus the counting "units" bits and batches), so that
 * products and quotients of quantities get the right dimension (V / Ohm = A, Ohm · S = 1).
 * Every value is stored in SI (Ohm, S, V, A, s, J, W) once parsed.
 */

export interface Dimension {
  V: number;
  A: number;
  s: number;
  bit: number;
  batch: number;
}

const dim = (V = 0, A = 0, s = 0, bit = 0, batch = 0): Dimension => ({ V, A, s, bit, batch });

export const Dim = {
  none: dim(),
  voltage: dim(1),
  current: dim(0, 1),
  time: dim(0, 0, 1),
  resistance: dim(1, -1),
  conductance: dim(-1, 1),
  energy: dim(1, 1, 1),
  power: dim(1, 1),
  frequency: dim(0, 0, -1),
  bits: dim(0, 0, 0, 1),
  batches: dim(0, 0, 0, 0, 1),
} as const;

export type DimName = keyof typeof Dim;

interface UnitInfo {
  dim: Dimension;
  scale: number;
}

function prefixed(base: string, d: Dimension, prefixes: Record<string, number>): Record<string, UnitInfo> {
  const out: Record<string, UnitInfo> = {};
  for (const [p, scale] of Object.entries(prefixes)) out[p + base] = { dim: d, scale };
  return out;
}

const SMALL = { '': 1, m: 1e-3, u: 1e-6, n: 1e-9, p: 1e-12, f: 1e-15 };

/** Every unit the language accepts. Case matters: MOhm is mega, mOhm is milli. */
export const units: Record<string, UnitInfo> = {
  ...prefixed('Ohm', Dim.resistance, { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9 }),
  ...prefixed('S', Dim.conductance, { '': 1, m: 1e-3, u: 1e-6, n: 1e-9, p: 1e-12 }),
  ...prefixed('V', Dim.voltage, { '': 1, m: 1e-3, u: 1e-6 }),
  ...prefixed('A', Dim.current, SMALL),
  ...prefixed('s', Dim.time, SMALL),
  ...prefixed('J', Dim.energy, SMALL),
  ...prefixed('W', Dim.power, SMALL),
  ...prefixed('Hz', Dim.frequency, { '': 1, k: 1e3, M: 1e6, G: 1e9 }),
  min: { dim: Dim.time, scale: 60 },
  h: { dim: Dim.time, scale: 3600 },
  // Drift is evaluated days after programming.
  day: { dim: Dim.time, scale: 86400 },
  days: { dim: Dim.time, scale: 86400 },
  '%': { dim: Dim.none, scale: 0.01 },
  bit: { dim: Dim.bits, scale: 1 },
  bits: { dim: Dim.bits, scale: 1 },
  batch: { dim: Dim.batches, scale: 1 },
  batches: { dim: Dim.batches, scale: 1 },
};

/** Units shown in completion and the TextMate grammar (the common spellings). */
export const unitNames = Object.keys(units);

export function lookupUnit(name: string): UnitInfo | undefined {
  return Object.prototype.hasOwnProperty.call(units, name) ? units[name] : undefined;
}

export function sameDim(a: Dimension, b: Dimension): boolean {
  return a.V === b.V && a.A === b.A && a.s === b.s && a.bit === b.bit && a.batch === b.batch;
}

export function mulDim(a: Dimension, b: Dimension, sign = 1): Dimension {
  return dim(a.V + sign * b.V, a.A + sign * b.A, a.s + sign * b.s, a.bit + sign * b.bit, a.batch + sign * b.batch);
}

export function isDimensionless(d: Dimension): boolean {
  return sameDim(d, Dim.none);
}

/** Counting dimensions accept bare numbers (`weight_bits = 8` and `8 bits` are the same). */
export function isCountingDim(d: Dimension): boolean {
  return sameDim(d, Dim.bits) || sameDim(d, Dim.batches);
}

/** A human name for a dimension: "resistance", or an expression such as "V·s". */
export function dimName(d: Dimension): string {
  for (const [name, candidate] of Object.entries(Dim)) if (sameDim(d, candidate)) return name === 'none' ? 'a plain number' : name;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(d)) if (v !== 0) parts.push(v === 1 ? k : `${k}^${v}`);
  return parts.join('·');
}

/** The SI unit used to display a dimension. */
export function siUnit(d: Dimension): string {
  const table: [Dimension, string][] = [
    [Dim.resistance, 'Ohm'],
    [Dim.conductance, 'S'],
    [Dim.voltage, 'V'],
    [Dim.current, 'A'],
    [Dim.time, 's'],
    [Dim.energy, 'J'],
    [Dim.power, 'W'],
    [Dim.frequency, 'Hz'],
    [Dim.bits, 'bits'],
    [Dim.batches, 'batches'],
  ];
  for (const [candidate, unit] of table) if (sameDim(d, candidate)) return unit;
  return isDimensionless(d) ? '' : dimName(d);
}

/** An example literal for a dimension, used in "needs a unit" messages. */
export function exampleFor(d: Dimension): string {
  const table: [Dimension, string][] = [
    [Dim.resistance, '100 kOhm'],
    [Dim.conductance, '10 uS'],
    [Dim.voltage, '0.2 V'],
    [Dim.current, '10 uA'],
    [Dim.time, '1 s'],
    [Dim.energy, '1 pJ'],
    [Dim.power, '1 mW'],
    [Dim.frequency, '1 GHz'],
  ];
  for (const [candidate, ex] of table) if (sameDim(d, candidate)) return ex;
  return '1';
}

/** Format an SI value with an engineering prefix: 1e5 Ohm → "100 kOhm". */
export function formatQuantity(value: number, d: Dimension): string {
  const unit = siUnit(d);
  if (!unit || unit === 'bits' || unit === 'batches') return `${trimNumber(value)}${unit ? ' ' + unit : ''}`;
  const prefixes: [number, string][] = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
    [1, ''],
    [1e-3, 'm'],
    [1e-6, 'u'],
    [1e-9, 'n'],
    [1e-12, 'p'],
    [1e-15, 'f'],
  ];
  const abs = Math.abs(value);
  if (abs === 0) return `0 ${unit}`;
  for (const [scale, p] of prefixes) {
    if (abs >= scale * 0.9999999) {
      const candidate = p + unit;
      if (lookupUnit(candidate)) return `${trimNumber(value / scale)} ${candidate}`;
    }
  }
  return `${trimNumber(value)} ${unit}`;
}

export function trimNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(6)));
}
