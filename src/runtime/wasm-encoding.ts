/**
 * The few pieces of the WebAssembly binary format the hand-assembled kernels need (parasitics'
 * line sweeps, the Philox normal generator): LEB128 integers, sections, vectors and names. No
 * toolchain and no binary blob: the kernels are written as byte arrays next to their JS references.
 */

/** Unsigned LEB128 (sizes, indices, alignment). */
export function leb(v: number): number[] {
  const o: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    o.push(b);
  } while (v);
  return o;
}

/** Signed LEB128 (i32.const immediates). */
export function sleb(v: number): number[] {
  const o: number[] = [];
  v |= 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      o.push(b);
      return o;
    }
    o.push(b | 0x80);
  }
}

/** A module section: id, byte length, body. */
export const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
/** A vector: count, then the items. */
export const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
/** A name: byte length, then the ASCII bytes. */
export const name = (t: string): number[] => [...leb(t.length), ...Array.from(t, (ch) => ch.charCodeAt(0))];
