/**
 * The surrogate's per-tile prediction for many tiles at once (docs/parasitics.md, "Learned
 * surrogate", performance): every layer of the MLP is the same sparse batched product
 *   c[t, h] += x[k, t] · w[k, h]   for k < K (ascending), t < T, skipping x[k, t] = 0,
 * with float32 weights w promoted to float64 and float64 accumulators — exactly the JS loops of
 * surrogate-model.ts (`foldTile`, `predictFolded`), in the same order, so the results are the
 * same bits. The k-outer order reads each weight row once per batch of tiles instead of once per
 * tile (W1 of a 64 × 64 surrogate is 8.3 MB), and the inner loop is WebAssembly f64x2 SIMD
 * (plain multiplies and adds, no fused ones), built byte by byte as wasm-kernel.ts is.
 *
 * Exported as `fold(T, K, H, c, x, w)`, addresses in bytes: c [T, H] f64, x [K, T] f64, w [K, H]
 * f32; H must be even. One instance per model (its weights copied into the instance's memory
 * once); null where WebAssembly SIMD is missing (the caller uses the JS loops).
 */

import { leb, name, section, vec } from '../wasm-encoding.js';

interface FoldExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  fold: (T: number, K: number, H: number, c: number, x: number, w: number) => void;
}

function foldModuleBytes(): Uint8Array {
  const I32 = 0x7f;
  const V128 = 0x7b;
  // params 0…5: T K H c x w; locals 6 k, 7 t, 8 hh, 9 hend, 10 cp, 11 xp, 12 wp (i32), 13 av (v128)
  const [T, K, H, c, x, w, k, t, hh, hend, cp, xp, wp, av] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13] as const;
  const get = (l: number) => [0x20, l];
  const set = (l: number) => [0x21, l];
  const tee = (l: number) => [0x22, l];
  const i32 = (v: number) => [0x41, ...leb(v)]; // small non-negative constants only
  const simd = (op: number) => [0xfd, ...leb(op)];
  const ADD = 0x6a;
  const body = [
    // if T == 0 || K == 0 || H == 0: return
    ...get(T),
    0x45,
    ...get(K),
    0x45,
    0x72,
    ...get(H),
    0x45,
    0x72,
    0x04,
    0x40,
    0x0f,
    0x0b,
    ...get(H),
    ...i32(2),
    0x74,
    ...set(hend), // hend = H·4 (bytes of one weight row)
    ...get(w),
    ...set(wp),
    ...get(x),
    ...set(xp),
    ...i32(0),
    ...set(k),
    0x03,
    0x40, // loop over k
    ...get(c),
    ...set(cp),
    ...i32(0),
    ...set(t),
    0x03,
    0x40, // loop over t
    ...get(xp),
    0x2b,
    3,
    0, // f64.load x[k, t]
    ...simd(20),
    ...tee(av), // av = splat(x)
    ...simd(33), // f64x2.extract_lane 0
    0,
    0x44,
    ...new Array<number>(8).fill(0), // f64.const 0
    0x62, // f64.ne
    0x04,
    0x40, // if x != 0
    ...i32(0),
    ...set(hh),
    0x03,
    0x40, // loop over h, two per turn: hh bytes into the f32 row, 2·hh into the f64 row
    ...get(cp),
    ...get(hh),
    ...i32(1),
    0x74,
    ADD, // address c + 2·hh
    ...get(cp),
    ...get(hh),
    ...i32(1),
    0x74,
    ADD,
    ...simd(0),
    4,
    0, // v128.load c
    ...get(av),
    ...get(wp),
    ...get(hh),
    ADD,
    ...simd(93),
    3,
    0, // v128.load64_zero w
    ...simd(95), // f64x2.promote_low_f32x4
    ...simd(242), // f64x2.mul
    ...simd(240), // f64x2.add
    ...simd(11),
    4,
    0, // v128.store
    ...get(hh),
    ...i32(8),
    ADD,
    ...tee(hh),
    ...get(hend),
    0x49,
    0x0d,
    0, // continue while hh < hend
    0x0b,
    0x0b, // end if
    ...get(cp),
    ...get(hend),
    ...i32(1),
    0x74,
    ADD,
    ...set(cp), // next tile's accumulators (H·8 bytes on)
    ...get(xp),
    ...i32(8),
    ADD,
    ...set(xp),
    ...get(t),
    ...i32(1),
    ADD,
    ...tee(t),
    ...get(T),
    0x49,
    0x0d,
    0, // continue while ++t < T
    0x0b,
    ...get(wp),
    ...get(hend),
    ADD,
    ...set(wp),
    ...get(k),
    ...i32(1),
    ADD,
    ...tee(k),
    ...get(K),
    0x49,
    0x0d,
    0, // continue while ++k < K
    0x0b,
    0x0b, // end of the function
  ];
  const locals = [2, 7, I32, 1, V128];
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
    ...section(1, vec([[0x60, 6, ...new Array<number>(6).fill(I32), 0]])),
    ...section(3, vec([[0]])),
    ...section(5, vec([[0, 1]])),
    ...section(
      7,
      vec([
        [...name('memory'), 2, 0],
        [...name('fold'), 0, 0],
      ]),
    ),
    ...section(10, vec([code])),
  ]);
}

type Api = { validate(b: Uint8Array): boolean; Module: new (b: Uint8Array) => object; Instance: new (m: object) => { exports: Record<string, unknown> } };
let moduleCache: object | null | undefined;

/** A fresh instance of the fold kernel, or null without WebAssembly SIMD. */
export function foldInstance(): FoldExports | null {
  const api = (globalThis as unknown as { WebAssembly?: Api }).WebAssembly;
  if (moduleCache === undefined) {
    moduleCache = null;
    try {
      const bytes = foldModuleBytes();
      if (api && api.validate(bytes)) moduleCache = new api.Module(bytes);
    } catch {
      moduleCache = null;
    }
  }
  if (!moduleCache || !api) return null;
  const ex = new api.Instance(moduleCache).exports;
  return { memory: ex['memory'] as FoldExports['memory'], fold: ex['fold'] as FoldExports['fold'] };
}

/** The JS reference of `fold` (same loops, same order): c[t·H + h] += x[k·T + t]·w[k·H + h]. */
export function foldJs(T: number, K: number, H: number, c: Float64Array, x: Float64Array, w: ArrayLike<number>, wAt = 0): void {
  for (let k = 0; k < K; k++) {
    const r = wAt + k * H;
    for (let t = 0; t < T; t++) {
      const a = x[k * T + t]!;
      if (a === 0) continue;
      const o = t * H;
      for (let h = 0; h < H; h++) c[o + h]! += a * w[r + h]!;
    }
  }
}

/**
 * Memory of one model's kernel instance: [w1 f32 | w2 f32 | x f64 | c f64], the weights copied
 * once, the scratch sized for `maxTiles` tiles per call.
 */
export class FoldArena {
  readonly w1: number;
  readonly w2: number;
  readonly x: number;
  readonly c: number;
  constructor(
    readonly k: FoldExports,
    w1: Float32Array,
    w2: Float32Array,
    maxK: number,
    maxH: number,
    readonly maxTiles: number,
  ) {
    const align = (n: number) => Math.ceil(n / 16) * 16;
    this.w1 = 0;
    this.w2 = align(w1.byteLength);
    this.x = align(this.w2 + w2.byteLength);
    this.c = align(this.x + maxK * maxTiles * 8);
    const end = this.c + maxH * maxTiles * 8;
    const have = k.memory.buffer.byteLength;
    if (end > have) k.memory.grow(Math.ceil((end - have) / 65536));
    new Float32Array(k.memory.buffer, this.w1, w1.length).set(w1);
    new Float32Array(k.memory.buffer, this.w2, w2.length).set(w2);
  }
  /** Views of the scratch (re-made per call: growing the memory detaches old views). */
  xView(n: number): Float64Array {
    return new Float64Array(this.k.memory.buffer, this.x, n);
  }
  cView(n: number): Float64Array {
    return new Float64Array(this.k.memory.buffer, this.c, n);
  }
}
