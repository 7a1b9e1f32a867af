/** Sweeps: which points are finished, parallel resumable execution, summaries, Slurm job scripts. */
export * from './points.js';
export * from './summary.js';
export * from './runner.js';
export * from './slurm.js';
export * from './slurm-values.js';
