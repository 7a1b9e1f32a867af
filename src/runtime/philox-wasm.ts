/**
 * The Philox4x32-10 + Box–Muller kernel of philox.ts in WebAssembly with 128-bit SIMD: four
 * Philox blocks per turn, one per i32x4 lane (the 32×32→64-bit products from i64x2.extmul), then
 * the float32 transform on f32x4 lanes. Every float operation is a plain IEEE float32 one (no
 * fused or relaxed operations), in the order of the JS mirror in philox.ts, so both produce the
 * same bits. Built here byte by byte like parasitics/wasm-kernel.ts (no toolchain, no blob):
 *
 *   normals(dst, turns, lo, hi, k0, k1, mean, std)  for g < WAYS·turns: the 16 elements of blocks
 *       lo + 4g … lo + 4g + 3 (counter (block, hi, 0, 0), key (k0, k1)) as mean + std·ξ, written as
 *       float32 from byte dst + 64g in element order (the low counter word wraps: the caller keeps
 *       what lies below 2^32).
 *   philox(dst, turns, lo, hi, k0, k1)  the same blocks' raw words (the known-answer tests).
 *
 * Instantiated once per process (`philoxKernel`); null where WebAssembly SIMD is missing.
 */

import { leb, name, section, sleb, vec } from './wasm-encoding.js';
import { BOX_MULLER, PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1 } from './philox.js';

export interface PhiloxKernel {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  normals: (dst: number, turns: number, lo: number, hi: number, k0: number, k1: number, mean: number, std: number) => void;
  philox: (dst: number, turns: number, lo: number, hi: number, k0: number, k1: number) => void;
}

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

const simd = (op: number): number[] => [0xfd, ...leb(op)];
const OP = {
  store: (off: number) => [...simd(0x0b), 4, ...leb(off)],
  i32x4Splat: simd(0x11),
  f32x4Splat: simd(0x13),
  and: simd(0x4e),
  or: simd(0x50),
  xor: simd(0x51),
  bitselect: simd(0x52),
  f32x4Lt: simd(0x43),
  i32x4Shl: simd(0xab),
  i32x4ShrS: simd(0xac),
  i32x4ShrU: simd(0xad),
  i32x4Add: simd(0xae),
  i32x4Sub: simd(0xb1),
  i32x4Mul: simd(0xb5),
  extmulLowU: simd(0xde),
  extmulHighU: simd(0xdf),
  f32x4Sqrt: simd(0xe3),
  f32x4Add: simd(0xe4),
  f32x4Sub: simd(0xe5),
  f32x4Mul: simd(0xe6),
  convertS: simd(0xfa),
} as const;

const shuffle = (lanes: number[]): number[] => [...simd(0x0d), ...lanes];
/** Bytes of 32-bit lanes i of a (0–3) and b (4–7). */
const lanes32 = (...idx: number[]): number[] => idx.flatMap((i) => [4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3]);

const get = (l: number): number[] => [0x20, ...leb(l)];
const set = (l: number): number[] => [0x21, ...leb(l)];
const tee = (l: number): number[] => [0x22, ...leb(l)];
const i32c = (v: number): number[] => [0x41, ...sleb(v)];
const f32Bits = (v: number): number[] => {
  const b = new Uint8Array(new Float32Array([v]).buffer);
  return [0x43, ...b];
};
const splatI = (v: number): number[] => [...i32c(v), ...OP.i32x4Splat];
const v128Const = (words: number[]): number[] => [...simd(0x0c), ...new Uint8Array(Uint32Array.from(words).buffer)];
const I32_ADD = [0x6a];
const I32_SUB = [0x6b];

/** Function body builder: typed locals after the parameters, constants hoisted into a prologue. */
class Body {
  private readonly code: number[] = [];
  private readonly localTypes: number[] = [];
  private readonly prologue: number[] = [];
  private readonly constants = new Map<string, number>();

  constructor(private readonly params: number) {}

  local(type: number): number {
    this.localTypes.push(type);
    return this.params + this.localTypes.length - 1;
  }

  emit(...parts: number[][]): this {
    for (const p of parts) this.code.push(...p);
    return this;
  }

  /** A local holding a splatted constant, set once before the code (hoisted out of the loop). */
  constant(kind: 'i32' | 'f32', value: number): number {
    const key = `${kind}:${kind === 'f32' ? new Uint32Array(new Float32Array([value]).buffer)[0] : value | 0}`;
    let l = this.constants.get(key);
    if (l === undefined) {
      l = this.local(V128);
      this.prologue.push(...(kind === 'f32' ? [...f32Bits(value), ...OP.f32x4Splat] : [...i32c(value), ...OP.i32x4Splat]), ...set(l));
      this.constants.set(key, l);
    }
    return l;
  }

  bytes(): number[] {
    const groups: number[][] = [];
    for (const t of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]!++;
      else groups.push([1, t]);
    }
    const decl = [...leb(groups.length), ...groups.flatMap(([n, t]) => [...leb(n!), t!])];
    const body = [...decl, ...this.prologue, ...this.code, 0x0b];
    return [...leb(body.length), ...body];
  }
}

/** Groups (4 blocks each) per loop turn: two independent Philox chains keep the SIMD units busy. */
export const WAYS = 2;

/**
 * One function: params (dst, turns, lo, hi, k0, k1[, mean, std]); per turn the Philox rounds on
 * WAYS × four counters, interleaved round by round, then per group the transform of its words
 * X0…X3 (lane b = block b's word) and the store in element order after a 4×4 transpose.
 */
function kernelBody(transform: boolean): number[] {
  const nParams = transform ? 8 : 6;
  const f = new Body(nParams);
  const [dst, turns, lo, hi, k0, k1, mean, std] = [0, 1, 2, 3, 4, 5, 6, 7];
  const v = (): number => f.local(V128);
  const m0 = v();
  const m1 = v();
  const rk = Array.from({ length: 20 }, v);
  const ways = Array.from({ length: WAYS }, () => ({ C: [v(), v(), v(), v()], hiP: v(), loP: v(), hiQ: v(), loQ: v() }));
  const T = [v(), v(), v(), v()];
  const meanV = v();
  const stdV = v();

  // Before the loop: multipliers, the 20 round keys, mean and std as vectors.
  f.emit(splatI(PHILOX_M0), set(m0), splatI(PHILOX_M1), set(m1));
  for (let r = 0; r < 10; r++) {
    f.emit(get(k0), i32c(Math.imul(r, PHILOX_W0)), I32_ADD, OP.i32x4Splat, set(rk[2 * r]!));
    f.emit(get(k1), i32c(Math.imul(r, PHILOX_W1)), I32_ADD, OP.i32x4Splat, set(rk[2 * r + 1]!));
  }
  if (transform) f.emit(get(mean), OP.f32x4Splat, set(meanV), get(std), OP.f32x4Splat, set(stdV));

  const HI_WORDS = shuffle([4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31]);
  /** hi, lo words of M·c for the four lanes of vector c. */
  const mulhilo = (c: number, m: number, hiL: number, loL: number): number[][] => [
    get(c),
    get(m),
    OP.extmulLowU,
    get(c),
    get(m),
    OP.extmulHighU,
    HI_WORDS,
    set(hiL),
    get(c),
    get(m),
    OP.i32x4Mul,
    set(loL),
  ];

  f.emit([0x02, 0x40], get(turns), [0x45, 0x0d, 0], [0x03, 0x40]); // block; br_if turns == 0; loop
  // Counters of group w: (lo + 4w + lane, hi, 0, 0).
  ways.forEach(({ C }, w) => {
    f.emit(get(lo), OP.i32x4Splat, v128Const([4 * w, 4 * w + 1, 4 * w + 2, 4 * w + 3]), OP.i32x4Add, set(C[0]!));
    f.emit(get(hi), OP.i32x4Splat, set(C[1]!), splatI(0), tee(C[2]!), set(C[3]!));
  });
  for (let r = 0; r < 10; r++) {
    for (const { C, hiP, loP, hiQ, loQ } of ways) {
      f.emit(...mulhilo(C[0]!, m0, hiP, loP), ...mulhilo(C[2]!, m1, hiQ, loQ));
      // (c0, c1, c2, c3) ← (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
      f.emit(get(hiQ), get(C[1]!), OP.xor, get(rk[2 * r]!), OP.xor, set(C[0]!));
      f.emit(get(loQ), set(C[1]!));
      f.emit(get(hiP), get(C[3]!), OP.xor, get(rk[2 * r + 1]!), OP.xor, set(C[2]!));
      f.emit(get(loP), set(C[3]!));
    }
  }

  if (transform) {
    // Pairs (X0, X1) and (X2, X3) of every group side by side; the normals replace the words.
    boxMuller(
      f,
      ways.flatMap(({ C }) => [0, 2].map((i) => ({ x: C[i]!, y: C[i + 1]!, za: C[i]!, zb: C[i + 1]!, t: Array.from({ length: 8 }, v) }))),
    );
    for (const { C } of ways) for (const c of C) f.emit(get(meanV), get(stdV), get(c), OP.f32x4Mul, OP.f32x4Add, set(c));
  }
  ways.forEach(({ C }, w) => {
    // Transpose: C[i] lane b is element 4b + i of the group.
    f.emit(get(C[0]!), get(C[1]!), shuffle(lanes32(0, 4, 1, 5)), set(T[0]!));
    f.emit(get(C[0]!), get(C[1]!), shuffle(lanes32(2, 6, 3, 7)), set(T[1]!));
    f.emit(get(C[2]!), get(C[3]!), shuffle(lanes32(0, 4, 1, 5)), set(T[2]!));
    f.emit(get(C[2]!), get(C[3]!), shuffle(lanes32(2, 6, 3, 7)), set(T[3]!));
    f.emit(get(dst), get(T[0]!), get(T[2]!), shuffle(lanes32(0, 1, 4, 5)), OP.store(64 * w));
    f.emit(get(dst), get(T[0]!), get(T[2]!), shuffle(lanes32(2, 3, 6, 7)), OP.store(64 * w + 16));
    f.emit(get(dst), get(T[1]!), get(T[3]!), shuffle(lanes32(0, 1, 4, 5)), OP.store(64 * w + 32));
    f.emit(get(dst), get(T[1]!), get(T[3]!), shuffle(lanes32(2, 3, 6, 7)), OP.store(64 * w + 48));
  });

  f.emit(get(dst), i32c(64 * WAYS), I32_ADD, set(dst), get(lo), i32c(4 * WAYS), I32_ADD, set(lo));
  f.emit(get(turns), i32c(1), I32_SUB, tee(turns), [0x0d, 0]); // continue while --turns != 0
  f.emit([0x0b, 0x0b]); // end loop, end block
  return f.bytes();
}

/** One Box–Muller job: word vectors x, y in, za (first of each pair) and zb out, 8 scratch locals. */
interface BoxMullerJob {
  x: number;
  y: number;
  za: number;
  zb: number;
  t: number[];
}

/**
 * Box–Muller of several jobs, as in philox.ts `boxMuller`, statement by statement across the jobs
 * (independent dependency chains side by side for the out-of-order core).
 */
function boxMuller(f: Body, jobs: BoxMullerJob[]): void {
  const C = BOX_MULLER;
  const fmul = (a: number[], b: number[]): number[] => [...a, ...b, ...OP.f32x4Mul];
  const cF = (v: number): number[] => get(f.constant('f32', v));
  const cI = (v: number): number[] => get(f.constant('i32', v));
  const all = (
    stmt: (j: BoxMullerJob, t: { bits: number; e: number; m: number; mask: number; xv: number; z: number; p: number; r: number }) => number[][],
  ): void => {
    for (const j of jobs) {
      const [bits, e, m, mask, xv, z, p, r] = j.t as [number, number, number, number, number, number, number, number];
      f.emit(...stmt(j, { bits, e, m, mask, xv, z, p, r }));
    }
  };
  // u = ((x >>> 8) + 1)·2^−24; its float32 bits.
  all(({ x }, { bits }) => [get(x), i32c(8), OP.i32x4ShrU, cI(1), OP.i32x4Add, OP.convertS, cF(C.twoM24), OP.f32x4Mul, set(bits)]);
  // e = (bits >>> 23) − 126; m = mantissa in [0.5, 1)
  all((_, { bits, e }) => [get(bits), i32c(23), OP.i32x4ShrU, cI(126), OP.i32x4Sub, set(e)]);
  all((_, { bits, m }) => [get(bits), cI(0x007fffff), OP.and, cI(0x3f000000), OP.or, set(m)]);
  all((_, { m, mask }) => [get(m), cF(C.sqrtHalf), OP.f32x4Lt, set(mask)]);
  all((_, { e, mask }) => [get(e), get(mask), OP.i32x4Add, set(e)]);
  all((_, { m, mask, xv }) => [get(m), get(m), get(mask), OP.and, OP.f32x4Add, cF(1), OP.f32x4Sub, set(xv)]);
  all((_, { xv, z }) => [fmul(get(xv), get(xv)), set(z)]);
  all((_, { p }) => [cF(C.log[0]!), set(p)]);
  for (let i = 1; i < C.log.length; i++) all((_, { p, xv }) => [fmul(get(p), get(xv)), cF(C.log[i]!), OP.f32x4Add, set(p)]);
  all((_, { p, xv, z }) => [fmul(fmul(get(p), get(xv)), get(z)), set(p)]); // y
  all((_, { e }) => [get(e), OP.convertS, set(e)]); // fe (e as float32)
  all((_, { p, e }) => [get(p), fmul(get(e), cF(C.ln2Lo)), OP.f32x4Add, set(p)]);
  all((_, { p, z }) => [get(p), fmul(get(z), cF(-0.5)), OP.f32x4Add, set(p)]);
  all((_, { xv, p, e, r }) => [get(xv), get(p), OP.f32x4Add, fmul(get(e), cF(C.ln2Hi)), OP.f32x4Add, cF(-2), OP.f32x4Mul, OP.f32x4Sqrt, set(r)]);
  // φ = (f − ½)·π/2 with f = ((y << 2) >>> 8)·2^−24
  all(({ y }, { xv }) => [
    get(y),
    i32c(2),
    OP.i32x4Shl,
    i32c(8),
    OP.i32x4ShrU,
    OP.convertS,
    cF(C.twoM24),
    OP.f32x4Mul,
    cF(0.5),
    OP.f32x4Sub,
    cF(C.piOver2),
    OP.f32x4Mul,
    set(xv),
  ]);
  all((_, { xv, z }) => [fmul(get(xv), get(xv)), set(z)]);
  // s = ((S0·z + S1)·z + S2)·z·φ + φ  →  m
  all((_, { z, xv, m }) => [
    fmul(get(z), cF(C.sin[0]!)),
    cF(C.sin[1]!),
    OP.f32x4Add,
    get(z),
    OP.f32x4Mul,
    cF(C.sin[2]!),
    OP.f32x4Add,
    get(z),
    OP.f32x4Mul,
    get(xv),
    OP.f32x4Mul,
    get(xv),
    OP.f32x4Add,
    set(m),
  ]);
  // c = ((K0·z + K1)·z + K2)·z·z − z/2 + 1  →  p
  all((_, { z, p }) => [
    fmul(get(z), cF(C.cos[0]!)),
    cF(C.cos[1]!),
    OP.f32x4Add,
    get(z),
    OP.f32x4Mul,
    cF(C.cos[2]!),
    OP.f32x4Add,
    get(z),
    OP.f32x4Mul,
    get(z),
    OP.f32x4Mul,
    fmul(get(z), cF(0.5)),
    OP.f32x4Sub,
    cF(1),
    OP.f32x4Add,
    set(p),
  ]);
  // Quadrant q = y >>> 30: swap when bit 30 is set; first negated when bit 31 ≠ bit 30, second when bit 31 is set.
  all(({ y }, { mask }) => [get(y), i32c(1), OP.i32x4Shl, i32c(31), OP.i32x4ShrS, set(mask)]);
  all(({ y, za }, { m, p, mask, r }) => [
    get(m),
    get(p),
    get(mask),
    OP.bitselect,
    get(y),
    get(y),
    i32c(1),
    OP.i32x4Shl,
    OP.xor,
    cI(0x80000000 | 0),
    OP.and,
    OP.xor,
    get(r),
    OP.f32x4Mul,
    set(za),
  ]);
  all(({ y, zb }, { m, p, mask, r }) => [get(p), get(m), get(mask), OP.bitselect, get(y), cI(0x80000000 | 0), OP.and, OP.xor, get(r), OP.f32x4Mul, set(zb)]);
}

function moduleBytes(pages: number): Uint8Array {
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(
      1,
      vec([
        [0x60, 8, ...new Array<number>(6).fill(I32), F32, F32, 0],
        [0x60, 6, ...new Array<number>(6).fill(I32), 0],
      ]),
    ),
    ...section(3, vec([[0], [1]])),
    ...section(5, vec([[0, ...leb(pages)]])),
    ...section(
      7,
      vec([
        [...name('memory'), 2, 0],
        [...name('normals'), 0, 0],
        [...name('philox'), 0, 1],
      ]),
    ),
    ...section(10, vec([kernelBody(true), kernelBody(false)])),
  ]);
}

let cache: PhiloxKernel | null | undefined;

/** The kernel with at least `bytes` of memory from address 0, or null without WebAssembly SIMD. */
export function philoxKernel(bytes: number): PhiloxKernel | null {
  if (cache === undefined) {
    cache = null;
    type Api = { validate(b: Uint8Array): boolean; Module: new (b: Uint8Array) => object; Instance: new (m: object) => { exports: Record<string, unknown> } };
    const api = (globalThis as unknown as { WebAssembly?: Api }).WebAssembly;
    try {
      const b = moduleBytes(Math.ceil(bytes / 65536));
      if (api && api.validate(b)) {
        const ex = new api.Instance(new api.Module(b)).exports;
        cache = {
          memory: ex['memory'] as PhiloxKernel['memory'],
          normals: ex['normals'] as PhiloxKernel['normals'],
          philox: ex['philox'] as PhiloxKernel['philox'],
        };
      }
    } catch {
      cache = null; // no WebAssembly SIMD here: philox.ts draws in JS
    }
  }
  if (cache && cache.memory.buffer.byteLength < bytes) cache.memory.grow(Math.ceil((bytes - cache.memory.buffer.byteLength) / 65536));
  return cache;
}

/** Groups of 4 blocks (16 elements) the kernel writes per call at most (256 KiB of its memory). */
const CHUNK_GROUPS = 4096;

/**
 * Stream elements [offset, offset + out.length) of key (k0, k1) as mean + std·ξ (float32 mean,
 * std) with the kernel, in aligned groups of 16 copied out; false where the kernel is missing.
 */
export function fillNormalsWasm(out: Float32Array, offset: number, k0: number, k1: number, mean: number, std: number): boolean {
  const k = philoxKernel(CHUNK_GROUPS * 64);
  if (!k) return false;
  const end = offset + out.length;
  const gEnd = Math.ceil(end / 16);
  for (let g = Math.floor(offset / 16); g < gEnd;) {
    const block = g * 4;
    const lo = block % 4294967296;
    // The kernel adds lane offsets to the low counter word: a call never crosses a 2^32 block boundary.
    const n = Math.min(gEnd - g, CHUNK_GROUPS, (4294967296 - lo) / 4);
    // Whole turns of WAYS groups (CHUNK_GROUPS is a multiple of WAYS): the extra groups, past gEnd or the wrap, are not copied.
    k.normals(0, Math.ceil(n / WAYS), lo | 0, Math.floor(block / 4294967296), k0 | 0, k1 | 0, mean, std);
    const from = Math.max(offset, g * 16);
    const to = Math.min(end, (g + n) * 16);
    out.set(new Float32Array(k.memory.buffer, (from - g * 16) * 4, to - from), from - offset);
    g += n;
  }
  return true;
}

/** Which implementation fills normal streams by default here. */
export function normalKernel(): 'wasm' | 'js' {
  return philoxKernel(CHUNK_GROUPS * 64) ? 'wasm' : 'js';
}
