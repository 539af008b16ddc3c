// receiveFile(req, path) with node:http's server (and Express, and HTTPS):
// a Content-Length body read from the socket past the parser, which then
// knows of it, so the request ends as Node expects ('end', no stray 'data')
// and the connection serves the next request, pipelined or not; chunked
// and TLS bodies through the stream path, with the same result; bodies cut
// short, counts short of the body or past it, a full output, an aborted
// upload. scripts/test-node-matrix.js runs this file on Node 22, 24 and 26
// too: what it relies on in node:http is written down in
// src/http/request-body.ts.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { receiveFile, type ReceiveFileOptions, type ReceiveFileResult } from '../dist/cjs/index.js';
import { expectBytes, MiB, seededBytes } from './support/bytes.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { listen, parseResponses, type ParsedResponse, type Running } from './support/http.js';
import { makeSelfSignedCertificate } from './support/tls.js';
import { rejection, sleep, within } from './support/waiting.js';

let dir: TempDir;
let running: Running | undefined;

beforeAll(() => {
  dir = makeTempDir('zerocopy-receive-http-');
});
afterAll(() => dir.remove());
afterEach(async () => {
  await running?.close();
  running = undefined;
});

interface Upload {
  path: string;
  result?: ReceiveFileResult;
  error?: Error & { code?: string; bytesReceived?: number };
  /** 'data' events the request emitted besides what receiveFile took. */
  stray: number;
  /** Whether the request emitted 'end'. */
  ended: boolean;
}

/**
 * A node:http server whose handler receives each request's body into a
 * file of its own with `options`, then answers with the file's SHA-256 and
 * the backend (or 500 with the error's code).
 */
async function uploadServer(options: (req: http.IncomingMessage) => ReceiveFileOptions = () => ({})): Promise<{ port: number; uploads: Upload[] }> {
  const uploads: Upload[] = [];
  const server = http.createServer(async (req, res) => {
    const upload: Upload = { path: dir.file(), stray: 0, ended: false };
    uploads.push(upload);
    req.on('data', (chunk: Buffer) => (upload.stray += chunk.length));
    const ended = once(req, 'end').then(() => (upload.ended = true));
    // A request cut short emits 'error' (Node 24 on) and no 'end': awaited only after a receive that succeeded.
    ended.catch(() => {});
    try {
      upload.result = await receiveFile(req, upload.path, options(req));
      await within(ended, 5000, "the request's end");
      const digest = createHash('sha256').update(readFileSync(upload.path)).digest('hex');
      res.end(`${upload.result.backend} ${upload.result.bytesReceived} ${digest}`);
    } catch (error) {
      upload.error = error as Upload['error'];
      res.statusCode = 500;
      res.end(String((error as { code?: string }).code));
    }
  });
  running = await listen(server);
  return { port: running.port, uploads };
}

/** Writes `parts` on one connection (each when the previous is written), and collects `count` responses. */
async function exchange(port: number, parts: (Buffer | string)[], count: number, gapMs = 0): Promise<ParsedResponse[]> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  const responses = new Promise<ParsedResponse[]>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const { responses } = parseResponses(Buffer.concat(chunks));
      if (responses.length >= count) resolve(responses);
    });
    socket.on('close', () => reject(new Error(`closed after ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 500))}`)));
  });
  responses.catch(() => {});
  await once(socket, 'connect');
  for (const part of parts) {
    if (!socket.write(part)) await once(socket, 'drain');
    if (gapMs) await sleep(gapMs);
  }
  try {
    return await within(responses, 15_000, 'the responses');
  } finally {
    socket.destroy();
  }
}

const head = (length: number | undefined, extra = '') =>
  `PUT /upload HTTP/1.1\r\nHost: localhost\r\n${length === undefined ? '' : `Content-Length: ${length}\r\n`}${extra}\r\n`;
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('receiveFile(req, path) with node:http', () => {
  it('splices bodies of pipelined requests into files; each request ends and the next is answered on the same connection', async () => {
    const { port, uploads } = await uploadServer();
    const bodies = [seededBytes('pipelined-0', 3 * MiB + 5), seededBytes('pipelined-1', 700_000), seededBytes('pipelined-2', 10)];
    const responses = await exchange(port, bodies.flatMap((body) => [head(body.length), body]), 3);
    expect(responses.map((r) => r.body.toString())).toEqual(bodies.map((b) => `splice ${b.length} ${sha(b)}`));
    for (const [i, upload] of uploads.entries()) {
      expectBytes(readFileSync(upload.path), bodies[i], `upload ${i}`);
      expect({ stray: upload.stray, ended: upload.ended }).toEqual({ stray: 0, ended: true });
    }
  });

  it('takes what the parser read with the head first, then the rest from the socket, sent in pieces', async () => {
    const { port, uploads } = await uploadServer();
    const body = seededBytes('pieces', 400_000);
    const responses = await exchange(port, [Buffer.concat([Buffer.from(head(body.length)), body.subarray(0, 30_000)]), body.subarray(30_000, 200_000), body.subarray(200_000)], 1, 20);
    expect(responses[0].body.toString()).toBe(`splice ${body.length} ${sha(body)}`);
    expectBytes(readFileSync(uploads[0].path), body, 'the file');
  });

  it('answers Expect: 100-continue, then receives the body', async () => {
    const { port, uploads } = await uploadServer();
    const body = seededBytes('continue', 500_000);
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(head(body.length, 'Expect: 100-continue\r\n'));
    const [first] = (await once(socket, 'data')) as [Buffer];
    expect(first.toString('latin1')).toMatch(/^HTTP\/1\.1 100 Continue\r\n/);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.write(body);
    await within(
      (async () => {
        while (parseResponses(Buffer.concat(chunks)).responses.length === 0) await sleep(10);
      })(),
      10_000,
      'the response',
    );
    expect(parseResponses(Buffer.concat(chunks)).responses[0].body.toString()).toBe(`splice ${body.length} ${sha(body)}`);
    expectBytes(readFileSync(uploads[0].path), body, 'the file');
    socket.destroy();
  });

  it('with a count short of the body, leaves the rest to the request, and the connection goes on', async () => {
    const rest: Buffer[] = [];
    const uploads: Upload[] = [];
    const server = http.createServer(async (req, res) => {
      const path = dir.file();
      const result = await receiveFile(req, path, { count: Math.min(100_000, Number(req.headers['content-length'])) });
      uploads.push({ path, result, stray: 0, ended: false });
      req.on('data', (chunk: Buffer) => rest.push(chunk));
      // A body taken whole has ended already (an empty one, here).
      if (!req.readableEnded) await once(req, 'end');
      res.end(`${result.bytesReceived}`);
    });
    running = await listen(server);
    const body = seededBytes('short-count', 300_000);
    const responses = await exchange(running.port, [head(body.length), body, head(0)], 2);
    expect(responses.map((r) => r.body.toString())).toEqual(['100000', '0']);
    expectBytes(readFileSync(uploads[0].path), body.subarray(0, 100_000), 'the file');
    expectBytes(Buffer.concat(rest.slice(0, rest.length)), body.subarray(100_000), "the rest, as the request's own data");
  });

  it('with a count past the body, rejects with ERR_STREAM_PREMATURE_CLOSE after the whole body, and the connection goes on', async () => {
    const { port, uploads } = await uploadServer(() => ({ count: 500_000 }));
    const body = seededBytes('long-count', 200_000);
    const responses = await exchange(port, [head(body.length), body, head(3), 'abc'], 2);
    expect(responses[0].status).toBe(500);
    expect(responses[0].body.toString()).toBe('ERR_STREAM_PREMATURE_CLOSE');
    expect(uploads[0].error?.bytesReceived).toBe(body.length);
    expectBytes(readFileSync(uploads[0].path), body, 'the first file');
    expect(responses[1].status).toBe(500);
    expect(uploads[1].error?.bytesReceived).toBe(3);
  });

  it('fails on a full output (/dev/full) with ENOSPC; the server answers, and the connection serves the next request', async () => {
    let n = 0;
    const server = http.createServer(async (req, res) => {
      try {
        const r = await receiveFile(req, n++ === 0 ? '/dev/full' : dir.file(), { flags: n === 1 ? 'r+' : 'w' });
        res.end(`ok ${r.bytesReceived}`);
      } catch (error) {
        res.statusCode = 507;
        res.end((error as { code?: string }).code);
      }
    });
    running = await listen(server);
    const body = seededBytes('full', 2 * MiB);
    const responses = await exchange(running.port, [head(body.length), body, head(5), 'hello'], 2);
    expect(responses.map((r) => [r.status, r.body.toString()])).toEqual([
      [507, 'ENOSPC'],
      [200, 'ok 5'],
    ]);
  });

  it('reads a chunked body through the stream path, with the same result', async () => {
    const { port, uploads } = await uploadServer();
    const body = seededBytes('chunked', 300_000);
    const chunked = Buffer.concat([Buffer.from(`${(100_000).toString(16)}\r\n`), body.subarray(0, 100_000), Buffer.from(`\r\n${(200_000).toString(16)}\r\n`), body.subarray(100_000), Buffer.from('\r\n0\r\n\r\n')]);
    const responses = await exchange(port, [head(undefined, 'Transfer-Encoding: chunked\r\n'), chunked, head(2), 'hi'], 2);
    expect(responses[0].body.toString()).toBe(`stream ${body.length} ${sha(body)}`);
    expect(responses[1].body.toString()).toBe(`splice 2 ${sha(Buffer.from('hi'))}`);
    expect(uploads[0].stray).toBe(0);
  });

  it('rejects an upload cut short by the client, and keeps serving', async () => {
    const { port, uploads } = await uploadServer();
    const body = seededBytes('cut', MiB);
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write(head(body.length));
    socket.write(body.subarray(0, 300_000), () => setTimeout(() => socket.resetAndDestroy(), 30));
    const deadline = Date.now() + 5000;
    while (!uploads[0]?.error && Date.now() < deadline) await sleep(10);
    expect(['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED']).toContain(uploads[0].error?.code);
    const got = readFileSync(uploads[0].path);
    expect(uploads[0].error?.bytesReceived).toBe(got.length);
    expectBytes(got, body.subarray(0, got.length), 'the file (a prefix)');
    const next = await exchange(port, [head(3), 'abc'], 1);
    expect(next[0].body.toString()).toBe(`splice 3 ${sha(Buffer.from('abc'))}`);
  });

  it('reads the rest of a body someone has already read from through the stream path', async () => {
    const uploads: Upload[] = [];
    const server = http.createServer(async (req, res) => {
      const first = ((await once(req, 'data')) as [Buffer])[0];
      req.pause();
      const path = dir.file();
      const result = await receiveFile(req, path);
      uploads.push({ path, result, stray: first.length, ended: true });
      res.end(`${result.backend} ${first.length + result.bytesReceived}`);
    });
    running = await listen(server);
    const body = seededBytes('read-from', 500_000);
    const responses = await exchange(running.port, [head(body.length), body], 1);
    expect(responses[0].body.toString()).toBe(`stream ${body.length}`);
    expectBytes(Buffer.concat([body.subarray(0, uploads[0].stray), readFileSync(uploads[0].path)]), body, 'what was read and the file');
  });
});

describe('receiveFile(req, path) with Express and with HTTPS', () => {
  it('takes a PUT in an Express handler', async () => {
    const app = express();
    app.use('/files', async (req, res) => {
      const path = dir.file(req.url!.slice(1));
      const { bytesReceived, backend } = await receiveFile(req, path);
      res.status(201).send(JSON.stringify({ bytesReceived, backend }));
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    running = { port: (server.address() as net.AddressInfo).port, url: '', server, close: () => new Promise<void>((done) => (server.closeAllConnections(), server.close(() => done()))) };
    const body = seededBytes('express', MiB);
    const responses = await exchange(running.port, [`PUT /files/e.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\n\r\n`, body], 1);
    expect(responses[0].status).toBe(201);
    expect(JSON.parse(responses[0].body.toString())).toEqual({ bytesReceived: body.length, backend: 'splice' });
    expectBytes(readFileSync(dir.file('e.bin')), body, 'the file');
  });

  it('reads an HTTPS body through the stream path', async () => {
    const cert = await makeSelfSignedCertificate(dir.path);
    const paths: string[] = [];
    const server = https.createServer(cert, async (req, res) => {
      const path = dir.file();
      paths.push(path);
      const result = await receiveFile(req, path);
      res.end(`${result.backend} ${result.bytesReceived}`);
    });
    running = await listen(server, 'https');
    const body = seededBytes('https', 700_000);
    const answer = await new Promise<string>((resolve, reject) => {
      const req = https.request(`${running!.url}/`, { method: 'PUT', ca: cert.cert, headers: { 'content-length': body.length } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(answer).toBe(`stream ${body.length}`);
    expectBytes(readFileSync(paths[0]), body, 'the file');
  });

  it('rejects, before anything is read, a receive of a request whose backend cannot read its socket', async () => {
    const errors: unknown[] = [];
    const server = http.createServer(async (req, res) => {
      errors.push(await rejection(receiveFile(req, dir.file(), { backend: 'splice' }), { class: TypeError, code: 'ERR_INVALID_ARG_VALUE' }));
      req.resume();
      res.end('refused');
    });
    running = await listen(server);
    const responses = await exchange(running.port, [head(undefined, 'Transfer-Encoding: chunked\r\n'), '3\r\nabc\r\n0\r\n\r\n'], 1);
    expect(responses[0].body.toString()).toBe('refused');
    expect(errors).toHaveLength(1);
  });
});
