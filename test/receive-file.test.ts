// receiveFile() from sockets and descriptors into files and other outputs,
// on every backend this machine has, with real loopback connections, real
// files, FIFOs and devices: bytes exact and in their place, the count
// honoured with the rest left readable on the socket, every way a receive
// can end (the peer's end, a reset, an abort, a destroyed socket, a full
// disk, an output that refuses) with the code it calls for and the bytes
// it wrote, and the socket given back to Node as it was.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as net from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { capabilities, receiveFile } from '../dist/cjs/index.js';
import { expectBytes, KiB, MiB, seededBytes } from './support/bytes.js';
import { descriptorsOpenedSince, openDescriptors } from './support/descriptors.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { buffered, collect, destroyPairs, tcpPair, trickle } from './support/pairs.js';
import { exited, runNode } from './support/processes.js';
import { rejection, sleep, within } from './support/waiting.js';

const caps = capabilities();
const BACKENDS = caps.receive.backends;
let dir: TempDir;

beforeAll(() => {
  dir = makeTempDir('zerocopy-receive-');
});
afterAll(() => dir.remove());
afterEach(() => destroyPairs());

describe('what this machine can receive with', () => {
  it('says so in capabilities(): splice first on Linux, stream last', () => {
    expect(caps.receive.backends.at(-1)).toBe('stream');
    expect(caps.receive.backends).toContain('readwrite');
    expect(caps.receive.backends[0]).toBe('splice');
    expect(caps.receive.zeroCopy).toBe(true);
  });
});

describe.each(BACKENDS)('receiveFile with backend %s', (backend) => {
  it('receives a socket to its end into a path, byte for byte', async () => {
    const { server, client } = await tcpPair();
    const data = seededBytes(`end-${backend}`, 3 * MiB + 17);
    client.end(data);
    const path = dir.file();
    const result = await within(receiveFile(server, path, { backend }), 10_000, 'the receive');
    expect(result).toEqual({ bytesReceived: data.length, backend });
    expectBytes(readFileSync(path), data, 'the file');
  });

  it('takes the bytes Node had read already first, and writes nothing twice', async () => {
    const { server, client } = await tcpPair();
    const data = seededBytes(`pending-${backend}`, MiB);
    client.write(data.subarray(0, 5000));
    await buffered(server, 5000);
    let emitted = 0;
    server.on('data', (chunk: Buffer) => (emitted += chunk.length));
    server.pause();
    client.end(data.subarray(5000));
    const path = dir.file();
    const result = await receiveFile(server, path, { backend });
    expect(result.bytesReceived).toBe(data.length);
    expectBytes(readFileSync(path), data, 'the file');
    expect(emitted, "bytes emitted as 'data' besides the file").toBe(0);
  });

  it('stops at count mid-chunk; the rest stays readable on the socket, then its end', async () => {
    const { server, client } = await tcpPair();
    const data = seededBytes(`count-${backend}`, 2 * MiB);
    const count = MiB + 12_345;
    client.end(data);
    const path = dir.file();
    const result = await receiveFile(server, path, { count, backend });
    expect(result.bytesReceived).toBe(count);
    expectBytes(readFileSync(path), data.subarray(0, count), 'the file');
    const rest = await within(collect(server), 5000, 'the rest of the socket');
    expect(rest.ended).toBe(true);
    expectBytes(rest.data, data.subarray(count), 'what the socket delivers afterwards');
  });

  it('writes at offset into an existing file (r+), keeping what lies before and after', async () => {
    const { server, client } = await tcpPair();
    const path = dir.write(Buffer.alloc(300_000, 0x61));
    const data = seededBytes(`offset-${backend}`, 100_000);
    client.end(data);
    await receiveFile(server, path, { offset: 50_000, flags: 'r+', backend });
    const want = Buffer.alloc(300_000, 0x61);
    data.copy(want, 50_000);
    expectBytes(readFileSync(path), want, 'the file');
  });

  it("rejects with ERR_STREAM_PREMATURE_CLOSE when the peer ends before count, saying what it wrote", async () => {
    const { server, client } = await tcpPair();
    const data = seededBytes(`short-${backend}`, 200_000);
    client.end(data);
    const path = dir.file();
    const error = await rejection(receiveFile(server, path, { count: 300_000, backend }), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
    expect((error as { bytesReceived?: number }).bytesReceived).toBe(data.length);
    expectBytes(readFileSync(path), data, 'the file');
  });

  it('stops when the peer resets, having written a true prefix, and says how much', async () => {
    const { server, client } = await tcpPair();
    const data = seededBytes(`reset-${backend}`, 4 * MiB);
    const path = dir.file();
    const receiving = receiveFile(server, path, { backend });
    client.write(data.subarray(0, MiB), () => client.resetAndDestroy());
    // A reset reads as ECONNRESET, or (Node's reading of it, some kernels'
    // timing) as the end of the stream: either way, nothing but a prefix.
    const outcome = await within(
      receiving.then(
        (result) => ({ code: 'resolved', bytes: result.bytesReceived }),
        (error: Error & { code?: string; bytesReceived?: number }) => ({ code: error.code, bytes: error.bytesReceived }),
      ),
      10_000,
      'the receive',
    );
    expect(['resolved', 'ECONNRESET', 'ERR_STREAM_DESTROYED']).toContain(outcome.code);
    const got = readFileSync(path);
    expect(outcome.bytes).toBe(got.length);
    expectBytes(got, data.subarray(0, got.length), 'the file (a prefix)');
  });

  it('stops on the signal with ABORT_ERR and the bytes written', async () => {
    const { server, client } = await tcpPair();
    const controller = new AbortController();
    const path = dir.file();
    const data = seededBytes(`abort-${backend}`, 100_000);
    const receiving = receiveFile(server, path, { signal: controller.signal, backend });
    client.write(data);
    await sleep(100);
    controller.abort();
    const error = await rejection(receiving, { code: 'ABORT_ERR' });
    expect((error as { bytesReceived?: number }).bytesReceived).toBe(readFileSync(path).length);
    expectBytes(readFileSync(path), data.subarray(0, readFileSync(path).length), 'the file');
  });

  it('refuses a socket destroyed before the call: ERR_STREAM_DESTROYED, nothing written', async () => {
    const { server } = await tcpPair();
    server.destroy();
    const path = dir.write('before');
    const error = await rejection(receiveFile(server, path, { backend }), { code: 'ERR_STREAM_DESTROYED' });
    expect((error as { bytesReceived?: number }).bytesReceived).toBe(0);
  });

  it('stops when the socket is destroyed during the receive: ERR_STREAM_DESTROYED', async () => {
    const { server, client } = await tcpPair();
    const path = dir.file();
    const receiving = receiveFile(server, path, { backend });
    client.write(seededBytes('destroyed', 50_000));
    await sleep(50);
    server.destroy();
    const error = await rejection(within(receiving, 5000, 'the receive'), { code: 'ERR_STREAM_DESTROYED' });
    expect((error as { bytesReceived?: number }).bytesReceived).toBe(readFileSync(path).length);
  });

  it('receives from a slow writer, byte for byte, reporting progress up to the total', async () => {
    const { server, client } = await tcpPair();
    const data = seededBytes(`slow-${backend}`, 300_000);
    const seen: number[] = [];
    const path = dir.file();
    const receiving = receiveFile(server, path, { backend, onProgress: (n) => seen.push(n) });
    await trickle(client, data, 30, 5);
    const result = await within(receiving, 10_000, 'the receive');
    expect(result.bytesReceived).toBe(data.length);
    expectBytes(readFileSync(path), data, 'the file');
    expect(seen.length).toBeGreaterThan(0);
    expect(seen).toEqual([...seen].sort((x, y) => x - y));
    expect(seen.at(-1)).toBe(data.length);
  });

  it('appends to a file opened with O_APPEND', async () => {
    const { server, client } = await tcpPair();
    const path = dir.write('head:');
    const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND);
    try {
      const data = seededBytes(`append-${backend}`, 500_000);
      client.end(data);
      const result = await receiveFile(server, fd, { backend: backend === 'splice' ? 'auto' : backend });
      // splice(2) refuses O_APPEND: 'auto' takes the read/write copy.
      expect(result.backend).toBe(backend === 'splice' ? 'readwrite' : backend);
      expectBytes(readFileSync(path), Buffer.concat([Buffer.from('head:'), data]), 'the file');
    } finally {
      closeSync(fd);
    }
  });
});

describe('receiveFile: outputs and inputs that are not a plain file or socket', () => {
  it("refuses an output opened read-only before taking a byte: EBADF, and the socket's bytes stay readable", async () => {
    const { server, client } = await tcpPair();
    const path = dir.write('');
    const fd = openSync(path, 'r');
    try {
      const data = seededBytes('readonly', 100_000);
      client.end(data);
      await rejection(receiveFile(server, fd), { code: 'EBADF' });
      const rest = await within(collect(server), 5000, 'the socket afterwards');
      expectBytes(rest.data, data, 'what the socket delivers afterwards');
    } finally {
      closeSync(fd);
    }
  });

  it('rejects with ENOSPC on a full device (/dev/full), saying nothing was written', async () => {
    const { server, client } = await tcpPair();
    client.end(seededBytes('full', 100_000));
    const error = await rejection(receiveFile(server, '/dev/full', { flags: 'r+' }), { code: 'ENOSPC' });
    expect((error as { bytesReceived?: number }).bytesReceived).toBe(0);
  });

  it('rejects with EFBIG past the file size limit (prlimit --fsize), having written up to it', async () => {
    const limit = 300_000;
    const path = dir.file();
    // RLIMIT_FSIZE belongs to the process: the receive runs in one of its own.
    const script = `
      const net = require('node:net');
      const { receiveFile } = require(${JSON.stringify(`${process.cwd()}/dist/cjs/index.js`)});
      const server = net.createServer(async (socket) => {
        try { console.log(JSON.stringify(await receiveFile(socket, ${JSON.stringify(path)}))); }
        catch (e) { console.log(JSON.stringify({ code: e.code, bytesReceived: e.bytesReceived, backend: e.backend })); }
        process.exit(0);
      }).listen(0, '127.0.0.1', () => net.connect(server.address().port, '127.0.0.1').end(Buffer.alloc(${4 * MiB}, 7)));`;
    const child = spawn('prlimit', [`--fsize=${limit}`, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const r = await within(exited(child), 20_000, 'the limited process');
    expect(r.code, r.stderr).toBe(0);
    const outcome = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(outcome.code).toBe('EFBIG');
    expect(readFileSync(path).length).toBe(limit);
    expect(outcome.bytesReceived).toBe(limit);
  });

  it('writes into a character device (/dev/null) with the read/write copy', async () => {
    const { server, client } = await tcpPair();
    client.end(seededBytes('null', MiB));
    const result = await receiveFile(server, '/dev/null', { flags: 'r+' });
    expect(result).toEqual({ bytesReceived: MiB, backend: 'readwrite' });
  });

  it('reads a character device (/dev/zero) up to count', async () => {
    const path = dir.file();
    const fd = openSync('/dev/zero', 'r');
    try {
      const result = await receiveFile(fd, path, { count: MiB + 5 });
      expect(result.bytesReceived).toBe(MiB + 5);
      expectBytes(readFileSync(path), Buffer.alloc(MiB + 5), 'the file');
    } finally {
      closeSync(fd);
    }
  });

  it('reads a FIFO to its end, its writer another process', async () => {
    const fifo = dir.file('in.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const data = seededBytes('fifo-in', 2 * MiB);
    const source = dir.write(data);
    // Opened without blocking before the writer: a blocking open waits for
    // one. The writer gets its end as its stdout, so the FIFO has a writer
    // from the start (with none, a read says end of stream).
    const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const writeFd = openSync(fifo, constants.O_WRONLY);
      const writer = exited(spawn('cat', [source], { stdio: ['ignore', writeFd, 'inherit'] }));
      closeSync(writeFd);
      const path = dir.file();
      const result = await within(receiveFile(fd, path), 10_000, 'the receive from the FIFO');
      expect(result.bytesReceived).toBe(data.length);
      expectBytes(readFileSync(path), data, 'the file');
      expect((await within(writer, 5000, 'the writer')).code).toBe(0);
    } finally {
      closeSync(fd);
    }
  });

  it('writes into a FIFO whose reader is slow', async () => {
    const fifo = dir.file('out.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const reader = new net.Socket({ fd: readFd, readable: true, writable: false });
    const chunks: Buffer[] = [];
    reader.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      reader.pause();
      setTimeout(() => reader.resume(), 1);
    });
    const readerEnded = once(reader, 'end');
    const { server, client } = await tcpPair();
    const data = seededBytes('fifo-out', MiB);
    client.end(data);
    const result = await within(receiveFile(server, fifo, { flags: 'r+' }), 20_000, 'the receive into the FIFO');
    expect(result).toEqual({ bytesReceived: data.length, backend: 'splice' });
    await within(readerEnded, 20_000, "the FIFO reader's end");
    expectBytes(Buffer.concat(chunks), data, 'what the FIFO delivered');
    reader.destroy();
  });

  it('refuses a regular file as input: sendFile reads files', async () => {
    const fd = openSync(dir.write('x'), 'r');
    try {
      await rejection(receiveFile(fd, dir.file()), { class: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
    } finally {
      closeSync(fd);
    }
  });

  it('writes through a FileHandle, at offset', async () => {
    const { server, client } = await tcpPair();
    const path = dir.write(Buffer.alloc(10, 0x2e));
    const handle = await open(path, 'r+');
    try {
      client.end('abc');
      await receiveFile(server, handle, { offset: 4 });
      expect(readFileSync(path, 'latin1')).toBe('....abc...');
    } finally {
      await handle.close();
    }
  });
});

describe('receiveFile: arguments', () => {
  it.each([
    ['an input of the wrong type', () => receiveFile('socket' as never, '/tmp/x'), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['an output of the wrong type', () => receiveFile(3, {} as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['an empty path', () => receiveFile(3, ''), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['a negative count', () => receiveFile(3, '/tmp/x', { count: -1 }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['an unknown flag', () => receiveFile(3, '/tmp/x', { flags: 'x' as never }), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['an unknown backend', () => receiveFile(3, '/tmp/x', { backend: 'sendfile' as never }), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['a signal that is not one', () => receiveFile(3, '/tmp/x', { signal: {} as never }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['a descriptor out of range', () => receiveFile(-1, '/tmp/x'), RangeError, 'ERR_OUT_OF_RANGE'],
  ] as const)('rejects %s', async (_, call, errorClass, code) => {
    await rejection(call(), { class: errorClass, code });
  });

  it('rejects an aborted signal before opening anything', async () => {
    const { server } = await tcpPair();
    const path = dir.file();
    await rejection(receiveFile(server, path, { signal: AbortSignal.abort() }), { code: 'ABORT_ERR' });
    expect(() => fstatSync(openSync(path, 'r'))).toThrow(/ENOENT/);
  });
});

describe('receiveFile leaves nothing behind', () => {
  it('closes every descriptor it opened, pipes included, after receives that ended every way', async () => {
    // A first receive starts the driver (its epoll and eventfd stay).
    const warm = await tcpPair();
    warm.client.end('warm');
    await receiveFile(warm.server, dir.file());
    const before = openDescriptors();
    for (let i = 0; i < 6; i++) {
      const { server, client } = await tcpPair();
      const receiving = receiveFile(server, dir.file(), { count: i % 2 === 0 ? undefined : 1000 });
      if (i % 3 === 2) client.resetAndDestroy();
      else client.end(seededBytes(`leak-${i}`, 300 * KiB));
      await receiving.catch(() => {});
      server.destroy();
      client.destroy();
    }
    await sleep(50);
    expect(descriptorsOpenedSince(before)).toEqual([]);
  });

  it('runs receives in a child that exits on its own when they are done (the driver holds no ref)', async () => {
    const script = `
      const net = require('node:net');
      const { receiveFile } = require(${JSON.stringify(`${process.cwd()}/dist/cjs/index.js`)});
      const server = net.createServer(async (socket) => {
        const r = await receiveFile(socket, '/dev/null', { flags: 'r+' });
        console.log(r.bytesReceived);
        server.close();
      }).listen(0, '127.0.0.1', () => net.connect(server.address().port, '127.0.0.1').end(Buffer.alloc(1000)));`;
    const r = await within(runNode(script), 20_000, 'the child');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('1000');
  });
});

describe('receiveFile from any other readable stream (the stream path)', () => {
  /** A stream that gives `data` in chunks of 7000 bytes, one per turn, then ends unless told to stop. */
  function chunked(data: Buffer, stopAfter?: (stream: PassThrough) => void): PassThrough {
    const stream = new PassThrough();
    let at = 0;
    const next = () => {
      if (stream.destroyed) return;
      if (stopAfter && at >= 70_000) return stopAfter(stream);
      if (at >= data.length) return void stream.end();
      stream.write(data.subarray(at, (at += 7000)));
      setImmediate(next);
    };
    setImmediate(next);
    return stream;
  }

  it('receives it to its end, byte for byte', async () => {
    const data = seededBytes('readable', 500_000 + 3);
    const path = dir.file();
    expect(await within(receiveFile(chunked(data), path), 10_000, 'the receive')).toEqual({ bytesReceived: data.length, backend: 'stream' });
    expectBytes(readFileSync(path), data, 'the file');
  });

  it('stops at count mid-chunk; the rest stays readable on the stream', async () => {
    const data = seededBytes('readable-count', 100_000);
    const stream = chunked(data);
    const path = dir.file();
    expect(await receiveFile(stream, path, { count: 10_500 })).toEqual({ bytesReceived: 10_500, backend: 'stream' });
    expectBytes(readFileSync(path), data.subarray(0, 10_500), 'the file');
    expectBytes(Buffer.concat(await stream.toArray()), data.subarray(10_500), 'the rest, read from the stream');
  });

  it('rejects with ERR_STREAM_PREMATURE_CLOSE when the stream is destroyed before its end, the file holding what came', async () => {
    const data = seededBytes('readable-destroyed', 200_000);
    const path = dir.file();
    const error = await rejection<Error & { bytesReceived: number }>(receiveFile(chunked(data, (stream) => stream.destroy()), path), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
    // What the stream still buffered when destroyed is gone with it, as destroy() means.
    expect(error.bytesReceived).toBeGreaterThan(0);
    expect(error.bytesReceived).toBeLessThanOrEqual(70_000);
    expectBytes(readFileSync(path), data.subarray(0, error.bytesReceived), 'the file');
  });

  it("rejects with the stream's own error, and the bytes written before it", async () => {
    const data = seededBytes('readable-failed', 200_000);
    const failure = Object.assign(new Error('upstream failed'), { code: 'EUPSTREAM' });
    const path = dir.file();
    const error = await rejection<Error & { bytesReceived: number }>(receiveFile(chunked(data, (stream) => stream.destroy(failure)), path), { code: 'EUPSTREAM' });
    expect(error).toBe(failure);
    expect(error.bytesReceived).toBeGreaterThan(0);
    expectBytes(readFileSync(path), data.subarray(0, error.bytesReceived), 'the file');
  });
});
