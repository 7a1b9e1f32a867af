/**
 * Error classes the runtime throws. Each carries a stable machine-readable `code` (for the CLI's
 * exit status and for tests) next to a human message that names the file or layer at fault.
 */

export class XbarcError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A failure while executing a plan (engine, kernels, training loop). */
export class XbarcRuntimeError extends XbarcError {}

/** A data set that is missing, truncated or malformed. */
export class XbarcDataError extends XbarcError {}
