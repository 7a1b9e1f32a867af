/**
 * The one inner loop of the Gauss–Seidel sweeps, in WebAssembly with f64x2 SIMD (about 4× the
 * scalar JS loop here; plain IEEE multiplies and adds, no fused ones, so results are deterministic
 * and agree with the JS loops to rounding). Exported as `axpby(n, B, y, x, z, a, c, vstep, astep, cstep)`:
 * for s < n, y[s·B + b] = a[s]·x[s·B + b] + c[s]·z[s·B + b] for b < B (B a multiple of 4), all
 * addresses in bytes; after each segment y, x, z advance by vstep and a, c by astep, cstep (signed),
 * so a recurrence runs forwards or backwards (z = the previous segment of y). Built here byte by
 * byte (no toolchain, no binary blob to trust): one type, one function, one exported memory.
 * Instantiated once per process (`wasmKernel`); null where WebAssembly SIMD is missing.
 */

import { leb, name, section, vec } from '../wasm-encoding.js';

export interface WasmKernel {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  axpby: (n: number, B: number, y: number, x: number, z: number, a: number, c: number, vstep: number, astep: number, cstep: number) => void;
}

function wasmModuleBytes(): Uint8Array {
  const I32 = 0x7f;
  const V128 = 0x7b;
  // params 0…9: n B y x z a c vstep astep cstep; locals 10 bb, 11 end (i32), 12 av, 13 cv (v128)
  const [n, B, y, x, z, a, c, vs, as, cs, bb, end, av, cv] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13] as const;
  const get = (l: number) => [0x20, l];
  const set = (l: number) => [0x21, l];
  const simd = (op: number) => [0xfd, ...leb(op)];
  const load = (off: number) => [...simd(0x00), 4, ...leb(off)]; // v128.load align=16
  const store = (off: number) => [...simd(0x0b), 4, ...leb(off)]; // v128.store
  const F64X2_ADD = simd(240);
  const F64X2_MUL = simd(242);
  const F64X2_SPLAT = simd(20);
  const addr = (p: number) => [...get(p), ...get(bb), 0x6a]; // p + bb
  const lanes = (off: number) => [
    ...addr(y),
    ...get(av),
    ...addr(x),
    ...load(off),
    ...F64X2_MUL,
    ...get(cv),
    ...addr(z),
    ...load(off),
    ...F64X2_MUL,
    ...F64X2_ADD,
    ...store(off),
  ];
  const bump = (p: number, step: number) => [...get(p), ...get(step), 0x6a, ...set(p)];
  const splatAt = (p: number, l: number) => [...get(p), 0x2b, 3, 0, ...F64X2_SPLAT, ...set(l)]; // f64.load, splat
  const body = [
    ...get(B),
    0x41,
    3,
    0x74,
    ...set(end), // end = B·8
    0x02,
    0x40,
    ...get(n),
    0x45,
    0x0d,
    0, // block; if n == 0 break
    0x03,
    0x40, // loop over segments
    ...splatAt(a, av),
    ...splatAt(c, cv),
    0x41,
    0,
    ...set(bb),
    0x03,
    0x40, // loop over b, 4 values per turn
    ...lanes(0),
    ...lanes(16),
    ...get(bb),
    0x41,
    32,
    0x6a,
    0x22,
    bb,
    ...get(end),
    0x49,
    0x0d,
    0, // bb += 32; continue while bb < end
    0x0b,
    ...bump(y, vs),
    ...bump(x, vs),
    ...bump(z, vs),
    ...bump(a, as),
    ...bump(c, cs),
    ...get(n),
    0x41,
    1,
    0x6b,
    0x22,
    n,
    0x0d,
    0, // continue while --n != 0
    0x0b,
    0x0b,
    0x0b,
  ];
  const locals = [2, 2, I32, 2, V128];
  const code = [...leb(locals.length + body.length), ...locals, ...body];
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, vec([[0x60, 10, ...new Array<number>(10).fill(I32), 0]])),
    ...section(3, vec([[0]])),
    ...section(5, vec([[0, 1]])), // memory: 1 page to start, grown on demand
    ...section(
      7,
      vec([
        [...name('memory'), 2, 0],
        [...name('axpby'), 0, 0],
      ]),
    ),
    ...section(10, vec([code])),
  ]);
}

let kernelCache: WasmKernel | null | undefined;

export function wasmKernel(): WasmKernel | null {
  if (kernelCache !== undefined) return kernelCache;
  kernelCache = null;
  type Api = { validate(b: Uint8Array): boolean; Module: new (b: Uint8Array) => object; Instance: new (m: object) => { exports: Record<string, unknown> } };
  const api = (globalThis as unknown as { WebAssembly?: Api }).WebAssembly;
  try {
    const bytes = wasmModuleBytes();
    if (api && api.validate(bytes)) {
      const ex = new api.Instance(new api.Module(bytes)).exports;
      kernelCache = { memory: ex['memory'] as WasmKernel['memory'], axpby: ex['axpby'] as WasmKernel['axpby'] };
    }
  } catch {
    kernelCache = null; // no WebAssembly SIMD here: the JS line solver does the work
  }
  return kernelCache;
}

/** Which inner loops `fcm` uses by default on this platform. */
export function fcmKernel(): 'wasm' | 'js' {
  return wasmKernel() ? 'wasm' : 'js';
}
