/**
 * Internal entry: one sweep point in its own process, started by `xbarc run --jobs N` through
 * child_process.fork. It compiles the spec for its point, checks that the spec hash is the one
 * the parent planned with, runs the point into its folder and reports over IPC. It stops when
 * the parent asks (SIGINT) or disappears (IPC disconnect), so no orphan keeps running.
 */
import { compile } from '../compiler/compile.js';
import { XbarcError } from '../model/errors.js';
import { executeExperiment } from '../runtime/execute.js';

export interface PointJobArgs {
  file: string;
  experiment: string;
  point: number;
  sets: string[];
  outDir: string;
  specHash: string;
  /** The parent run's engine settings (`--threads`, `--spin`), the same for every point. */
  threads: number;
  spin: boolean;
}

/** How long a point whose parent is gone may take to stop at a step boundary before it quits hard. */
const ORPHAN_GRACE_MS = 5_000;
let stopWatching = (): void => undefined;

/**
 * The parent may vanish without a word (kill -9): its IPC channel closes ('disconnect', or
 * already closed before this listener existed) and this process is re-parented (ppid changes).
 * Either way the point stops; if a long step keeps it busy, it quits hard after a grace period —
 * its writes are atomic, so nothing half-written stays behind.
 */
function watchParent(onGone: () => void): void {
  const parent = process.ppid;
  let gone = false;
  const fire = (): void => {
    if (gone) return;
    gone = true;
    onGone();
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), ORPHAN_GRACE_MS).unref();
  };
  process.once('disconnect', fire);
  const poll = setInterval(() => {
    if (process.ppid !== parent) fire();
  }, 500).unref();
  stopWatching = () => {
    process.removeListener('disconnect', fire);
    clearInterval(poll);
  };
  if (!process.connected) fire();
}

function send(msg: unknown): void {
  if (process.send && process.connected) process.send(msg);
}

async function main(): Promise<number> {
  const args = JSON.parse(process.argv[2] ?? '{}') as PointJobArgs;
  const controller = new AbortController();
  // Kept listening: Ctrl-C reaches a point twice (from the terminal and from the parent).
  process.on('SIGINT', () => controller.abort());
  process.on('SIGTERM', () => controller.abort());
  watchParent(() => controller.abort());
  const result = compile(args.file, { sets: args.sets, point: args.point, experiment: args.experiment });
  const compiled = result.experiments.find((e) => e.plan.name === args.experiment && e.plan.point?.index === args.point);
  if (result.hasErrors || !compiled) {
    const first = result.diagnostics.find((d) => d.severity === 'error');
    send({ type: 'error', message: first ? `${first.code}: ${first.message}` : `point ${args.point} of ${args.experiment} did not compile` });
    return 1;
  }
  if (compiled.specHash !== args.specHash) {
    send({ type: 'error', message: 'the spec changed while the sweep was running; rerun the sweep' });
    return 1;
  }
  try {
    const { results } = await executeExperiment(compiled, { outDir: args.outDir, signal: controller.signal, threads: args.threads, spin: args.spin });
    send({ type: 'done', testAccuracy: results.final.testAccuracy, seconds: results.timing.totalSeconds });
    process.stdout.write(
      `point ${args.point}: test accuracy ${(results.final.testAccuracy * 100).toFixed(2)} % in ${results.timing.totalSeconds.toFixed(1)} s\n`,
    );
    return 0;
  } catch (err) {
    const message = err instanceof XbarcError ? `${err.code}: ${err.message}` : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`${message}\n`);
    send({
      type: 'error',
      message: err instanceof XbarcError ? `${err.code}: ${err.message}` : `internal error: ${err instanceof Error ? err.message : String(err)}`,
    });
    return err instanceof XbarcError && err.code === 'engine/aborted' ? 130 : 1;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
    stopWatching();
    if (process.connected) process.disconnect();
  },
  (err) => {
    process.stderr.write(`internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 70;
    stopWatching();
    if (process.connected) process.disconnect();
  },
);
