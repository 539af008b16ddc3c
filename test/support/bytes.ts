// Test data and the checks on it: sizes, reproducible pseudo-random bytes
// and parameters (a failing run can be replayed from its seed), hashes, and
// byte comparisons whose failure messages stay short when the buffers are
// megabytes long.
import { createCipheriv, createHash, type Hash } from 'node:crypto';
import { expect } from 'vitest';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/**
 * The seed for this run: ZEROCOPY_TEST_SEED when set (to replay a failure),
 * a fresh one otherwise. Throws when the variable is set but is not a
 * 32-bit unsigned integer.
 */
export function pickSeed(): number {
  const fromEnv = process.env.ZEROCOPY_TEST_SEED;
  if (fromEnv !== undefined && fromEnv !== '') {
    const n = Number(fromEnv);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`bad ZEROCOPY_TEST_SEED ${fromEnv}`);
    return n;
  }
  return (Math.random() * 0x100000000) >>> 0;
}

export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max] (inclusive). */
  int(min: number, max: number): number;
  bool(p?: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** `n` pseudo-random bytes that depend only on the generator's state. */
  bytes(n: number): Buffer;
}

/** A seeded generator (mulberry32): small, fast and good enough to choose test parameters. */
export function makeRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    bool: (p = 0.5) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)],
    bytes: (n) => seededBytes(`${Math.floor(next() * 2 ** 32)}`, n),
  };
}

/**
 * `n` pseudo-random bytes that depend only on `label`: the same label gives
 * the same bytes in every run. An AES-CTR keystream, so many MiB are cheap.
 */
export function seededBytes(label: string | number, n: number): Buffer {
  const key = createHash('sha256').update(String(label)).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const out = cipher.update(Buffer.alloc(n));
  cipher.final();
  return out;
}

/** The SHA-256 (hex) of the parts, in order, as if they were one buffer. */
export function sha256(...parts: (Buffer | string)[]): string {
  return hashOf(...parts).digest('hex');
}

/** A SHA-256 that has seen `parts`; copy() it to finish several different endings cheaply. */
export function hashOf(...parts: (Buffer | string)[]): Hash {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash;
}

/** Where two buffers first differ (offset and a few bytes of each), or 'identical'. */
export function firstDifference(actual: Buffer, expected: Buffer): string {
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (actual[i] !== expected[i]) {
      return `first difference at byte ${i} of ${expected.length} (got ${actual.subarray(i, i + 8).toString('hex')}, want ${expected.subarray(i, i + 8).toString('hex')})`;
    }
  }
  return actual.length === expected.length ? 'identical' : `lengths differ: got ${actual.length}, want ${expected.length}`;
}

/**
 * Asserts byte-for-byte equality. A failure names `what` and where the bytes
 * part (lost, reordered or foreign bytes), without dumping the buffers.
 */
export function expectBytes(actual: Buffer, expected: Buffer, what = 'bytes'): void {
  if (!actual.equals(expected)) expect.fail(`${what}: ${firstDifference(actual, expected)}`);
}
