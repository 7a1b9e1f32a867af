/**
 * Worker-thread entry for `runExperimentInWorker`: runs the training loop on the experiment and
 * data set passed as workerData and posts progress, the outcome, or the error back.
 */

import { parentPort, workerData } from 'node:worker_threads';
import type { PlanExperiment } from '../../model/plan.js';
import type { Dataset } from '../data/index.js';
import { XbarcError } from '../../model/errors.js';
import { runExperiment, type WorkerCommand, type WorkerMessage } from './run-experiment.js';

interface Job {
  exp: PlanExperiment;
  data: Dataset;
  threads?: number;
  spin?: boolean;
  profile?: string;
  returnWeights: boolean;
}

const port = parentPort;
if (!port) throw new Error('worker.js must run as a worker thread (see runExperimentInWorker)');
const post = (m: WorkerMessage): void => port.postMessage(m);
const job = workerData as Job;
// A stop request aborts at the next step boundary; the sessions are released on the way out.
const controller = new AbortController();
const onCommand = (m: WorkerCommand): void => {
  if (m.type === 'stop') controller.abort();
};
port.on('message', onCommand);

try {
  const trainer = {
    ...(job.threads === undefined ? {} : { threads: job.threads }),
    ...(job.spin === undefined ? {} : { spin: job.spin }),
    ...(job.profile === undefined ? {} : { profile: job.profile }),
  };
  const outcome = await runExperiment(job.exp, job.data, {
    trainer,
    returnWeights: job.returnWeights,
    signal: controller.signal,
    onProgress: (progress) => post({ type: 'progress', progress }),
  });
  post({ type: 'done', outcome });
} catch (err) {
  const code = err instanceof XbarcError ? err.code : 'engine/internal';
  post({ type: 'error', code, message: err instanceof Error ? err.message : String(err) });
} finally {
  port.off('message', onCommand); // a listening port would keep the thread alive
}
