/**
 * The one place ONNX Runtime sessions are made: thread counts and every session option for every
 * graph the runtime runs (training steps, evaluation, calibration, statistics, `xbarc mvm`).
 * Execution providers and the thread policy are chosen here.
 *
 * Reproducibility: the thread count is part of a run's numbers. MLAS splits a GEMM with more
 * output columns than rows among the intra-op threads by columns and picks the K blocking of
 * each thread's share from its width, so the same MatMul sums in a different order with 1, 2 or
 * 4 threads (differences ≈ 1e-7 relative, measured on the MLP and LeNet-5 train graphs;
 * `session.use_deterministic_compute` changes nothing on the CPU). The default is therefore a
 * fixed number, not the machine's cores: the same spec, seed, thread count, onnxruntime version
 * and CPU architecture give the same bits (docs/running.md, "Reproducibility").
 */

import { mkdirSync } from 'node:fs';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { XbarcRuntimeError } from '../../model/errors.js';
import { profileFilePrefix } from './profile.js';

/** How the runtime's sessions execute (run options `--threads`, `--spin`; library `EngineOptions`). */
export interface EngineSettings {
  /** onnxruntime intra-op threads of every session (1 = the calling thread only). */
  threads: number;
  /**
   * Whether idle intra-op threads spin (busy-wait) for the next parallel section instead of
   * sleeping (`session.intra_op.allow_spinning`). Spinning never changes the numbers.
   */
  spin: boolean;
  /**
   * Profile every session: onnxruntime's trace of each is written into this directory when the
   * session is released (engine/profile.ts sums them). Profiling never changes the numbers.
   */
  profile?: string;
}

/** Either setting may be left out: it takes the default (`DEFAULT_THREADS`, `DEFAULT_SPIN`). */
export type EngineOptions = Partial<EngineSettings>;

/**
 * Default intra-op threads: fixed, independent of the machine, so that a run's numbers do not
 * depend on where it ran. 2 was as fast as 1 or 4 or faster in every measured case, alone and
 * two runs at once on 2 cores (docs/running.md, "Threads and spinning").
 */
export const DEFAULT_THREADS = 2;

/**
 * Default spinning: off. Measured on ideal LeNet-5 epochs at 2 threads on a shared 2-core machine
 * (docs/running.md, "Threads and spinning"): 2.3× faster without extra load, 4.1× beside a
 * competing CPU-bound process, 5.2× with two runs at once; never slower. Spinning threads of one
 * session (each session has its own pool) take the cores of the others and of other processes.
 */
export const DEFAULT_SPIN = false;

/** Most intra-op threads accepted (a larger number is a typo, not a machine). */
export const MAX_THREADS = 256;

/** The settings a run executes with: the given ones, defaults for the rest; refuses invalid thread counts. */
export function resolveEngine(opts: EngineOptions = {}): EngineSettings {
  const threads = opts.threads ?? DEFAULT_THREADS;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS)
    throw new XbarcRuntimeError('engine/threads', `threads must be an integer from 1 to ${MAX_THREADS}, got ${threads}`);
  return { threads, spin: opts.spin ?? DEFAULT_SPIN, ...(opts.profile ? { profile: opts.profile } : {}) };
}

/** What a graph is, as far as the session options depend on it. */
export interface GraphTraits {
  /**
   * The convolution weights are initializers (an evaluation graph with the weights frozen in,
   * engine/frozen-eval.ts): optimization level 'all', whose NCHWc layout transformer, Conv +
   * BatchNormalization folding and Conv(+Add)+Relu fusions need constant weights.
   */
  constantWeights?: boolean;
}

/** The onnxruntime session options for `settings`: every option the runtime sets, in one place. */
export function sessionOptions(settings: EngineSettings, traits: GraphTraits = {}): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: settings.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // 'extended': every fusion; not 'all', whose extra layout transformers (NCHWc) only pay for
    // convolutions with constant weights, which graphs fed their weights as inputs do not have.
    // Measured on the ResNet-20 training step (batch 128, 2 threads, interleaved): 'extended'
    // 10–20 % faster than 'all'; evaluation the same (bench/RESULTS.md, 2026-12-04). With the
    // weights frozen in, 'all' evaluated ResNet-20 2.2–2.8× faster (bench/RESULTS.md, 2026-12-06).
    graphOptimizationLevel: traits.constantWeights ? 'all' : 'extended',
    // Memory (docs/running.md, "Memory"): the arena on, the memory pattern off. With the pattern,
    // the second run of a shape allocates its planned block beside the arena chunks the first run
    // left free: 1.9× the working set (ResNet-20, batch 128: 896 MiB peak instead of 561 MiB).
    // Without the arena, glibc's per-thread heaps kept more still (992 MiB). Step time, interleaved
    // on/off: 0.78–1.07× (LeNet-5), 0.93–1.00× (ResNet-20, batch 32): no measurable cost.
    enableCpuMemArena: true,
    enableMemPattern: false,
    // Session config entries (onnxruntime_session_options_config_keys.h): strings, dotted keys.
    extra: { session: { intra_op: { allow_spinning: settings.spin ? '1' : '0' } } },
  };
}

/** A CPU session of a serialized model with the engine settings `opts` (defaults for what is left out). */
export async function openSession(model: Uint8Array, opts: EngineOptions = {}, traits: GraphTraits = {}): Promise<ort.InferenceSession> {
  const settings = resolveEngine(opts);
  if (!settings.profile) return ort.InferenceSession.create(model, sessionOptions(settings, traits));
  return openProfiledSession(model, settings, settings.profile, traits);
}

let profiledSessions = 0;

/**
 * A session that records onnxruntime's profile and writes it into `dir` on release (the trace is
 * written by `endProfiling`, which must come before the native session is freed).
 */
async function openProfiledSession(model: Uint8Array, settings: EngineSettings, dir: string, traits: GraphTraits): Promise<ort.InferenceSession> {
  mkdirSync(dir, { recursive: true });
  const graph = onnxProto.onnx.ModelProto.decode(model).graph?.name ?? 'graph';
  const prefix = profileFilePrefix(dir, graph, profiledSessions++);
  const session = await ort.InferenceSession.create(model, { ...sessionOptions(settings, traits), enableProfiling: true, profileFilePrefix: prefix });
  const release = session.release.bind(session);
  session.release = async (): Promise<void> => {
    session.endProfiling();
    await release();
  };
  return session;
}

/** What results.json records of the engine: the settings and what else the bits depend on. */
export interface EngineRecord extends EngineSettings {
  onnxruntime: string;
  platform: string;
  arch: string;
}

/** The settings without where profiles go (results.json records how the numbers were made, not a path). */
export function engineRecord(settings: EngineSettings): EngineRecord {
  return {
    threads: settings.threads,
    spin: settings.spin,
    onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
    platform: process.platform,
    arch: process.arch,
  };
}
