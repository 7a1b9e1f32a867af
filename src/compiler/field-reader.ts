/**
 * Reading evaluated blocks in `lower`: the evaluator has filled every field from the parameter
 * table (schema.ts), so a missing or mistyped field is a compiler bug. The reader names the block
 * and the field instead of falling back to a second copy of a default.
 */
import type { Value } from './values.js';

type Fields = Record<string, Value>;

/** Reads fields of one evaluated block, naming the block and field when one is absent or mistyped. */
export class FieldReader {
  constructor(
    private readonly owner: string,
    private readonly fields: Fields,
  ) {}

  private get(name: string): Value {
    const v = this.fields[name];
    if (!v) throw new Error(`internal error: lowering ${this.owner}: field ${name} has no value`);
    return v;
  }

  /** Whether the field has a value (optional fields are absent unless written). */
  has(name: string): boolean {
    return this.fields[name] !== undefined;
  }

  num(name: string): number {
    const v = this.get(name);
    if (v.k !== 'num') throw new Error(`internal error: lowering ${this.owner}: ${name} is ${v.k}, not a number`);
    return v.v;
  }

  str(name: string): string {
    const v = this.get(name);
    if (v.k !== 'str') throw new Error(`internal error: lowering ${this.owner}: ${name} is ${v.k}, not a string`);
    return v.v;
  }

  bool(name: string): boolean {
    const v = this.get(name);
    if (v.k !== 'bool') throw new Error(`internal error: lowering ${this.owner}: ${name} is ${v.k}, not a boolean`);
    return v.v;
  }

  /** A list of numbers. */
  numList(name: string): number[] {
    const v = this.get(name);
    if (v.k !== 'list') throw new Error(`internal error: lowering ${this.owner}: ${name} is ${v.k}, not a list`);
    return v.items.map((item, i) => {
      if (item.k !== 'num') throw new Error(`internal error: lowering ${this.owner}: ${name}[${i}] is ${item.k}, not a number`);
      return item.v;
    });
  }

  /** A list of enum options. */
  enumList<T extends string>(name: string, options: readonly T[]): T[] {
    const v = this.get(name);
    if (v.k !== 'list') throw new Error(`internal error: lowering ${this.owner}: ${name} is ${v.k}, not a list`);
    return v.items.map((item, i) => {
      if (item.k !== 'enum' || !(options as readonly string[]).includes(item.v))
        throw new Error(`internal error: lowering ${this.owner}: ${name}[${i}] is not one of ${options.join(', ')}`);
      return item.v as T;
    });
  }

  /** Where a field was written (data paths are relative to the file that names them). */
  fileOf(name: string): string {
    return this.get(name).file;
  }

  enumOf<T extends string>(name: string, options: readonly T[]): T {
    const v = this.get(name);
    if (v.k !== 'enum' || !(options as readonly string[]).includes(v.v))
      throw new Error(`internal error: lowering ${this.owner}: ${name} is not one of ${options.join(', ')}`);
    return v.v as T;
  }

  shape(name: string): number[] {
    const v = this.get(name);
    if (v.k !== 'shape') throw new Error(`internal error: lowering ${this.owner}: ${name} is ${v.k}, not a shape`);
    return v.dims;
  }

  block(name: string): FieldReader {
    const v = this.get(name);
    if (v.k !== 'object') throw new Error(`internal error: lowering ${this.owner}: ${name} is ${v.k}, not a block`);
    return new FieldReader(`${this.owner}.${name}`, v.fields);
  }

  call(name: string): { name: string; args: FieldReader } {
    const v = this.get(name);
    if (v.k !== 'call') throw new Error(`internal error: lowering ${this.owner}: ${name} is ${v.k}, not a constructor call`);
    return { name: v.name, args: new FieldReader(`${this.owner}.${name} = ${v.name}(…)`, v.args) };
  }
}
