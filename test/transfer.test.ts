// sendFile end to end: real files, loopback sockets, pipes, TLS, child
// processes and worker threads. Every test checks what a user relies on: the
// exact bytes at the other end, the error a caller gets, nothing leaked.
//
// Random cases are reproducible: the seed is printed when a test fails, and
// ZEROCOPY_TEST_SEED=<seed> npx vitest run test/transfer.test.ts replays it.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import { open as openHandle } from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { capabilities, sendFile, type Backend } from '../dist/cjs/index.js';
import { expectBytes, GiB, KiB, makeRng, MiB, pickSeed, seededBytes, type Rng } from './support/bytes.js';
import { descriptorFlags, descriptorsOpenedSince, openDescriptors, unusedDescriptorNumber } from './support/descriptors.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { execFileAsync, exited, runNode, waitForLine } from './support/processes.js';
import { endAndClose, startCollector, type Collector } from './support/sockets.js';
import { makeSelfSignedCertificate } from './support/tls.js';
import { rejection, sleep, within } from './support/waiting.js';

const LIB = join(__dirname, '..', 'dist', 'cjs', 'index.js'); // what workers and child processes require
const caps = capabilities();
const BACKENDS = caps.backends;
const NATIVE_BACKENDS = BACKENDS.filter((b) => b !== 'stream');

type Chunk = string | ArrayBufferView;
type Chunks = Chunk | Chunk[];

let dir: TempDir;
beforeAll(() => {
  dir = makeTempDir();
});
afterAll(() => {
  dir?.remove();
});

/** Sends over a fresh loopback connection and returns the result and what the peer received. */
async function sendOverTcp(collector: Collector, input: Parameters<typeof sendFile>[1], options?: Parameters<typeof sendFile>[2]) {
  const { socket, received } = await collector.connect();
  try {
    const result = await sendFile(socket, input, options);
    socket.end();
    const { data, error } = await received;
    expect(error).toBeUndefined();
    return { result, data };
  } finally {
    socket.destroy();
  }
}

// ---------------------------------------------------------------------------
// Headers and trailers: every shape a caller may pass, and the bytes each
// shape must produce, worked out independently of the library.

const MULTIBYTE = ['é', 'ß', '✓', '€', '日本語', '𝄞', '🙂', 'Ω', 'ñ', '\u00a0'];

function randomString(rng: Rng): string {
  let s = '';
  const n = rng.int(1, 40);
  for (let i = 0; i < n; i++) s += rng.bool(0.4) ? rng.pick(MULTIBYTE) : String.fromCharCode(rng.int(0x20, 0x7e));
  return s;
}

/** A view over a larger buffer: the bytes around it must not be sent. */
function randomView(rng: Rng): ArrayBufferView {
  const bytes = rng.bytes(rng.int(1, 3000) + 16);
  const ab = new ArrayBuffer(bytes.length);
  new Uint8Array(ab).set(bytes);
  const kind = rng.int(0, 4);
  if (kind === 0) return Buffer.from(rng.bytes(rng.int(1, 5000))); // plain Buffer
  if (kind === 1) {
    const start = rng.int(1, 8);
    return new Uint8Array(ab, start, rng.int(0, ab.byteLength - start - 8));
  }
  if (kind === 2) {
    const start = 2 * rng.int(1, 4);
    return new Uint16Array(ab, start, rng.int(0, Math.floor((ab.byteLength - start) / 2) - 1));
  }
  if (kind === 3) {
    const start = rng.int(1, 8);
    return new DataView(ab, start, rng.int(0, ab.byteLength - start - 1));
  }
  // A Buffer slice: shares memory with its parent at a non-zero byteOffset.
  const parent = Buffer.from(bytes);
  const start = rng.int(1, 8);
  return parent.subarray(start, start + rng.int(0, parent.length - start));
}

function chunkBytes(chunk: Chunk): Buffer {
  if (typeof chunk === 'string') return Buffer.from(new TextEncoder().encode(chunk));
  return Buffer.from(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)); // a copy
}

function randomChunks(rng: Rng): { value: Chunks | undefined; bytes: Buffer; label: string } {
  const scalar = (): Chunk => {
    const k = rng.int(0, 5);
    if (k === 0) return '';
    if (k === 1) return randomString(rng);
    if (k === 2) return new Uint8Array(0);
    return randomView(rng);
  };
  const k = rng.int(0, 5);
  if (k === 0) return { value: undefined, bytes: Buffer.alloc(0), label: 'none' };
  if (k === 1) return { value: [], bytes: Buffer.alloc(0), label: '[]' };
  if (k <= 3) {
    const c = scalar();
    return { value: c, bytes: chunkBytes(c), label: describeChunk(c) };
  }
  const list = Array.from({ length: rng.int(1, 5) }, scalar);
  return { value: list, bytes: Buffer.concat(list.map(chunkBytes)), label: `[${list.map(describeChunk).join(', ')}]` };
}

function describeChunk(c: Chunk): string {
  if (typeof c === 'string') return `string(${Buffer.byteLength(c)}B)`;
  return `${c.constructor.name}(+${c.byteOffset}, ${c.byteLength}B)`;
}

// ---------------------------------------------------------------------------

describe('exact bytes over loopback TCP', () => {
  let collector: Collector;
  beforeAll(async () => {
    collector = await startCollector();
  });
  afterAll(() => collector?.close());

  it('capabilities() on this Linux build: native, sendfile first, readwrite among the rest, stream last', () => {
    expect(caps.native).toBe(true);
    expect(caps.loadError).toBeUndefined();
    expect(BACKENDS[0]).toBe('sendfile');
    expect(BACKENDS).toContain('readwrite');
    expect(BACKENDS.at(-1)).toBe('stream');
    expect(new Set(BACKENDS).size).toBe(BACKENDS.length);
  });

  it.each(BACKENDS)('random ranges, headers and trailers arrive exactly (%s)', async (backend) => {
    const seed = pickSeed();
    onTestFailed(() => {
      console.error(`seed ${seed}: rerun with ZEROCOPY_TEST_SEED=${seed}`);
    });
    const rng = makeRng(seed);
    for (let i = 0; i < 24; i++) {
      const size = rng.pick([0, 1, rng.int(2, 4096), rng.int(4097, 300 * KiB), 256 * KiB + rng.int(-1, 1), rng.int(300 * KiB, 3 * MiB)]);
      const content = rng.bytes(size);
      const path = dir.write(content);
      const offset = rng.pick([0, size, rng.int(0, size)]);
      const left = size - offset;
      const countChoice = rng.int(0, 3);
      const count = countChoice === 0 ? undefined : countChoice === 1 ? 0 : countChoice === 2 ? left : rng.int(0, left);
      const headers = randomChunks(rng);
      const trailers = randomChunks(rng);
      const asBigint = rng.bool();
      const inputKind = rng.pick(['path', 'url', 'fd', 'handle'] as const);
      const label = `seed ${seed} case ${i}: size ${size}, offset ${offset}, count ${count === undefined ? 'default' : count}, ${asBigint ? 'bigint' : 'number'}, input ${inputKind}, headers ${headers.label}, trailers ${trailers.label}`;

      const fd = inputKind === 'fd' ? fs.openSync(path, 'r') : undefined;
      const handle = inputKind === 'handle' ? await openHandle(path, 'r') : undefined;
      const input = inputKind === 'path' ? path : inputKind === 'url' ? pathToFileURL(path) : fd ?? handle!;
      try {
        const { result, data } = await sendOverTcp(collector, input, {
          offset: asBigint ? BigInt(offset) : offset,
          count: count === undefined ? undefined : asBigint ? BigInt(count) : count,
          headers: headers.value,
          trailers: trailers.value,
          backend,
        });
        const file = content.subarray(offset, count === undefined ? size : offset + count);
        const expected = Buffer.concat([headers.bytes, file, trailers.bytes]);
        expectBytes(data, expected, label);
        expect(result, label).toEqual({ bytesSent: expected.length, backend });
      } finally {
        if (fd !== undefined) fs.closeSync(fd);
        await handle?.close();
        fs.rmSync(path);
      }
    }
  });

  it("backend 'auto' (and no options at all) uses sendfile and sends the whole file", async () => {
    const content = seededBytes('auto', 700 * KiB + 3);
    const path = dir.write(content);
    const a = await sendOverTcp(collector, path, { backend: 'auto', headers: 'H', trailers: 'T' });
    expect(a.result).toEqual({ bytesSent: content.length + 2, backend: 'sendfile' });
    expectBytes(a.data, Buffer.concat([Buffer.from('H'), content, Buffer.from('T')]));
    const b = await sendOverTcp(collector, path);
    expect(b.result).toEqual({ bytesSent: content.length, backend: 'sendfile' });
    expectBytes(b.data, content);
  });

  it.each<'auto' | Backend>(['auto', ...BACKENDS])('a small transfer done in its first attempt reports progress, the last call its bytesSent (%s)', async (backend) => {
    const content = seededBytes('progress-at-once', 10_000);
    const path = dir.write(content);
    const seen: number[] = [];
    const { result, data } = await sendOverTcp(collector, path, { backend, headers: 'H', trailers: 'T', onProgress: (n) => seen.push(n) });
    expectBytes(data, Buffer.concat([Buffer.from('H'), content, Buffer.from('T')]));
    expect(result.bytesSent).toBe(content.length + 2);
    expect(seen.length, 'progress reports').toBeGreaterThan(0);
    expect(seen.at(-1)).toBe(result.bytesSent);
  });

  describe.each(BACKENDS)('edge cases (%s)', (backend) => {
    const content = seededBytes(`edge-${backend}`, 123_457);
    let path: string;
    beforeAll(() => {
      path = dir.write(content);
    });

    it('count 0 sends the headers and trailers only', async () => {
      const { result, data } = await sendOverTcp(collector, path, { offset: 1000, count: 0, headers: 'héllo ', trailers: [Buffer.from('wörld'), '🙂'], backend });
      const expected = Buffer.from('héllo wörld🙂');
      expectBytes(data, expected);
      expect(result).toEqual({ bytesSent: expected.length, backend });
    });

    it('offset equal to the size with count 0 sends headers and trailers only', async () => {
      const { result, data } = await sendOverTcp(collector, path, { offset: content.length, count: 0, headers: 'A', trailers: 'Z', backend });
      expectBytes(data, Buffer.from('AZ'));
      expect(result.bytesSent).toBe(2);
    });

    it('offset equal to the size without count sends nothing from the file', async () => {
      const { result, data } = await sendOverTcp(collector, path, { offset: BigInt(content.length), headers: 'A', backend });
      expectBytes(data, Buffer.from('A'));
      expect(result.bytesSent).toBe(1);
    });

    it('no count sends to the end of the file', async () => {
      const { result, data } = await sendOverTcp(collector, path, { offset: 777, backend });
      expectBytes(data, content.subarray(777));
      expect(result.bytesSent).toBe(content.length - 777);
    });

    it('bigint offset and count select the same bytes as numbers', async () => {
      const { result, data } = await sendOverTcp(collector, path, { offset: 4097n, count: 65_536n, backend });
      expectBytes(data, content.subarray(4097, 4097 + 65_536));
      expect(result.bytesSent).toBe(65_536);
    });

    it('an empty file with nothing around it sends nothing and resolves', async () => {
      const empty = dir.write(Buffer.alloc(0));
      const { result, data } = await sendOverTcp(collector, empty, { backend });
      expect(data.length).toBe(0);
      expect(result).toEqual({ bytesSent: 0, backend });
    });

    it('changing a header buffer after the call does not change what is sent', async () => {
      const { socket, received } = await collector.connect();
      // A write ahead of the transfer keeps it queued while the caller scribbles.
      socket.write(Buffer.alloc(64 * KiB, 1));
      const header = Buffer.from('ORIGINAL');
      const trailer = new Uint8Array([1, 2, 3]);
      const sending = sendFile(socket, path, { count: 10, headers: header, trailers: trailer, backend });
      header.fill(0x21);
      trailer.fill(9);
      await sending;
      socket.end();
      const { data } = await received;
      expectBytes(data, Buffer.concat([Buffer.alloc(64 * KiB, 1), Buffer.from('ORIGINAL'), content.subarray(0, 10), Buffer.from([1, 2, 3])]));
    });
  });
});

// ---------------------------------------------------------------------------

describe('files beyond 4 GiB (sparse)', () => {
  const FOUR_GIB = 4 * GiB;
  const MARK_AT = FOUR_GIB + 12_345;
  const marker = seededBytes('marker', MiB + 7);
  // A second pattern that straddles the 4 GiB boundary and ends before the marker.
  const STRADDLE_AT = FOUR_GIB - 2 * MiB - 3;
  const straddle = seededBytes('straddle', 2 * MiB + 3 + 5000);
  let path: string;
  let collector: Collector;

  /** The bytes the sparse file holds in [offset, offset + count). */
  function expectedRange(offset: number, count: number): Buffer {
    const out = Buffer.alloc(count);
    for (const [at, pattern] of [[MARK_AT, marker], [STRADDLE_AT, straddle]] as const) {
      const from = Math.max(offset, at);
      const to = Math.min(offset + count, at + pattern.length);
      if (from < to) pattern.copy(out, from - offset, from - at, to - at);
    }
    return out;
  }

  beforeAll(async () => {
    collector = await startCollector();
    path = dir.file('sparse');
    const fd = fs.openSync(path, 'w');
    try {
      fs.ftruncateSync(fd, 5 * GiB);
      fs.writeSync(fd, marker, 0, marker.length, MARK_AT);
      fs.writeSync(fd, straddle, 0, straddle.length, STRADDLE_AT);
    } finally {
      fs.closeSync(fd);
    }
    expect(fs.statSync(path).size).toBe(5 * GiB);
  });
  afterAll(async () => {
    await collector?.close();
    if (path) fs.rmSync(path, { force: true });
  });

  it.each(BACKENDS)('a range that starts past 4 GiB arrives exactly, with number and bigint offsets (%s)', async (backend) => {
    const offset = MARK_AT - 1000;
    const count = marker.length + 2000;
    const expected = expectedRange(offset, count);
    expect(expected.subarray(1000, 1000 + marker.length).equals(marker)).toBe(true); // the helper itself

    const a = await sendOverTcp(collector, path, { offset, count, headers: 'big:', backend });
    expectBytes(a.data, Buffer.concat([Buffer.from('big:'), expected]), 'number offset');
    expect(a.result).toEqual({ bytesSent: count + 4, backend });

    const b = await sendOverTcp(collector, path, { offset: BigInt(offset) + 1n, count: BigInt(count - 1), backend });
    expectBytes(b.data, expected.subarray(1), 'bigint offset');
    expect(b.result.bytesSent).toBe(count - 1);
  });

  it.each(BACKENDS)('the last bytes of a file past 4 GiB, with the default count (%s)', async (backend) => {
    const offset = 5 * GiB - 3 * KiB;
    const { result, data } = await sendOverTcp(collector, path, { offset, trailers: '<end>', backend });
    expectBytes(data, Buffer.concat([Buffer.alloc(3 * KiB), Buffer.from('<end>')]));
    expect(result.bytesSent).toBe(3 * KiB + 5);
  });

  it('a few MiB across the 4 GiB boundary arrive exactly, on every backend', async () => {
    const offset = FOUR_GIB - 3 * MiB;
    const count = 6 * MiB;
    const expected = expectedRange(offset, count);
    for (const backend of BACKENDS) {
      const { result, data } = await sendOverTcp(collector, path, { offset: BigInt(offset), count, backend });
      expectBytes(data, expected, backend);
      expect(result).toEqual({ bytesSent: count, backend });
    }
  });

  it.each(BACKENDS)('a range past 4 GiB copied into a regular file output (%s)', async (backend) => {
    const out = dir.file();
    const handle = await openHandle(out, 'w');
    try {
      const offset = MARK_AT - 5;
      const result = await sendFile(handle, path, { offset, count: 2 * MiB, backend });
      expect(result).toEqual({ bytesSent: 2 * MiB, backend });
    } finally {
      await handle.close();
    }
    expectBytes(fs.readFileSync(out), expectedRange(MARK_AT - 5, 2 * MiB));
  });
});

// ---------------------------------------------------------------------------

describe('inputs: positions and descriptors', () => {
  const content = seededBytes('positions', 600 * KiB + 5);
  let path: string;
  let collector: Collector;
  beforeAll(async () => {
    path = dir.write(content);
    collector = await startCollector();
  });
  afterAll(() => collector?.close());

  it.each(BACKENDS)('an fd input keeps its file position and stays open (%s)', async (backend) => {
    const fd = fs.openSync(path, 'r');
    try {
      const buf = Buffer.alloc(1000);
      expect(fs.readSync(fd, buf, 0, 1000, null)).toBe(1000); // position is now 1000
      const { data } = await sendOverTcp(collector, fd, { offset: 5000, count: 300 * KiB, backend });
      expectBytes(data, content.subarray(5000, 5000 + 300 * KiB));
      // Reading on from the current position continues at byte 1000.
      expect(fs.readSync(fd, buf, 0, 1000, null)).toBe(1000);
      expectBytes(buf, content.subarray(1000, 2000), 'read after sendFile');
      // A whole-file send from an fd starts at offset 0, not at the position.
      const whole = await sendOverTcp(collector, fd, { backend });
      expectBytes(whole.data, content);
      expect(fs.readSync(fd, buf, 0, 1000, null)).toBe(1000);
      expectBytes(buf, content.subarray(2000, 3000), 'read after the second sendFile');
      expect(fs.fstatSync(fd).size).toBe(content.length); // still open
    } finally {
      fs.closeSync(fd);
    }
  });

  it.each(BACKENDS)('a FileHandle input keeps its file position and stays open (%s)', async (backend) => {
    const handle = await openHandle(path, 'r');
    try {
      const buf = Buffer.alloc(777);
      expect((await handle.read(buf, 0, 777, null)).bytesRead).toBe(777);
      const { data } = await sendOverTcp(collector, handle, { offset: 1, headers: 'fh', backend });
      expectBytes(data, Buffer.concat([Buffer.from('fh'), content.subarray(1)]));
      expect((await handle.read(buf, 0, 777, null)).bytesRead).toBe(777);
      expectBytes(buf, content.subarray(777, 1554), 'read after sendFile');
      expect(handle.fd).toBeGreaterThanOrEqual(0);
      expect((await handle.stat()).size).toBe(content.length);
    } finally {
      await handle.close();
    }
  });

  it.each(BACKENDS)('path and URL inputs leave no descriptor open, whether they succeed or fail (%s)', async (backend) => {
    const { socket, received } = await collector.connect();
    try {
      const before = openDescriptors();
      await sendFile(socket, path, { backend, headers: 'x' });
      await sendFile(socket, pathToFileURL(path), { backend, offset: 10, count: 10 });
      expect(descriptorsOpenedSince(before), 'after successful sends').toEqual([]);
      await rejection(sendFile(socket, path, { backend, offset: content.length, count: 1 }), { code: 'ERR_FILE_TRUNCATED' });
      await rejection(sendFile(socket, dir.path, { backend }), { code: 'EISDIR' });
      await rejection(sendFile(socket, dir.file('missing'), { backend }), { code: 'ENOENT' });
      expect(descriptorsOpenedSince(before), 'after failed sends').toEqual([]);
      socket.end();
      expectBytes((await received).data, Buffer.concat([Buffer.from('x'), content, content.subarray(10, 20)]));
    } finally {
      socket.destroy();
    }
  });

  it('many sends from paths in a row leave the descriptor count where it was', async () => {
    const { socket, received } = await collector.connect();
    const before = openDescriptors();
    const sends = [];
    for (let i = 0; i < 60; i++) sends.push(sendFile(socket, path, { backend: BACKENDS[i % BACKENDS.length], offset: i, count: 100 }));
    await Promise.all(sends);
    expect(descriptorsOpenedSince(before)).toEqual([]);
    socket.end();
    const expected = Buffer.concat(Array.from({ length: 60 }, (_, i) => content.subarray(i, i + 100)));
    expectBytes((await received).data, expected);
  });
});

// ---------------------------------------------------------------------------

describe('bad arguments', () => {
  const content = seededBytes('bad-args', 50 * KiB);
  let path: string;
  let collector: Collector;
  beforeAll(async () => {
    path = dir.write(content);
    collector = await startCollector();
  });
  afterAll(() => collector?.close());

  type Case = [label: string, call: (socket: net.Socket) => Promise<unknown>, cls: typeof TypeError | typeof RangeError, code: string];
  const O = (options: unknown) => (s: net.Socket) => sendFile(s, path, options as never);
  const cases: Case[] = [
    ['out null', () => sendFile(null as never, path), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['out undefined', () => sendFile(undefined as never, path), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['out string', () => sendFile('/dev/stdout' as never, path), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['out plain object', () => sendFile({} as never, path), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['out bigint', () => sendFile(1n as never, path), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['out -1', () => sendFile(-1, path), RangeError, 'ERR_OUT_OF_RANGE'],
    ['out 1.5', () => sendFile(1.5, path), RangeError, 'ERR_OUT_OF_RANGE'],
    ['out NaN', () => sendFile(NaN, path), RangeError, 'ERR_OUT_OF_RANGE'],
    ['out 2^31', () => sendFile(2 ** 31, path), RangeError, 'ERR_OUT_OF_RANGE'],
    ['input null', (s) => sendFile(s, null as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['input undefined', (s) => sendFile(s, undefined as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['input Buffer', (s) => sendFile(s, Buffer.from(path) as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['input bigint', (s) => sendFile(s, 3n as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['input object', (s) => sendFile(s, { path } as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['input empty path', (s) => sendFile(s, ''), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['input path with NUL', (s) => sendFile(s, `${path}\0x`), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['input http: URL', (s) => sendFile(s, new URL('http://example.com/file')), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['input -1', (s) => sendFile(s, -1), RangeError, 'ERR_OUT_OF_RANGE'],
    ['input 0.5', (s) => sendFile(s, 0.5), RangeError, 'ERR_OUT_OF_RANGE'],
    ['options string', O('offset=1'), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['options number', O(5), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['offset -1', O({ offset: -1 }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['offset 1.5', O({ offset: 1.5 }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['offset NaN', O({ offset: NaN }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['offset Infinity', O({ offset: Infinity }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['offset 2^53', O({ offset: 2 ** 53 }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['offset -1n', O({ offset: -1n }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['offset 2^63n', O({ offset: 2n ** 63n }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['offset string', O({ offset: '1' }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['offset null', O({ offset: null }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['count -5', O({ count: -5 }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['count 0.1', O({ count: 0.1 }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['count -1n', O({ count: -1n }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['count object', O({ count: {} }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['offset + count beyond 2^63 - 1', O({ offset: 2n ** 62n, count: 2n ** 62n }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['headers number', O({ headers: 5 }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['headers object', O({ headers: { length: 1 } }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['headers ArrayBuffer', O({ headers: new ArrayBuffer(4) }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['headers array with a number', O({ headers: ['ok', 5] }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['headers nested array', O({ headers: [['a']] }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['trailers boolean', O({ trailers: true }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['trailers array with null', O({ trailers: [Buffer.from('a'), null] }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['signal object', O({ signal: { aborted: false } }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['signal AbortController', O({ signal: new AbortController() }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['backend number', O({ backend: 1 }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['backend unknown', O({ backend: 'splice' }), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['backend wrong case', O({ backend: 'SENDFILE' }), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['backend empty', O({ backend: '' }), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['lease string', O({ lease: 'yes' }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['lease number', O({ lease: 1 }), TypeError, 'ERR_INVALID_ARG_TYPE'],
  ];

  it('each invalid argument rejects with the right class and code, sends nothing, and the socket still works', async () => {
    const { socket, received } = await collector.connect();
    try {
      for (const [label, call, cls, code] of cases) {
        let promise!: Promise<unknown>;
        // Bad arguments come back as a rejected promise, never as a throw.
        expect(() => (promise = call(socket)), label).not.toThrow();
        const error = await rejection(promise, {}).catch((e) => e);
        expect(error, label).toBeInstanceOf(cls);
        expect((error as { code?: string }).code, `${label}: ${error}`).toBe(code);
        expect(socket.destroyed, label).toBe(false);
      }
      socket.write('still here:');
      const result = await sendFile(socket, path, { headers: '[', trailers: ']' });
      expect(result).toEqual({ bytesSent: content.length + 2, backend: 'sendfile' });
      socket.end();
      expectBytes((await received).data, Buffer.concat([Buffer.from('still here:['), content, Buffer.from(']')]));
    } finally {
      socket.destroy();
    }
  });

  it.each(BACKENDS)('system errors carry errno code and syscall, send nothing, and the socket still works (%s)', async (backend) => {
    const { socket, received } = await collector.connect();
    try {
      const missing = await rejection(sendFile(socket, dir.file('does-not-exist'), { backend, headers: 'H' }), { code: 'ENOENT' });
      expect(missing.syscall).toBe('open');
      expect(missing.errno).toBe(-2);

      const directory = await rejection(sendFile(socket, dir.path, { backend, headers: 'H' }), { code: 'EISDIR' });
      expect(directory.syscall).toEqual(expect.any(String));
      expect(directory.syscall).not.toBe('');

      const closed = await rejection(sendFile(socket, unusedDescriptorNumber(), { backend, headers: 'H' }), { code: 'EBADF' });
      expect(closed.syscall).toEqual(expect.any(String));
      expect(closed.syscall).not.toBe('');

      const handle = await openHandle(path, 'r');
      await handle.close();
      const closedHandle = await rejection(sendFile(socket, handle, { backend, headers: 'H' }), { code: 'EBADF' });
      expect(closedHandle.syscall).not.toBe('');

      // Not a regular file: a pipe and a character device.
      const [r, w] = await pipePair();
      try {
        await rejection(sendFile(socket, r, { backend, headers: 'H' }), { class: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
      } finally {
        fs.closeSync(r);
        fs.closeSync(w);
      }
      await rejection(sendFile(socket, '/dev/zero', { backend, headers: 'H' }), { class: TypeError, code: 'ERR_INVALID_ARG_VALUE' });

      expect(socket.destroyed).toBe(false);
      socket.write('ok:');
      await sendFile(socket, path, { backend, count: 100 });
      socket.end();
      expectBytes((await received).data, Buffer.concat([Buffer.from('ok:'), content.subarray(0, 100)]));
    } finally {
      socket.destroy();
    }
  });

  it.each(BACKENDS)('a closed output descriptor or FileHandle rejects with EBADF (%s)', async (backend) => {
    const out = dir.write('');
    const e1 = await rejection(sendFile(unusedDescriptorNumber(), path, { backend, headers: 'H' }), { code: 'EBADF' });
    expect(e1.syscall).not.toBe('');
    const handle = await openHandle(out, 'w');
    await handle.close();
    const e2 = await rejection(sendFile(handle, path, { backend, headers: 'H' }), { code: 'EBADF' });
    expect(e2.syscall).not.toBe('');
    expect(fs.statSync(out).size).toBe(0);
  });
});

/** A pipe's two ends as descriptors, made by a child-free trick: a FIFO opened both ways. */
async function pipePair(): Promise<[number, number]> {
  const fifo = dir.file('fifo');
  await execFileAsync('mkfifo', [fifo]);
  const r = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const w = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  fs.rmSync(fifo);
  return [r, w];
}

// ---------------------------------------------------------------------------

describe('truncated files', () => {
  let collector: Collector;
  beforeAll(async () => {
    collector = await startCollector();
  });
  afterAll(() => collector?.close());

  it.each(BACKENDS)('a file shorter than offset + count at the call rejects before sending anything (%s)', async (backend) => {
    const content = seededBytes(`short-${backend}`, 10_000);
    const path = dir.write(content);
    const { socket, received } = await collector.connect();
    try {
      const before = openDescriptors();
      const e1 = await rejection(sendFile(socket, path, { offset: 5000, count: 5001, headers: 'NOT SENT', trailers: 'NOR THIS', backend }), {
        code: 'ERR_FILE_TRUNCATED',
      });
      expect(e1.bytesSent ?? 0).toBe(0);
      const e2 = await rejection(sendFile(socket, path, { offset: 10_001, headers: 'NOT SENT', backend }), { code: 'ERR_FILE_TRUNCATED' });
      expect(e2.bytesSent ?? 0).toBe(0);
      const fd = fs.openSync(path, 'r');
      try {
        await rejection(sendFile(socket, fd, { offset: 0n, count: 10_001n, headers: 'NOT SENT', backend }), { code: 'ERR_FILE_TRUNCATED' });
      } finally {
        fs.closeSync(fd);
      }
      expect(descriptorsOpenedSince(before)).toEqual([]);
      expect(socket.destroyed).toBe(false);
      socket.write('usable:');
      await sendFile(socket, path, { offset: 5000, count: 5000, backend });
      socket.end();
      expectBytes((await received).data, Buffer.concat([Buffer.from('usable:'), content.subarray(5000)]));
    } finally {
      socket.destroy();
    }
  });

  it.each(BACKENDS)(
    'a file truncated by another process during the transfer rejects with ERR_FILE_TRUNCATED and bytesSent (%s)',
    async (backend) => {
      // The peer reads the first bytes, then stops, so the transfer fills the
      // socket buffers and waits; meanwhile a child process cuts the file
      // short. Cuts are page- and chunk-aligned and far past what the buffers
      // can hold, so what was already sent is exactly the file's old bytes.
      const size = 96 * MiB;
      const offset = 256 * KiB;
      const newSize = 64 * MiB;
      const content = seededBytes(`shrink-${backend}`, size);
      const path = dir.write(content);
      const paused = await startCollector({ paused: true });
      try {
        const { socket, received } = await paused.connect();
        const server = await paused.serverSide(socket.localPort!);
        const before = openDescriptors();
        const header = Buffer.from('HTTP/1.1 200 OK\r\n\r\n');
        const sending = sendFile(socket, path, { offset, headers: header, trailers: 'never sent', backend });
        sending.catch(() => {});
        server.resume();
        await once(server, 'data'); // the transfer is under way
        server.pause();
        await sleep(100);
        const cut = await runNode('require("node:fs").truncateSync(process.argv[1], Number(process.argv[2]))', {}, [path, String(newSize)]);
        expect(cut.code, cut.stderr).toBe(0);
        server.resume();

        // Every backend reads on until the file runs out (mmap holds no
        // read lease unless asked to: conformance.test.ts).
        const error = await rejection(sending, { code: 'ERR_FILE_TRUNCATED' });
        const upToTheCut = header.length + newSize - offset;
        expect(error.bytesSent).toBe(upToTheCut);
        // A socket that got half a transfer is not reused.
        expect(socket.destroyed).toBe(true);
        const { data } = await received;
        expectBytes(data, Buffer.concat([header, content.subarray(offset, newSize)]).subarray(0, error.bytesSent));
        expect(descriptorsOpenedSince(before)).toEqual([]);
      } finally {
        await paused.close();
      }
    },
  );
});

// ---------------------------------------------------------------------------

describe('file and pipe outputs', () => {
  const content = seededBytes('outputs', 3 * MiB + 333);
  let path: string;
  beforeAll(() => {
    path = dir.write(content);
  });

  it.each(BACKENDS)('an fd output is written at its current position, which moves past what was sent (%s)', async (backend) => {
    const out = dir.write(Buffer.alloc(4 * MiB, 'x'));
    const fd = fs.openSync(out, 'r+');
    try {
      expect(fs.readSync(fd, Buffer.alloc(100), 0, 100, null)).toBe(100); // position 100, existing bytes after it
      const range = { offset: 11, count: MiB + 1 };
      const result = await sendFile(fd, path, { ...range, headers: ['<', Buffer.from('é')], trailers: '>', backend });
      expect(result).toEqual({ bytesSent: range.count + 4, backend });
      fs.writeSync(fd, 'TAIL'); // at the position after the transfer
      const sent = Buffer.concat([Buffer.from('<é'), content.subarray(11, 11 + range.count), Buffer.from('>')]);
      const expected = Buffer.concat([Buffer.alloc(100, 'x'), sent, Buffer.from('TAIL'), Buffer.alloc(4 * MiB - 104 - sent.length, 'x')]);
      expectBytes(fs.readFileSync(out), expected);
    } finally {
      fs.closeSync(fd);
    }
  });

  it.each(BACKENDS)('a FileHandle output continues after what was already written (%s)', async (backend) => {
    const out = dir.file();
    const handle = await openHandle(out, 'w');
    try {
      await handle.write('already here\n');
      const result = await sendFile(handle, path, { headers: 'H', backend });
      expect(result).toEqual({ bytesSent: content.length + 1, backend });
      await handle.write('\nafter');
    } finally {
      await handle.close();
    }
    expectBytes(fs.readFileSync(out), Buffer.concat([Buffer.from('already here\nH'), content, Buffer.from('\nafter')]));
  });

  it.each<'auto' | Backend>(['auto', ...BACKENDS])('an append-mode output gets the bytes at its end (%s)', async (backend) => {
    const out = dir.write('existing\n');
    const fd = fs.openSync(out, 'a');
    try {
      const sending = sendFile(fd, path, { offset: 5, count: 200 * KiB, headers: 'H', trailers: 'T', backend });
      if (backend === 'sendfile') {
        // sendfile(2) and copy_file_range(2) cannot write to O_APPEND files:
        // asking for it is refused before anything is written.
        await rejection(sending, { class: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
        expect(fs.readFileSync(out, 'utf8')).toBe('existing\n');
        return;
      }
      const result = await sending;
      expect(result.bytesSent).toBe(200 * KiB + 2);
      if (backend === 'auto') expect(NATIVE_BACKENDS.filter((b) => b !== 'sendfile')).toContain(result.backend);
      else expect(result.backend).toBe(backend);
    } finally {
      fs.closeSync(fd);
    }
    expectBytes(fs.readFileSync(out), Buffer.concat([Buffer.from('existing\nH'), content.subarray(5, 5 + 200 * KiB), Buffer.from('T')]));
  });

  it.each<'auto' | Backend>(['auto', ...BACKENDS])("a child's stdin pipe (`cat > file`) receives the exact bytes, of a large transfer and a small one (%s)", async (backend) => {
    const out = dir.file();
    const child = spawn('sh', ['-c', 'cat > "$0"', out], { stdio: ['pipe', 'ignore', 'pipe'] });
    const done = exited(child);
    const stdin = child.stdin as net.Socket; // a pipe, as a net.Socket
    expect(stdin).toBeInstanceOf(net.Socket);
    const chosen = backend === 'auto' ? BACKENDS[0] : backend;
    const result = await sendFile(stdin, path, { offset: 1, headers: 'pipe:', trailers: Buffer.from(':end'), backend });
    expect(result).toEqual({ bytesSent: content.length - 1 + 9, backend: chosen });
    // Small enough for sendNow, which takes TCP only: MSG_MORE and TCP_CORK are no pipe's.
    const small = await sendFile(stdin, path, { offset: 7, count: 1000, headers: '<', trailers: '>', backend });
    expect(small).toEqual({ bytesSent: 1002, backend: chosen });
    // libuv's pipe is non-blocking, and the transfers leave it so.
    expect(descriptorFlags((stdin as unknown as { _handle: { fd: number } })._handle.fd) & fs.constants.O_NONBLOCK).not.toBe(0);
    stdin.end();
    const { code, stderr } = await done;
    expect(code, stderr).toBe(0);
    const expected = [Buffer.from('pipe:'), content.subarray(1), Buffer.from(':end<'), content.subarray(7, 1007), Buffer.from('>')];
    expectBytes(fs.readFileSync(out), Buffer.concat(expected));
  });

  it('an fd number that is a TCP socket (a child process\'s inherited stdout) gets the exact bytes, on every backend', async () => {
    const collector = await startCollector();
    try {
      const { socket, received } = await collector.connect();
      // The child writes to fd 1, which is our connection; it reports on stderr.
      const script = `
        const { sendFile } = require(process.argv[1]);
        (async () => {
          const results = [];
          for (const backend of JSON.parse(process.argv[3])) {
            results.push(await sendFile(1, process.argv[2], { offset: 100, count: 512 * 1024 + 1, headers: '<' + backend + '>', backend }));
          }
          console.error(JSON.stringify(results));
        })().catch((e) => { console.error('FAILED ' + e.stack); process.exit(1); });
      `;
      const child = spawn(process.execPath, ['-e', script, LIB, path, JSON.stringify(['auto', ...BACKENDS])], { stdio: ['ignore', socket, 'pipe'] });
      const { code, stderr } = await exited(child);
      expect(code, stderr).toBe(0);
      const results = JSON.parse(stderr.split('\n').filter((l) => l.startsWith('[')).at(-1)!);
      expect(results.map((r: { backend: string }) => r.backend)).toEqual(['sendfile', ...BACKENDS]);
      socket.end();
      const expected = Buffer.concat(['auto', ...BACKENDS].flatMap((b) => [Buffer.from(`<${b}>`), content.subarray(100, 100 + 512 * KiB + 1)]));
      expectBytes((await received).data, expected);
      results.forEach((r: { bytesSent: number }, i: number) => expect(r.bytesSent).toBe(['auto', ...BACKENDS][i].length + 2 + 512 * KiB + 1));
    } finally {
      await collector.close();
    }
  });

  // /dev/full takes write(2) (and fails it with ENOSPC), but has no
  // splice_write: sendfile(2) refuses it with EINVAL on Linux 5.10 and later.
  it.runIf(BACKENDS.includes('sendfile'))("a named backend whose own call refuses the output fails with that call's error; 'auto' hands it to the next backend", async () => {
    const fd = fs.openSync('/dev/full', 'w');
    try {
      const named = await rejection(sendFile(fd, path, { count: 1000, backend: 'sendfile' }), {});
      // sendfile's own refusal (or, on kernels that let it write there, its
      // own ENOSPC), never another backend's write.
      expect(named.syscall, String(named)).toBe('sendfile');
      expect(named.bytesSent).toBe(0);
      const auto = await rejection(sendFile(fd, path, { count: 1000 }), { code: 'ENOSPC' });
      expect(auto.bytesSent).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });

  it.each(NATIVE_BACKENDS)("a blocking FIFO whose reader waits holds up no other transfer: the driver never blocks in a write (%s)", async (backend) => {
    const fifo = dir.file();
    const out = dir.file();
    await execFileAsync('mkfifo', [fifo]);
    // The reader opens the FIFO at once, and reads only when told to.
    const reader = spawn('sh', ['-c', 'exec 3<"$0"; read go; cat <&3 > "$1"', fifo, out], { stdio: ['pipe', 'ignore', 'pipe'] });
    const done = exited(reader);
    const handle = await openHandle(fifo, 'w'); // blocking, as a FIFO opened this way is
    const collector = await startCollector();
    try {
      // Far more than the FIFO holds, and past a Transfer's own attempt: the driver writes it.
      const toFifo = sendFile(handle.fd, path, { count: 2 * MiB, backend });
      const other = await within(sendOverTcp(collector, path, { count: 2 * MiB, backend }), 5000, "a transfer to a socket while the FIFO's reader waits");
      expect(other.result.bytesSent).toBe(2 * MiB);
      reader.stdin!.end('go\n');
      expect(await within(toFifo, 10_000, 'the transfer to the FIFO once its reader reads')).toEqual({ bytesSent: 2 * MiB, backend });
      expect(descriptorFlags(handle.fd) & fs.constants.O_NONBLOCK).toBe(0);
    } finally {
      reader.stdin!.end();
      await handle.close();
      await collector.close();
    }
    const { code, stderr } = await done;
    expect(code, stderr).toBe(0);
    expectBytes(fs.readFileSync(out), content.subarray(0, 2 * MiB));
  });

  it.each(BACKENDS)('a FIFO read by another process, as fd number and as FileHandle (%s)', async (backend) => {
    for (const as of ['fd', 'handle'] as const) {
      const fifo = dir.file();
      const out = dir.file();
      await execFileAsync('mkfifo', [fifo]);
      const child = spawn('sh', ['-c', 'cat "$0" > "$1"', fifo, out], { stdio: ['ignore', 'ignore', 'pipe'] });
      const done = exited(child);
      const handle = await openHandle(fifo, 'w'); // waits for the reader on the threadpool
      try {
        const result = await sendFile(as === 'fd' ? handle.fd : handle, path, { count: 2 * MiB + 1, trailers: [as, '🙂'], backend });
        expect(result).toEqual({ bytesSent: 2 * MiB + 1 + Buffer.byteLength(as + '🙂'), backend });
        // The transfer leaves the descriptor as it found it: blocking.
        expect(descriptorFlags(handle.fd) & fs.constants.O_NONBLOCK).toBe(0);
      } finally {
        await handle.close();
      }
      const { code, stderr } = await done;
      expect(code, stderr).toBe(0);
      expectBytes(fs.readFileSync(out), Buffer.concat([content.subarray(0, 2 * MiB + 1), Buffer.from(as + '🙂')]), as);
    }
  });
});

// ---------------------------------------------------------------------------

describe('TLS sockets', () => {
  let tlsCollector: Collector;
  const content = seededBytes('tls', 2 * MiB + 17);
  let path: string;
  beforeAll(async () => {
    path = dir.write(content);
    const { key, cert } = await makeSelfSignedCertificate(dir.path);
    tlsCollector = await startCollector({ tlsOptions: { key, cert }, tlsClient: { ca: cert, servername: 'localhost' } });
  });
  afterAll(() => tlsCollector?.close());

  it("uses the stream backend and the peer decrypts the exact bytes, with 'auto' and 'stream'", async () => {
    for (const backend of ['auto', 'stream'] as const) {
      const { socket, received } = await tlsCollector.connect();
      try {
        const result = await sendFile(socket, path, { offset: 3, count: 2 * MiB, headers: 'tls ✓ ', trailers: [new Uint8Array([0, 255])], backend });
        expect(result).toEqual({ bytesSent: 2 * MiB + 8 + 2, backend: 'stream' });
        socket.write('then a write');
        socket.end();
        const { data, error } = await received;
        expect(error).toBeUndefined();
        expectBytes(data, Buffer.concat([Buffer.from('tls ✓ '), content.subarray(3, 3 + 2 * MiB), Buffer.from([0, 255]), Buffer.from('then a write')]), backend);
      } finally {
        socket.destroy();
      }
    }
  });

  it.each(NATIVE_BACKENDS)("forcing backend '%s' on a TLS socket rejects with ERR_INVALID_ARG_VALUE and sends nothing", async (backend) => {
    const { socket, received } = await tlsCollector.connect();
    try {
      await rejection(sendFile(socket, path, { headers: 'RAW', backend }), { class: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
      expect(socket.destroyed).toBe(false);
      socket.write('clean:');
      await sendFile(socket, path, { count: 1000 });
      socket.end();
      const { data, error } = await received;
      expect(error).toBeUndefined();
      expectBytes(data, Buffer.concat([Buffer.from('clean:'), content.subarray(0, 1000)]));
    } finally {
      socket.destroy();
    }
  });
});

// ---------------------------------------------------------------------------

// A worker's side: connects, runs its sends one after another, reports.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const { once } = require('node:events');
const { sendFile, capabilities } = require(workerData.lib);
(async () => {
  const socket = net.connect(workerData.port, '127.0.0.1');
  await once(socket, 'connect');
  parentPort.postMessage({ type: 'connected', port: socket.localPort, native: capabilities().native });
  const results = [];
  for (const job of workerData.jobs) {
    const pending = sendFile(socket, workerData.path, job);
    if (workerData.announce) parentPort.postMessage({ type: 'sending' });
    results.push(await pending);
  }
  await new Promise((resolve) => socket.end(resolve));
  parentPort.postMessage({ type: 'done', results });
})().catch((e) => parentPort.postMessage({ type: 'error', message: String(e && e.stack || e) }));
`;

interface Job {
  offset: number;
  count: number;
  headers: string;
  backend: Backend;
}

function startWorker(data: { port: number; path: string; jobs: Job[]; announce?: boolean }) {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ...data, lib: LIB } });
  const messages: { type: string; [k: string]: unknown }[] = [];
  const waiters: { type: string; resolve: (m: { type: string; [k: string]: unknown }) => void; reject: (e: Error) => void }[] = [];
  const fail = (e: Error) => waiters.splice(0).forEach((w) => w.reject(e));
  worker.on('message', (m) => {
    messages.push(m);
    if (m.type === 'error') fail(new Error(`worker: ${m.message}`));
    for (const w of waiters.filter((w) => w.type === m.type)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(m);
    }
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`worker exited with ${code}`)));
  const next = (type: string) => {
    const seen = messages.find((m) => m.type === type);
    if (seen) return Promise.resolve(seen);
    return new Promise<{ type: string; [k: string]: unknown }>((resolve, reject) => waiters.push({ type, resolve, reject }));
  };
  return { worker, next };
}

function makeJobs(tag: string, rng: Rng, size: number): Job[] {
  return Array.from({ length: 8 }, (_, i) => {
    const offset = rng.int(0, size - 1);
    return { offset, count: rng.int(0, Math.min(size - offset, 2 * MiB)), headers: `<${tag} ${i} é>`, backend: BACKENDS[i % BACKENDS.length] };
  });
}

function expectedFor(content: Buffer, jobs: Job[]): Buffer {
  return Buffer.concat(jobs.flatMap((j) => [Buffer.from(j.headers), content.subarray(j.offset, j.offset + j.count)]));
}

describe('worker_threads', () => {
  const content = seededBytes('workers', 4 * MiB + 9);
  let path: string;
  let collector: Collector;
  beforeAll(async () => {
    path = dir.write(content);
    collector = await startCollector();
  });
  afterAll(() => collector?.close());

  it('two workers and the main thread send at the same time; every connection gets its exact bytes', async () => {
    const seed = pickSeed();
    onTestFailed(() => {
      console.error(`seed ${seed}: rerun with ZEROCOPY_TEST_SEED=${seed}`);
    });
    const rng = makeRng(seed);
    const jobsA = makeJobs('A', rng, content.length);
    const jobsB = makeJobs('B', rng, content.length);
    const jobsMain = makeJobs('main', rng, content.length);
    const a = startWorker({ port: collector.port, path, jobs: jobsA });
    const b = startWorker({ port: collector.port, path, jobs: jobsB });
    try {
      const [ca, cb] = await Promise.all([a.next('connected'), b.next('connected')]);
      expect(ca.native).toBe(true);
      expect(cb.native).toBe(true);

      const { socket, received } = await collector.connect();
      const mainResults = await Promise.all(jobsMain.map((job) => sendFile(socket, path, job)));
      socket.end();

      const [da, db] = await Promise.all([a.next('done'), b.next('done')]);
      expectBytes((await collector.receivedFrom(ca.port as number)).data, expectedFor(content, jobsA), `worker A, seed ${seed}`);
      expectBytes((await collector.receivedFrom(cb.port as number)).data, expectedFor(content, jobsB), `worker B, seed ${seed}`);
      expectBytes((await received).data, expectedFor(content, jobsMain), `main thread, seed ${seed}`);
      const sent = (jobs: Job[]) => jobs.map((j) => ({ bytesSent: Buffer.byteLength(j.headers) + j.count, backend: j.backend }));
      expect(da.results).toEqual(sent(jobsA));
      expect(db.results).toEqual(sent(jobsB));
      expect(mainResults).toEqual(sent(jobsMain));
    } finally {
      await Promise.all([a.worker.terminate(), b.worker.terminate()]);
    }
  });

  it('a worker that exits, even in the middle of a transfer, leaves the main thread working', async () => {
    // One worker finishes; with nothing left to do it exits on its own
    // (the addon does not hold its event loop open).
    const finished = startWorker({ port: collector.port, path, jobs: [{ offset: 0, count: 1000, headers: 'x', backend: 'sendfile' }] });
    const exit = once(finished.worker, 'exit');
    const { port: finishedPort } = await finished.next('connected');
    await finished.next('done');
    expect(await exit).toEqual([0]);
    expectBytes((await collector.receivedFrom(finishedPort as number)).data, Buffer.concat([Buffer.from('x'), content.subarray(0, 1000)]));

    // Another is stopped while its transfer waits for a peer that does not read.
    const paused = await startCollector({ paused: true });
    try {
      const big = dir.write(Buffer.alloc(64 * MiB, 7));
      const stuck = startWorker({ port: paused.port, path: big, jobs: [{ offset: 0, count: 64 * MiB, headers: '', backend: 'sendfile' }], announce: true });
      const { port } = await stuck.next('connected');
      await stuck.next('sending');
      await sleep(200);
      await stuck.worker.terminate();

      // The main thread carries on, on every backend.
      for (const backend of BACKENDS) {
        const { result, data } = await sendOverTcp(collector, path, { offset: 17, count: MiB, headers: backend, backend });
        expectBytes(data, Buffer.concat([Buffer.from(backend), content.subarray(17, 17 + MiB)]), backend);
        expect(result.backend).toBe(backend);
      }
      // And the stopped worker's connection was closed, not leaked: its peer sees the end.
      const side = await paused.serverSide(port as number);
      side.resume();
      const { data } = await paused.receivedFrom(port as number);
      expect(data.length).toBeLessThan(64 * MiB);
    } finally {
      await paused.close();
    }
  });
});

// ---------------------------------------------------------------------------

describe('without the native addon', () => {
  it('ZEROCOPY_DISABLE_NATIVE=1 reports native false and a load error, offers only stream, and still sends exact bytes', async () => {
    const content = seededBytes('no-addon', MiB + 5);
    const path = dir.write(content);
    const collector = await startCollector();
    try {
      const script = `
        const net = require('node:net');
        const { sendFile, capabilities } = require(process.argv[1]);
        (async () => {
          const caps = capabilities();
          const socket = net.connect(Number(process.argv[2]), '127.0.0.1');
          await new Promise((r) => socket.once('connect', r));
          const auto = await sendFile(socket, process.argv[3], { offset: 2, headers: 'no addon:', trailers: [Buffer.from('!')] });
          let forced;
          try { await sendFile(socket, process.argv[3], { backend: 'sendfile' }); } catch (e) { forced = { name: e.name, code: e.code }; }
          socket.end(() => console.log(JSON.stringify({ caps, auto, forced, port: socket.localPort })));
        })().catch((e) => { console.error(e); process.exit(1); });
      `;
      const run = await runNode(script, { ZEROCOPY_DISABLE_NATIVE: '1' }, [LIB, String(collector.port), path]);
      expect(run.code, run.stderr).toBe(0);
      const out = JSON.parse(run.stdout);
      expect(out.caps.native).toBe(false);
      expect(out.caps.loadError).toEqual(expect.stringMatching(/\S/));
      expect(out.caps.backends).toEqual(['stream']);
      expect(out.caps.zeroCopy).toBe(false);
      expect(out.auto).toEqual({ bytesSent: content.length - 2 + 10, backend: 'stream' });
      expect(out.forced).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      const { data } = await collector.receivedFrom(out.port);
      expectBytes(data, Buffer.concat([Buffer.from('no addon:'), content.subarray(2), Buffer.from('!')]));
    } finally {
      await collector.close();
    }
  });
});

// ---------------------------------------------------------------------------

describe('memory', () => {
  it('stays flat while sendfile moves 3 GiB to a reader in another process', async () => {
    const size = 3 * GiB;
    const path = dir.file('three-gib');
    const fd = fs.openSync(path, 'w');
    fs.ftruncateSync(fd, size);
    fs.writeSync(fd, 'first', 0);
    fs.writeSync(fd, 'last', size - 4);
    fs.closeSync(fd);

    const receiver = spawn(
      process.execPath,
      [
        '-e',
        `const s = require('node:net').createServer((c) => {
           let n = 0, head = '', tail = Buffer.alloc(0);
           c.on('data', (d) => { n += d.length; if (head.length < 32) head += d.subarray(0, 32).toString('latin1');
             tail = d.length >= 32 ? Buffer.from(d.subarray(-32)) : Buffer.concat([tail, d]).subarray(-32); });
           c.on('end', () => { console.log(JSON.stringify({ n, head: head.slice(0, 32), tail: tail.toString('latin1') })); s.close(); });
         }).listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const done = exited(receiver);
    try {
      const [, port] = await waitForLine(receiver, /^PORT (\d+)/);
      const socket = net.connect(Number(port), '127.0.0.1');
      await once(socket, 'connect');

      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 20);
      let result;
      try {
        result = await sendFile(socket, path, { headers: 'HEAD', trailers: 'TAIL', backend: 'sendfile' });
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      await endAndClose(socket);
      const { code, stdout, stderr } = await done;
      expect(code, stderr).toBe(0);
      const got = JSON.parse(stdout.split('\n').find((l) => l.startsWith('{'))!);
      expect(result).toEqual({ bytesSent: size + 8, backend: 'sendfile' });
      expect(got.n).toBe(size + 8);
      expect(got.head.startsWith('HEADfirst\0')).toBe(true);
      expect(got.tail.endsWith('\0lastTAIL')).toBe(true);
      expect(peak - baseline, `rss grew from ${baseline} to ${peak}`).toBeLessThan(64 * MiB);
    } finally {
      receiver.kill();
      fs.rmSync(path, { force: true });
    }
  });
});
