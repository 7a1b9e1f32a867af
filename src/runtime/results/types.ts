/** The shape of results.json (see schemas/results.schema.json, which is the authority). */

export interface EpochResult {
  /** 1-based. */
  epoch: number;
  /** null when not finite (diverged run): JSON cannot carry NaN. */
  trainLoss: number | null;
  trainAccuracy: number;
  testLoss: number | null;
  testAccuracy: number;
  seconds: number;
  lr?: number;
  [extra: string]: unknown;
}

export interface Results {
  xbarc: { version: string };
  experiment: string;
  specHash: string;
  seed: number;
  fidelity: 'ideal' | 'fast' | 'exact';
  resolvedSpec: Record<string, unknown>;
  /** ISO 8601 UTC (Date#toISOString). */
  startedAt: string;
  finishedAt: string;
  epochs: EpochResult[];
  /** With evaluate.repeats > 1: means over the repeats, and their spread in `repeats`. */
  final: { testAccuracy: number; testLoss: number | null; repeats?: RepeatSpread; [extra: string]: unknown };
  /**
   * How the engine ran (absent in results written before xbarc recorded it): the numbers are
   * bit-for-bit reproducible for the same spec, seed, threads, onnxruntime version and CPU architecture.
   */
  engine?: { threads: number; spin: boolean; onnxruntime: string; platform: string; arch: string };
  timing: { totalSeconds: number; [phase: string]: number };
  layers?: Array<{ name: string; [stat: string]: unknown }>;
  /** The sweep point, when the experiment is one point of a sweep. */
  point?: { index: number; of: number; assignments: Record<string, string> };
}

/** Mean, sample sd, min, max of repeated final evaluations (null where not finite). */
export interface Spread {
  mean: number | null;
  sd: number | null;
  min: number | null;
  max: number | null;
}
export interface RepeatSpread {
  n: number;
  testAccuracy: Spread;
  testLoss: Spread;
}

/** A schema violation located by a JSON Pointer into the results object ("" = the root). */
export interface ResultsIssue {
  path: string;
  message: string;
}
