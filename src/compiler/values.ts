/**
 * Checked values: what a field resolves to once evaluated against its parameter type. Numbers
 * are SI; every value remembers where it was written (or that it is a default).
 */
import type { Span } from './ast.js';
import type { Family } from './schema.js';
import { type Dimension, formatQuantity, trimNumber, isDimensionless } from './units.js';

export interface Origin {
  file: string;
  span: Span;
  isDefault?: boolean;
}

export type Value =
  | ({ k: 'num'; v: number; dim: Dimension; unit?: string } & Origin)
  | ({ k: 'str'; v: string } & Origin)
  | ({ k: 'bool'; v: boolean } & Origin)
  | ({ k: 'enum'; v: string } & Origin)
  | ({ k: 'list'; items: Value[] } & Origin)
  | ({ k: 'shape'; dims: number[] } & Origin)
  | ({ k: 'call'; family: Family; name: string; args: Record<string, Value> } & Origin)
  | ({ k: 'object'; fields: Record<string, Value> } & Origin)
  | ({ k: 'decl'; kind: 'device' | 'crossbar' | 'network'; name: string } & Origin)
  | ({ k: 'model'; network: string; args: Record<string, Value> } & Origin);

/** Render a value the way a user would write it (units in engineering notation). */
export function showValue(value: Value): string {
  switch (value.k) {
    case 'num':
      if (value.unit === '%') return `${trimNumber(value.v * 100)} %`;
      return isDimensionless(value.dim) ? trimNumber(value.v) : formatQuantity(value.v, value.dim);
    case 'str':
      return JSON.stringify(value.v);
    case 'bool':
      return String(value.v);
    case 'enum':
      return value.v;
    case 'list':
      return `[${value.items.map(showValue).join(', ')}]`;
    case 'shape':
      return value.dims.join(' x ');
    case 'call': {
      const args = Object.entries(value.args).filter(([, a]) => !a.isDefault);
      return args.length === 0 ? value.name : `${value.name}(${args.map(([k, a]) => `${k} = ${showValue(a)}`).join(', ')})`;
    }
    case 'object':
      return `{ ${Object.entries(value.fields)
        .map(([k, f]) => `${k} = ${showValue(f)}`)
        .join(', ')} }`;
    case 'decl':
      return value.name;
    case 'model': {
      const args = Object.entries(value.args);
      return args.length === 0 ? value.network : `${value.network}(${args.map(([k, a]) => `${k} = ${showValue(a)}`).join(', ')})`;
    }
  }
}

/** Plain JSON of a value (SI numbers), for plans, results and hover. */
export function toJson(value: Value): unknown {
  switch (value.k) {
    case 'num':
    case 'str':
    case 'bool':
    case 'enum':
      return value.v;
    case 'list':
      return value.items.map(toJson);
    case 'shape':
      return value.dims;
    case 'call':
      return { kind: value.name, ...Object.fromEntries(Object.entries(value.args).map(([k, a]) => [k, toJson(a)])) };
    case 'object':
      return Object.fromEntries(Object.entries(value.fields).map(([k, f]) => [k, toJson(f)]));
    case 'decl':
      return value.name;
    case 'model':
      return { network: value.network, ...Object.fromEntries(Object.entries(value.args).map(([k, a]) => [k, toJson(a)])) };
  }
}

export function numOf(value: Value | undefined, fallback = NaN): number {
  return value?.k === 'num' ? value.v : fallback;
}
