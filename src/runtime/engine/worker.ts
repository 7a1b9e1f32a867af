/**
 * Worker-thread entry for `runExperimentInWorker`: runs the training loop on the experiment and
 * data set passed as workerData and posts progress, the outcome, or the error back.
 */

import { parentPort, workerData } from 'node:worker_threads';
import type { PlanExperiment } from '../../model/plan.js';
import type { Dataset } from '../data/index.js';
import { XbarcError } from '../../model/errors.js';
import { runExperiment, type WorkerMessage } from './run-experiment.js';

interface Job {
  exp: PlanExperiment;
  data: Dataset;
  threads?: number;
  returnWeights: boolean;
}

const port = parentPort;
if (!port) throw new Error('worker.js must run as a worker thread (see runExperimentInWorker)');
const post = (m: WorkerMessage): void => port.postMessage(m);
const job = workerData as Job;

try {
  const trainer = job.threads === undefined ? {} : { threads: job.threads };
  const outcome = await runExperiment(job.exp, job.data, {
    trainer,
    returnWeights: job.returnWeights,
    onProgress: (progress) => post({ type: 'progress', progress }),
  });
  post({ type: 'done', outcome });
} catch (err) {
  const code = err instanceof XbarcError ? err.code : 'engine/internal';
  post({ type: 'error', code, message: err instanceof Error ? err.message : String(err) });
}
