// One turn of the event loop gives transfers two budgets, so that a burst
// of them (a thousand clients at once, whose files all open in the same
// turn) cannot hold the loop up: the bytes of attempts made on the JS
// thread (send-now.ts), past which small transfers go to the driver, and
// the time spent starting transfers, past which the rest start in later
// turns, in the order they came.
import { performance } from 'node:perf_hooks';

const TURN_BUDGET = 4 * 1024 * 1024;
const TURN_TIME_MS = 2;
let spentThisTurn = 0;
let timeThisTurn = 0;
let turnReset: NodeJS.Immediate | undefined;
// Starts waiting for a turn with time left, first come first served.
const waitingStarts: (() => void)[] = [];
let startsLater: NodeJS.Immediate | undefined;

function resetTurnSoon(): void {
  turnReset ??= setImmediate(() => {
    spentThisTurn = 0;
    timeThisTurn = 0;
    turnReset = undefined;
  });
}

/** Counts `bytes` against this turn's budget of bytes tried on the JS thread, if they fit in it. */
export function spendThisTurn(bytes: number): boolean {
  if (spentThisTurn + bytes > TURN_BUDGET) return false;
  spentThisTurn += bytes;
  resetTurnSoon();
  return true;
}

/** Runs `run` on the JS thread, counting its time against this turn's budget. */
export function timed<T>(run: () => T): T {
  const began = performance.now();
  try {
    return run();
  } finally {
    timeThisTurn += performance.now() - began;
    resetTurnSoon();
  }
}

/**
 * In a later turn (after the reset scheduled before it), starts what
 * waited, in order, while the turn has time; the rest wait on.
 */
function startWaiting(): void {
  startsLater = undefined;
  while (waitingStarts.length > 0 && timeThisTurn < TURN_TIME_MS) waitingStarts.shift()!();
  if (waitingStarts.length > 0) startsLater = setImmediate(startWaiting);
}

/**
 * Runs `start` now if this turn has time left for starting transfers and
 * none is waiting, else in a later turn: one by one from a queue, not by
 * waking every waiter each turn.
 */
export function startInTurn<T>(start: () => T | Promise<T>): T | Promise<T> {
  if (timeThisTurn < TURN_TIME_MS && waitingStarts.length === 0) return timed(start);
  return new Promise((resolve, reject) => {
    waitingStarts.push(() => {
      try {
        resolve(timed(start));
      } catch (error) {
        reject(error);
      }
    });
    startsLater ??= setImmediate(startWaiting);
  });
}
