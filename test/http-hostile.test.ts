// Hostile HTTP clients against serveFile and serveStatic: slow-loris
// requests, clients that never read, huge or malformed Range and If-*
// headers, NUL bytes, over-long and badly escaped paths. Every answer is a
// status below 500, no handler throws or rejects, the server keeps serving
// others, and no descriptor is left open (the open-file cache is off here,
// so that every descriptor a request opens must be closed by its end).
import * as http from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveFile, serveStatic } from '../dist/cjs/index.js';
import { expectNoDescriptorLeak, openDescriptors } from './support/descriptors.js';
import { makeServeFixtures, type ServeFixtures } from './support/files.js';
import { listen, partsOf, rawExchange, rawRequest, type Running } from './support/http.js';
import { closed } from './support/sockets.js';
import { eventually, within } from './support/waiting.js';

let fx: ServeFixtures;
/** Anything a handler threw or rejected with: must stay empty. */
const handlerFailures: unknown[] = [];
/** serveFile's settled rejections, by code: a client that left is an expected one. */
const serveFileErrors: { code?: string }[] = [];
let fileServer: Running;
let staticServer: Running;

beforeAll(async () => {
  fx = makeServeFixtures();
  // serveFile: the URL's query names the file (?big for the 64 MiB one).
  fileServer = await listen(
    http.createServer((req, res) => {
      const file = req.url?.endsWith('?big') ? fx.bigPath : join(fx.path, 'data.bin');
      try {
        serveFile(req, res, file, { cache: false }).catch((error: { code?: string }) => serveFileErrors.push(error));
      } catch (error) {
        handlerFailures.push(error);
      }
    }),
  );
  const handler = serveStatic(fx.path, { cache: false });
  staticServer = await listen(
    http.createServer((req, res) => {
      try {
        handler(req, res).catch((error) => handlerFailures.push(error));
      } catch (error) {
        handlerFailures.push(error);
      }
    }),
  );
  // The addon starts its driver thread (and its wake-up pipe) on the first
  // transfer: before any descriptor count is taken.
  expect((await ask(fileServer.port, rawRequest('/data.bin'))).status).toBe(200);
});

afterAll(async () => {
  await fileServer?.close();
  await staticServer?.close();
  fx?.remove();
  expect(handlerFailures).toEqual([]);
});

/** One raw request on its own connection; resolves with the status (0 when the server closed without answering) and body. */
async function ask(port: number, request: string): Promise<{ status: number; body: Buffer; headers: Record<string, string> }> {
  const { responses } = await rawExchange(port, request, 1, [request.startsWith('HEAD')]);
  const [r] = responses;
  return r ? { status: r.status, body: r.body, headers: r.headers } : { status: 0, body: Buffer.alloc(0), headers: {} };
}

/** Asserts that a 206's parts are the bytes of `file` their Content-Range headers name. */
function expectTrueParts(response: { headers: Record<string, string>; body: Buffer }, file: Buffer, what: string): void {
  for (const part of partsOf(response)) {
    expect(part.size, what).toBe(file.length);
    expect(part.body.equals(file.subarray(part.start, part.end + 1)), `${what}: bytes ${part.start}-${part.end}`).toBe(true);
  }
}

const RANGES = [
  'bytes=abc',
  'bytes=5-1',
  'bytes=-',
  'bytes=--1',
  'bytes= 0 - 1',
  'items=0-1',
  'bytes=99999999999999999999999999-',
  'bytes=0-99999999999999999999999999',
  'bytes=-99999999999999999999999999',
  'bytes=1e3-2e3',
  'bytes=0x10-0x20',
  'bytes=0-0,-1',
  `bytes=${Array.from({ length: 1000 }, (_, i) => `${i}-${i}`).join(',')}`,
  `bytes=${Array.from({ length: 500 }, (_, i) => `${i * 7}-${i * 7 + 3}`).join(',')}`,
  `bytes=${'0-'.repeat(3000)}`,
  'bytes=\u00ff-\u00fe',
  `bytes=0-${'9'.repeat(6000)}`,
];

const CONDITIONS: Record<string, string>[] = [
  { 'If-Modified-Since': 'yesterday' },
  { 'If-Modified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' },
  { 'If-Modified-Since': 'Fri, 31 Dec 9999 23:59:59 GMT' },
  { 'If-Unmodified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' },
  { 'If-Unmodified-Since': 'not a date' },
  { 'If-None-Match': '"' },
  { 'If-None-Match': `${'"x", '.repeat(2000)}"y"` },
  { 'If-None-Match': 'W/' },
  { 'If-Match': '"nope"' },
  { 'If-Match': ',,,,' },
  { 'If-Range': 'garbage', Range: 'bytes=0-10' },
  { 'If-Range': '"', Range: 'bytes=0-10' },
  { 'If-Range': 'W/"weak"', Range: 'bytes=0-10' },
  { 'If-Range': 'Fri, 31 Dec 9999 23:59:59 GMT', Range: 'bytes=0-10' },
];

describe('malformed and huge Range and If-* headers', () => {
  it.each([
    ['serveFile', () => fileServer.port, '/data.bin'],
    ['serveStatic', () => staticServer.port, '/data.bin'],
  ])('%s: every answer is 200, 206, 304, 412 or 416 with bytes of the file only', async (_name, port, path) => {
    const before = openDescriptors();
    for (const range of RANGES) {
      const r = await ask(port(), rawRequest(path, { Range: range }));
      const what = `Range: ${range.slice(0, 60)}`;
      expect([200, 206, 416], what).toContain(r.status);
      if (r.status === 200) expect(r.body.equals(fx.data), what).toBe(true);
      if (r.status === 206) expectTrueParts(r, fx.data, what);
      if (r.status === 416) expect(r.headers['content-range'], what).toBe(`bytes */${fx.data.length}`);
    }
    for (const headers of CONDITIONS) {
      const r = await ask(port(), rawRequest(path, headers));
      expect([200, 206, 304, 412], JSON.stringify(headers).slice(0, 80)).toContain(r.status);
      if (r.status === 200) expect(r.body.equals(fx.data)).toBe(true);
      if (r.status === 206) expectTrueParts(r, fx.data, JSON.stringify(headers));
    }
    // Headers too large for Node's parser never reach the handler: 431.
    const huge = await ask(port(), rawRequest(path, { Range: `bytes=${'0-1,'.repeat(6000)}0-1` }));
    expect(huge.status).toBe(431);
    await expectNoDescriptorLeak(before);
  });
});

describe('hostile paths to serveStatic', () => {
  it('invalid escapes, NUL, encoded separators and over-long paths get 4xx, never 5xx', async () => {
    const paths: [string, number[]][] = [
      ['/%', [400]],
      ['/%zz', [400]],
      ['/%E0%A4%A', [400]],
      ['/data.bin%00', [400]],
      ['/%00', [400]],
      ['/data.bin%00.html', [400]],
      ['/..%2fdata.bin', [400]],
      ['/%2e%2e/%2e%2e/etc/passwd', [403]],
      ['/..%5c..%5cetc%5cpasswd', [400]],
      [`/${'a'.repeat(300)}`, [404]],
      [`/${'a/'.repeat(3000)}x`, [404]],
      [`/${'%41'.repeat(4000)}`, [404]],
      [`/${'%ff'.repeat(100)}`, [400]],
      ['/\u00e9\u00e8', [400, 404]],
    ];
    for (const [path, statuses] of paths) {
      const r = await ask(staticServer.port, `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
      expect(statuses, `${path.slice(0, 60)} answered ${r.status}`).toContain(r.status);
    }
    // A request line beyond Node's header limit is refused by Node itself.
    const tooLong = await ask(staticServer.port, `GET /${'b'.repeat(20_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    expect([414, 431]).toContain(tooLong.status);
  });
});

describe('clients that hold connections', () => {
  it('slow-loris clients dribbling their heads do not stop others being served, and go on the headers timeout', async () => {
    // Node checks for overdue heads every connectionsCheckingInterval.
    const options = { headersTimeout: 1000, requestTimeout: 1500, connectionsCheckingInterval: 200 };
    const server = http.createServer(options, (req, res) => void serveFile(req, res, join(fx.path, 'small.txt')).catch(() => {}));
    const running = await listen(server);
    const loris: Socket[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        const s = connect(running.port, '127.0.0.1');
        s.on('error', () => {});
        s.write('GET /small.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ');
        loris.push(s);
      }
      const dribble = setInterval(() => loris.forEach((s) => s.writable && s.write('a')), 100);
      try {
        const r = await within(ask(running.port, rawRequest('/small.txt')), 5000, 'a normal request among slow-loris clients');
        expect(r.status).toBe(200);
        expect(r.body.equals(fx.small)).toBe(true);
        // Node ends each of them (408 or a plain close) once its head is overdue.
        await within(Promise.all(loris.map((s) => closed(s))), 10_000, 'the slow-loris connections to be closed');
      } finally {
        clearInterval(dribble);
      }
    } finally {
      for (const s of loris) s.destroy();
      await running.close();
    }
  });

  it.each(['serveStatic', 'serveFile'])('a client pipelining 40 000 requests and never reading is stopped being read, as node:http stops one (%s)', async (which) => {
    // node:http pauses a connection once its queued responses pass the
    // socket's highWaterMark; a body sent outside Node's own writes must
    // count there too, or every request of the flood is parsed and queued.
    let seen = 0;
    const files = serveStatic(fx.path, { cache: false });
    const server = http.createServer((req, res) => {
      seen++;
      if (which === 'serveStatic') void files(req, res);
      else serveFile(req, res, fx.bigPath, { cache: false }).catch(() => {});
    });
    const running = await listen(server);
    const before = openDescriptors();
    const client = connect(running.port, '127.0.0.1');
    client.on('error', () => {});
    client.pause();
    try {
      const flood = rawRequest('/big.bin', { 'User-Agent': 'flood' }).repeat(40_000);
      client.write(flood);
      // Node reads 64 KiB at a time and parses what it read before it
      // pauses: about 1000 of these requests each time.
      await eventually(() => seen > 0, 'the first request');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(seen, `requests that reached the handler of ${40_000}`).toBeLessThan(4000);
      client.destroy();
      await expectNoDescriptorLeak(before, 5000);
    } finally {
      client.destroy();
      await running.close();
      await files.close();
    }
  });

  it('clients that never read: their transfers wait on the driver, end on the socket timeout, and leave nothing open', async () => {
    const outcomes: { code?: string }[] = [];
    const server = http.createServer((req, res) => {
      if (req.url === '/small') return void serveFile(req, res, join(fx.path, 'small.txt'));
      serveFile(req, res, fx.bigPath, { cache: false }).then(
        () => outcomes.push({ code: 'completed' }),
        (error: { code?: string }) => outcomes.push(error),
      );
    });
    server.setTimeout(600); // idle sockets are destroyed
    const running = await listen(server);
    const before = openDescriptors();
    const clients: Socket[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const s = connect(running.port, '127.0.0.1');
        s.on('error', () => {});
        s.pause(); // never reads: the 64 MiB body fills the buffers, then waits
        s.write(rawRequest('/big.bin'));
        clients.push(s);
      }
      // Meanwhile others are served at once.
      const r = await within(ask(running.port, rawRequest('/small')), 5000, 'a request while twenty clients do not read');
      expect(r.body.equals(fx.small)).toBe(true);
      await eventually(() => outcomes.length === 20, () => `all twenty stalled responses to end on the timeout (${outcomes.length} did)`, 15_000);
      expect(outcomes.filter((o) => o.code === 'completed')).toEqual([]);
      for (const o of outcomes) expect(['ERR_STREAM_DESTROYED', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE']).toContain(o.code);
      for (const s of clients) s.destroy();
      await expectNoDescriptorLeak(before, 5000);
    } finally {
      for (const s of clients) s.destroy();
      await running.close();
    }
  });
});
