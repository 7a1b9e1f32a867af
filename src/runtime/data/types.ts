/** In-memory data sets handed to the engine: float32 NCHW samples, flattened per sample. */

export interface Split {
  /** count × (C·H·W) normalized pixels, sample-major. */
  x: Float32Array;
  /** count class labels in 0..classes-1. */
  y: Int32Array;
  count: number;
}

export interface Dataset {
  name: string;
  /** Per-sample shape [C, H, W]. */
  shape: number[];
  classes: number;
  train: Split;
  test: Split;
}

/** Decoded, not yet normalized samples: one byte per pixel, one byte per label. */
export interface RawSplit {
  pixels: Uint8Array;
  labels: Uint8Array;
  count: number;
}
