// Ctrl-C and SIGTERM for the commands that run until stopped or until a
// transfer ends: the first signal lets the command stop in its own way (and
// say how far it got); a second one exits at once. A command stopped during
// a transfer exits 128 + the signal's number, as a shell reports it.
import { constants as osConstants } from 'node:os';

export const signalNumber = (signal: NodeJS.Signals) => 128 + (osConstants.signals[signal] ?? 0);

/** Calls `handler` on the first SIGINT or SIGTERM; a second one exits at once. Returns the function that removes it. */
export function onInterrupt(handler: (signal: NodeJS.Signals) => void): () => void {
  let seen = false;
  const listener = (signal: NodeJS.Signals) => {
    if (seen) process.exit(signalNumber(signal));
    seen = true;
    handler(signal);
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    process.removeListener('SIGINT', listener);
    process.removeListener('SIGTERM', listener);
  };
}

/** Resolves on the first SIGINT or SIGTERM; a second one then does what it would have done without us (ends the process). */
export function interrupted(): Promise<void> {
  return new Promise((done) => {
    const remove = onInterrupt(() => {
      remove();
      done();
    });
  });
}

/** The reason a transfer was aborted or its socket destroyed when a signal came. */
export class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}
