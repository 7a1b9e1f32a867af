/**
 * Bulk random draws for the update kernels: `count` values of an Rng stream, every bit the same
 * values, in the same order, and the stream left in the same state as `count` calls of
 * `rng.normal()` (or `rng.uniform()`) would leave it — the generator (xoshiro128**, 53-bit
 * uniforms, Marsaglia's polar method caching the second variate) runs with its state in local
 * int32 variables, about 4× faster than the method calls, whose uint32 state fields are heap
 * numbers in V8.
 *
 * The loop works on the Rng's state words and cached normal (its private fields a, b, c, d,
 * spareNormal, src/runtime/rng.ts); where an Rng does not have them as plain numbers, the draws
 * fall back to the method calls. test/runtime/update-kernels.test.ts checks the bulk draws against
 * the method calls, so a change of the generator shows there.
 */

import type { Rng } from '../rng.js';

interface RngState {
  a: number;
  b: number;
  c: number;
  d: number;
  spareNormal: number | null;
}

function stateOf(rng: Rng): RngState | null {
  const s = rng as unknown as Partial<RngState>;
  const ok =
    typeof s.a === 'number' &&
    typeof s.b === 'number' &&
    typeof s.c === 'number' &&
    typeof s.d === 'number' &&
    (s.spareNormal === null || typeof s.spareNormal === 'number');
  return ok ? (s as RngState) : null;
}

/** Whether the bulk draws run on the stream's state (false: they fall back to the method calls). */
export function bulkDraws(rng: Rng): boolean {
  return stateOf(rng) !== null;
}

const TWO_53 = 9007199254740992;
const TWO_26 = 67108864;

// The generator state while a loop runs: xoshiro128** words as int32 (loaded from and stored back
// to the Rng around each loop). Each hot loop sits alone in its function with nothing after it but
// the state store, and every function runs once on a scratch stream at load (warmUp): V8 compiles
// a long first loop on the fly (OSR) from what the code has seen so far, and code it has not seen
// run (after the loop, a branch taken only at the end) would otherwise bail out of the compiled
// loop on every later call.
const S = new Int32Array(4);
const PAIR = new Float64Array(2);

function load(st: RngState): void {
  S[0] = st.a;
  S[1] = st.b;
  S[2] = st.c;
  S[3] = st.d;
}

function save(st: RngState): void {
  st.a = S[0]! >>> 0;
  st.b = S[1]! >>> 0;
  st.c = S[2]! >>> 0;
  st.d = S[3]! >>> 0;
}

/** `pairs` polar draws (both variates) into out[at …], from and back to S. */
function normalPairs(out: Float64Array, at: number, pairs: number): void {
  let a = S[0]!;
  let b = S[1]!;
  let c = S[2]!;
  let d = S[3]!;
  for (let p = 0; p < pairs; p++) {
    let u: number, v: number, s: number;
    do {
      // four nextUint32: hi and lo of u, hi and lo of v
      let x = Math.imul(b, 5);
      const r0 = Math.imul((x << 7) | (x >>> 25), 9);
      let t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = (d << 11) | (d >>> 21);
      x = Math.imul(b, 5);
      const r1 = Math.imul((x << 7) | (x >>> 25), 9);
      t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = (d << 11) | (d >>> 21);
      x = Math.imul(b, 5);
      const r2 = Math.imul((x << 7) | (x >>> 25), 9);
      t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = (d << 11) | (d >>> 21);
      x = Math.imul(b, 5);
      const r3 = Math.imul((x << 7) | (x >>> 25), 9);
      t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = (d << 11) | (d >>> 21);
      u = (((r0 >>> 5) * TWO_26 + (r1 >>> 6)) / TWO_53) * 2 - 1;
      v = (((r2 >>> 5) * TWO_26 + (r3 >>> 6)) / TWO_53) * 2 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    out[at + 2 * p] = u * f;
    out[at + 2 * p + 1] = v * f;
  }
  S[0] = a;
  S[1] = b;
  S[2] = c;
  S[3] = d;
}

/** `count` uniforms into out[0 …], from and back to S. */
function uniformRun(out: Float64Array, count: number): void {
  let a = S[0]!;
  let b = S[1]!;
  let c = S[2]!;
  let d = S[3]!;
  for (let i = 0; i < count; i++) {
    let x = Math.imul(b, 5);
    const r0 = Math.imul((x << 7) | (x >>> 25), 9);
    let t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    x = Math.imul(b, 5);
    const r1 = Math.imul((x << 7) | (x >>> 25), 9);
    t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    out[i] = ((r0 >>> 5) * TWO_26 + (r1 >>> 6)) / TWO_53;
  }
  S[0] = a;
  S[1] = b;
  S[2] = c;
  S[3] = d;
}

/** out[0 … count − 1] = `count` successive rng.normal() values. */
export function drawNormals(rng: Rng, out: Float64Array, count: number): void {
  const st = stateOf(rng);
  if (!st) {
    for (let i = 0; i < count; i++) out[i] = rng.normal();
    return;
  }
  if (count <= 0) return;
  let i = 0;
  if (st.spareNormal !== null) {
    out[i++] = st.spareNormal;
    st.spareNormal = null;
  }
  load(st);
  const pairs = (count - i) >> 1;
  normalPairs(out, i, pairs);
  i += 2 * pairs;
  if (i < count) {
    // an odd count: the last draw's second variate stays cached, as rng.normal() leaves it
    normalPairs(PAIR, 0, 1);
    out[i] = PAIR[0]!;
    st.spareNormal = PAIR[1]!;
  }
  save(st);
}

/** out[0 … count − 1] = `count` successive rng.uniform() values (the cached normal stays cached). */
export function drawUniforms(rng: Rng, out: Float64Array, count: number): void {
  const st = stateOf(rng);
  if (!st) {
    for (let i = 0; i < count; i++) out[i] = rng.uniform();
    return;
  }
  if (count <= 0) return;
  load(st);
  uniformRun(out, count);
  save(st);
}

/**
 * Run every draw function once on a scratch stream (their first long loop then compiles with type
 * feedback for all of its code; see S above). Called by the update kernels' own warm-up.
 */
export function warmUpDraws(rng: Rng): void {
  const out = new Float64Array(8);
  for (const count of [1, 2, 3, 5]) {
    drawNormals(rng, out, count);
    drawUniforms(rng, out, count);
  }
}
