/**
 * The one place ONNX Runtime sessions are made: thread counts and session options for every graph
 * the runtime runs (training steps, evaluation, calibration, `xbarc mvm`). Execution providers
 * and the thread policy are chosen here.
 */

import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';

/** Default intra-op threads: the machine's cores, at most 4 (more buys little on these graphs). */
export function defaultThreads(): number {
  return Math.max(1, Math.min(availableParallelism(), 4));
}

/** A CPU session of a serialized model with `threads` intra-op threads and full graph optimization. */
export async function openSession(model: Uint8Array, threads = defaultThreads()): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
}
