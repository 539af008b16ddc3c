// Waiting in tests: for a time, for a promise with a deadline, for a
// condition to become true, for a rejection of a given kind, and watching
// whether the event loop itself was kept waiting. within() and eventually()
// fail after their limit saying what did not happen, so that a stuck test
// fails with a reason rather than at the runner's 60 s timeout.
import { performance } from 'node:perf_hooks';
import { expect } from 'vitest';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`, or a rejection naming `what` if it has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Polls `check` until it returns true. Fails with "timed out waiting:
 * `message`" after `timeoutMs`; a function `message` is asked only then, so
 * it can describe the state at the deadline.
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  message: string | (() => string),
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${typeof message === 'function' ? message() : message}`);
    await sleep(20);
  }
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: any };

/** Watches a promise without throwing: `result` says how it settled, `settled()` whether it has yet. */
export function track<T>(promise: Promise<T>): { result: Promise<Settled<T>>; settled: () => boolean } {
  let done = false;
  const result = promise.then(
    (value) => ({ ok: true as const, value }),
    (error) => ({ ok: false as const, error }),
  );
  void result.then(() => (done = true));
  return { result, settled: () => done };
}

type ErrorDetails = { code?: string; syscall?: string; bytesSent?: number; errno?: number };

/**
 * Awaits a rejection and asserts its class, code and name (those given);
 * returns the error for further checks. Fails if the promise resolves, with
 * the value it resolved with.
 */
export async function rejection<E extends Error = Error & ErrorDetails>(
  promise: Promise<unknown>,
  expected: { class?: new (...args: never[]) => Error; code?: string; name?: string },
): Promise<E & ErrorDetails> {
  let error: unknown;
  try {
    const value = await promise;
    throw Object.assign(new Error(`expected a rejection (${JSON.stringify(expected.code ?? expected.name)}), got ${String(JSON.stringify(value))}`), {
      notRejected: true,
    });
  } catch (e) {
    if ((e as { notRejected?: boolean }).notRejected) throw e;
    error = e;
  }
  if (expected.class) expect(error).toBeInstanceOf(expected.class);
  if (expected.code !== undefined) expect((error as { code?: string }).code, String(error)).toBe(expected.code);
  if (expected.name !== undefined) expect((error as Error).name, String(error)).toBe(expected.name);
  return error as E & ErrorDetails;
}

/**
 * Runs a setTimeout(intervalMs) chain; stop() reports how late its timers
 * fired at worst. Large lateness means something blocked the event loop.
 */
export function watchEventLoop(intervalMs = 10): { stop(): { maxLatenessMs: number; ticks: number } } {
  let maxLatenessMs = 0;
  let ticks = 0;
  let expected = performance.now() + intervalMs;
  let timer: NodeJS.Timeout;
  const tick = () => {
    const now = performance.now();
    maxLatenessMs = Math.max(maxLatenessMs, now - expected);
    ticks++;
    expected = now + intervalMs;
    timer = setTimeout(tick, intervalMs);
  };
  timer = setTimeout(tick, intervalMs);
  return {
    stop() {
      clearTimeout(timer);
      // A timer still pending counts too: it is late by now if it is late.
      maxLatenessMs = Math.max(maxLatenessMs, performance.now() - expected);
      return { maxLatenessMs, ticks };
    },
  };
}
