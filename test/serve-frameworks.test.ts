// serveFile and serveStatic where people use them: Express and Fastify (each
// serving through them), HTTPS (the head and body through sendFile's stream
// backend, TLS intact) and HTTP/2 (the compatibility API, through the
// response's own write()): the same statuses and headers everywhere.
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import { join } from 'node:path';
import * as tls from 'node:tls';
import express, { type Response as ExpressResponse } from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities, fastifyServeStatic, serveFile, serveStatic, type ServeResult, type StaticHandler } from '../dist/cjs/index.js';
import { countOpenDescriptors } from './support/descriptors.js';
import { makeServeFixtures, type ServeFixtures } from './support/files.js';
import { drained, listen, parseResponses, rawExchange, rawRequest, request, type Running } from './support/http.js';
import { findCommand } from './support/processes.js';
import { makeSelfSignedCertificate } from './support/tls.js';
import { eventually } from './support/waiting.js';

let fx: ServeFixtures;
let root: string;

beforeAll(() => {
  fx = makeServeFixtures();
  root = join(fx.path, 'public');
  mkdirSync(join(root, 'docs'), { recursive: true });
  writeFileSync(join(root, 'hello.txt'), 'hello\n');
  writeFileSync(join(root, 'data.bin'), fx.data);
  writeFileSync(join(root, 'docs', 'index.html'), '<title>docs</title>\n');
});
afterAll(() => fx?.remove());

/** Multipart/byteranges body as serveFile frames it, for comparing bytes. */
function multipartBody(boundary: string, type: string, size: number, data: Buffer, ranges: [number, number][]): Buffer {
  const parts = ranges.map(([start, end], i) =>
    Buffer.concat([
      Buffer.from(`${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${start}-${end}/${size}\r\n\r\n`),
      data.subarray(start, end + 1),
    ]),
  );
  return Buffer.concat([...parts, Buffer.from(`\r\n--${boundary}--\r\n`)]);
}

describe('Express', () => {
  let server: Running;
  let files: StaticHandler;
  beforeAll(async () => {
    const app = express();
    files = serveStatic(root, { maxAge: 60_000 });
    app.get('/download/data', (req, res, next) => {
      res.setHeader('Content-Disposition', 'attachment; filename="data.bin"');
      serveFile(req, res, join(fx.path, 'data.bin')).catch(next);
    });
    app.use('/static', files);
    app.post('/static/hello.txt', (_req, res) => void res.status(201).send('posted'));
    app.use((_req, res) => void res.status(418).send('fell through'));
    server = await listen(app.listen(0, '127.0.0.1'));
  });
  afterAll(async () => {
    await server?.close();
    await files?.close();
  });

  it('serves a file with serveFile in a route', async () => {
    const r = await request(`${server.url}/download/data`);
    expect(r.status).toBe(200);
    expect(r.body.equals(fx.data)).toBe(true);
    expect(r.headers['content-disposition']).toBe('attachment; filename="data.bin"');
    expect(r.headers['accept-ranges']).toBe('bytes');
    const part = await request(`${server.url}/download/data`, { headers: { Range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.body.equals(fx.data.subarray(10, 20))).toBe(true);
  });

  it('serves a folder with serveStatic as middleware under a mount path', async () => {
    const r = await fetch(`${server.url}/static/hello.txt`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('hello\n');
    expect(r.headers.get('cache-control')).toBe('public, max-age=60');
    expect(r.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const range = await fetch(`${server.url}/static/data.bin`, { headers: { Range: 'bytes=-100' } });
    expect(range.status).toBe(206);
    expect(Buffer.from(await range.arrayBuffer()).equals(fx.data.subarray(-100))).toBe(true);
    const head = await fetch(`${server.url}/static/data.bin`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe('300000');
    const etag = head.headers.get('etag')!;
    expect((await fetch(`${server.url}/static/data.bin`, { headers: { 'If-None-Match': etag } })).status).toBe(304);
  });

  it('redirects a directory to the mounted URL with a slash, and falls through to the next handler', async () => {
    const moved = await fetch(`${server.url}/static/docs?x=1`, { redirect: 'manual' });
    expect(moved.status).toBe(301);
    expect(moved.headers.get('location')).toBe('/static/docs/?x=1');
    expect(await (await fetch(`${server.url}/static/docs`)).text()).toBe('<title>docs</title>\n');
    const missing = await fetch(`${server.url}/static/missing.txt`);
    expect(missing.status).toBe(418);
    expect(await missing.text()).toBe('fell through');
    const post = await fetch(`${server.url}/static/hello.txt`, { method: 'POST' });
    expect(post.status).toBe(201);
    expect((await fetch(`${server.url}/static/../secret`)).status).not.toBe(200);
  });
});

describe("Express's 404 and error handlers, with refusals: 'reject'", () => {
  let server: Running;
  const seen: { status?: number; code?: string; expose?: boolean }[] = [];
  beforeAll(async () => {
    const app = express();
    app.get('/reports/:name', (req, res, next) => {
      serveFile(req, res, req.params.name, { root, refusals: 'reject' }).catch(next);
    });
    app.get('/answered/:name', (req, res, next) => {
      serveFile(req, res, req.params.name, { root }).catch(next);
    });
    app.use((err: { status?: number; code?: string; expose?: boolean }, _req: unknown, res: ExpressResponse, _next: unknown) => {
      seen.push({ status: err.status, code: err.code, expose: err.expose });
      res.status(err.status ?? 500).type('html').send(`<h1>custom ${err.status}</h1>`);
    });
    server = await listen(app.listen(0, '127.0.0.1'));
  });
  afterAll(async () => {
    await server?.close();
  });

  it("hands a refusal to the app's error handler as res.sendFile does, having written nothing", async () => {
    const ok = await request(`${server.url}/reports/hello.txt`);
    expect([ok.status, ok.body.toString()]).toEqual([200, 'hello\n']);
    const missing = await request(`${server.url}/reports/nope.txt`);
    expect([missing.status, missing.headers['content-type'], missing.body.toString()]).toEqual([404, 'text/html; charset=utf-8', '<h1>custom 404</h1>']);
    const hidden = await request(`${server.url}/reports/.env`);
    expect([hidden.status, hidden.body.toString()]).toEqual([404, '<h1>custom 404</h1>']);
    expect(seen).toEqual([
      { status: 404, code: 'ENOENT', expose: true },
      { status: 404, code: undefined, expose: true },
    ]);
  });

  it("answers refusals itself without it, as on node:http", async () => {
    const missing = await request(`${server.url}/answered/nope.txt`);
    expect([missing.status, missing.headers['content-type'], missing.body.toString()]).toEqual([404, 'text/plain; charset=utf-8', 'Not Found\n']);
  });
});

describe('Fastify', () => {
  let app: FastifyInstance;
  let url: string;
  const results: ServeResult[] = [];
  beforeAll(async () => {
    app = Fastify();
    await app.register(fastifyServeStatic, { root, prefix: '/static', maxAge: 1000 });
    app.get('/download/data', async (request, reply) => {
      reply.hijack();
      results.push(await serveFile(request.raw, reply.raw, join(fx.path, 'data.bin')));
    });
    app.get('/json', async () => ({ ok: true }));
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('serves a file with serveFile after reply.hijack()', async () => {
    const r = await request(`${url}/download/data`);
    expect(r.status).toBe(200);
    expect(r.body.equals(fx.data)).toBe(true);
    await eventually(() => results.length === 1, 'serveFile to resolve');
    expect(results[0]).toEqual({ statusCode: 200, bytesSent: 300000, backend: capabilities().backends[0] });
    const parts = await request(`${url}/download/data`, { headers: { Range: 'bytes=0-1,5-6' } });
    const boundary = /boundary=(\w+)/.exec(parts.headers['content-type']!)![1];
    expect(parts.body.equals(multipartBody(boundary, 'application/octet-stream', 300000, fx.data, [[0, 1], [5, 6]]))).toBe(true);
  });

  it('serves a folder under a prefix with the fastifyServeStatic plugin', async () => {
    const r = await fetch(`${url}/static/hello.txt`);
    expect(await r.text()).toBe('hello\n');
    expect(r.headers.get('cache-control')).toBe('public, max-age=1');
    expect(r.headers.get('etag')).toBeTruthy();
    const range = await fetch(`${url}/static/data.bin`, { headers: { Range: 'bytes=5-9' } });
    expect(range.status).toBe(206);
    expect(Buffer.from(await range.arrayBuffer()).equals(fx.data.subarray(5, 10))).toBe(true);
    const head = await fetch(`${url}/static/hello.txt`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('6');
    expect((await fetch(`${url}/static/missing.txt`)).status).toBe(404);
    // (fetch() would resolve the dot segments itself: a raw request keeps them.)
    const port = new URL(url).port;
    const hostile = await rawExchange(Number(port), rawRequest('/static/%2e%2e/%2e%2e/etc/passwd'), 1);
    expect(hostile.responses[0].status).toBe(403);
    const docs = await fetch(`${url}/static/docs`, { redirect: 'manual' });
    expect(docs.headers.get('location')).toBe('/static/docs/');
    const top = await fetch(`${url}/static`, { redirect: 'manual' });
    expect(top.status).toBe(301);
    expect(top.headers.get('location')).toBe('/static/');
    expect(await (await fetch(`${url}/static/docs/`)).text()).toBe('<title>docs</title>\n');
    // The rest of the app is untouched.
    expect(await (await fetch(`${url}/json`)).json()).toEqual({ ok: true });
  });
});

describe('Fastify allowedPath', () => {
  let app: FastifyInstance;
  let url: string;
  const judged: string[] = [];
  beforeAll(async () => {
    mkdirSync(join(root, 'private'), { recursive: true });
    writeFileSync(join(root, 'private', 'secret.txt'), 'secret\n');
    app = Fastify();
    await app.register(fastifyServeStatic, {
      root,
      prefix: '/static',
      allowedPath: (pathname: string) => {
        judged.push(pathname);
        return !pathname.startsWith('/private');
      },
    });
    app.get('/files/*', (request, reply) => reply.sendFile((request.params as Record<string, string>)['*']));
    app.get('/down/*', (request, reply) => reply.download((request.params as Record<string, string>)['*']));
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app?.close();
  });

  // Fastify decodes the wildcard: reply.sendFile() gets `public.txt?/../private/secret.txt`,
  // `%zz/../private/secret.txt`, `a\\/../private/secret.txt`, and must judge the path it serves.
  const BYPASSES = ['hello.txt%3F/../private/secret.txt', 'hello.txt%23/../private/secret.txt', '%25zz/../private/secret.txt', 'a%5C/../private/secret.txt', 'x%25/../private/secret.txt', 'x%3F%23%25/./../private/./secret.txt'];
  it.each(['files', 'down'])('reply.%s judges exactly the path it would serve, however the name is spelt', async (route) => {
    for (const path of BYPASSES) {
      judged.length = 0;
      const r = await rawExchange(Number(new URL(url).port), rawRequest(`/${route}/${path}`), 1);
      const [response] = r.responses;
      expect([path, response.status], response.body.toString()).toEqual([path, 404]);
      expect(response.body.toString()).not.toBe('secret\n');
      expect(judged, path).toEqual(['/private/secret.txt']);
    }
    judged.length = 0;
    const fine = (await rawExchange(Number(new URL(url).port), rawRequest(`/${route}/docs/../hello.txt`), 1)).responses[0];
    expect([fine.status, fine.body.toString()]).toEqual([200, 'hello\n']);
    expect(judged).toEqual(['/hello.txt']);
  });

  it('judges the plugin route by the path it maps, and never waves an undecodable one through', async () => {
    for (const path of ['/static/private/secret.txt', '/static/docs/%2E%2E/private/secret.txt', '/static/private%2Fsecret.txt', '/static/%zz/../private/secret.txt', '/static/private/secret.txt%00']) {
      const r = (await rawExchange(Number(new URL(url).port), rawRequest(path), 1)).responses[0];
      expect([path, r.status < 400 ? r.status : 'refused']).toEqual([path, 'refused']);
      expect(r.body.toString()).not.toBe('secret\n');
    }
  });
});

describe('HTTPS', { skip: !findCommand('openssl') }, () => {
  let server: Running;
  let ca: Buffer;
  const results: ServeResult[] = [];
  beforeAll(async () => {
    const { key, cert } = await makeSelfSignedCertificate(fx.path);
    ca = cert;
    const files = serveStatic(root);
    server = await listen(
      https.createServer({ key, cert }, (req, res) => {
        if (req.url!.startsWith('/static/')) {
          req.url = req.url!.slice('/static'.length);
          return void files(req, res);
        }
        serveFile(req, res, join(fx.path, req.url!.slice(1))).then((r) => results.push(r), () => {});
      }),
      'https',
    );
  });
  afterAll(async () => server?.close());

  const fetchTls = (path: string, headers: Record<string, string> = {}) => request(`${server.url}${path}`, { ca, headers });

  it('sends head and body through the stream backend, with the same statuses and headers', async () => {
    const r = await fetchTls('/data.bin');
    expect(r.status).toBe(200);
    expect(r.body.equals(fx.data)).toBe(true);
    expect(r.headers['content-length']).toBe('300000');
    expect(r.headers['accept-ranges']).toBe('bytes');
    await eventually(() => results.length === 1, 'serveFile to resolve'); // on 'finish', maybe after the client has it all
    expect(results[0]).toEqual({ statusCode: 200, bytesSent: 300000, backend: 'stream' });
    const part = await fetchTls('/data.bin', { Range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe('bytes 100-199/300000');
    expect(part.body.equals(fx.data.subarray(100, 200))).toBe(true);
    const multi = await fetchTls('/small.txt', { Range: 'bytes=0-0,-1' });
    const boundary = /boundary=(\w+)/.exec(multi.headers['content-type'] as string)![1];
    expect(multi.body.equals(multipartBody(boundary, 'text/plain; charset=utf-8', 1024, fx.small, [[0, 0], [1023, 1023]]))).toBe(true);
    expect((await fetchTls('/data.bin', { 'If-None-Match': r.headers.etag as string })).status).toBe(304);
    expect((await fetchTls('/data.bin', { Range: 'bytes=400000-' })).status).toBe(416);
    expect((await fetchTls('/missing')).status).toBe(404);
    expect((await fetchTls('/static/docs/')).body.toString()).toBe('<title>docs</title>\n');
  });

  it('keeps pipelined requests in order on one TLS connection', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: server.port, ca, servername: 'localhost' });
    await once(socket, 'secureConnect');
    let received = Buffer.alloc(0);
    socket.on('data', (c) => (received = Buffer.concat([received, c])));
    socket.write(rawRequest('/data.bin') + rawRequest('/small.txt', { Range: 'bytes=1-2' }) + rawRequest('/nope') + rawRequest('/small.txt'));
    await eventually(() => parseResponses(received).responses.length === 4, 'four responses');
    const { responses, rest } = parseResponses(received);
    expect(responses.map((r) => r.status)).toEqual([200, 206, 404, 200]);
    expect(responses[0].body.equals(fx.data)).toBe(true);
    expect(responses[1].body.toString()).toBe('12');
    expect(responses[3].body.equals(fx.small)).toBe(true);
    expect(rest.length).toBe(0);
    socket.destroy();
  });
});

describe('HTTP/2', () => {
  let server: Running;
  let client: http2.ClientHttp2Session;
  const outcomes: { path: string; result?: ServeResult; error?: Error & { code?: string; bytesSent?: number } }[] = [];
  let files: StaticHandler;
  beforeAll(async () => {
    files = serveStatic(root);
    const h2 = http2.createServer();
    h2.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
      if (req.url.startsWith('/static/')) {
        req.url = req.url.slice('/static'.length);
        return void files(req, res);
      }
      const [pathname, query] = req.url.split('?');
      const path = pathname === '/big' ? fx.bigPath : join(fx.path, pathname.slice(1));
      const outcome: (typeof outcomes)[number] = { path: req.url };
      outcomes.push(outcome);
      // ?wrapped: a write() replaced by middleware (compression does so), which must see the body.
      if (query === 'wrapped') {
        const write = res.write.bind(res);
        res.write = ((chunk: Buffer, ...rest: never[]) => write(Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1'), ...rest)) as typeof res.write;
      }
      const signal = query === 'abort' ? AbortSignal.timeout(50) : undefined;
      // ?rooted: the URL path itself, kept inside the fixtures by root.
      const [file, options] = query === 'rooted' ? [pathname, { root: fx.path, maxAge: '1d' }] : [path, {}];
      serveFile(req, res, file, { signal, download: query === 'download' || undefined, ...options }).then(
        (r) => (outcome.result = r),
        (e) => (outcome.error = e),
      );
    });
    server = await listen(h2 as unknown as import('node:net').Server);
    client = http2.connect(server.url);
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
    await files?.close();
  });

  const h2get = (path: string, headers: http2.OutgoingHttpHeaders = {}, method = 'GET') =>
    new Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const stream = client.request({ ':path': path, ':method': method, ...headers });
      const chunks: Buffer[] = [];
      let head: http2.IncomingHttpHeaders;
      stream.on('response', (h) => (head = h));
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => resolve({ headers: head, body: Buffer.concat(chunks) }));
      stream.on('error', reject);
      stream.end();
    });

  it('answers through the compatibility API with the same statuses and headers', async () => {
    const r = await h2get('/data.bin');
    expect(r.headers[':status']).toBe(200);
    expect(r.body.equals(fx.data)).toBe(true);
    expect(r.headers['content-length']).toBe('300000');
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers.etag).toMatch(/^"493e0-[0-9a-f]+"$/);
    await eventually(() => outcomes.at(-1)?.result !== undefined, 'serveFile to resolve');
    expect(outcomes.at(-1)!.result).toEqual({ statusCode: 200, bytesSent: 300000, backend: expect.stringMatching(/^(response|memory)$/) });

    const part = await h2get('/data.bin', { range: 'bytes=1000-1999' });
    expect(part.headers[':status']).toBe(206);
    expect(part.headers['content-range']).toBe('bytes 1000-1999/300000');
    expect(part.body.equals(fx.data.subarray(1000, 2000))).toBe(true);

    const multi = await h2get('/data.bin', { range: 'bytes=0-9,100-109' });
    const boundary = /boundary=(\w+)/.exec(multi.headers['content-type'] as string)![1];
    const expected = multipartBody(boundary, 'application/octet-stream', 300000, fx.data, [[0, 9], [100, 109]]);
    expect(multi.headers['content-length']).toBe(String(expected.length));
    expect(multi.body.equals(expected)).toBe(true);

    expect((await h2get('/data.bin', { 'if-none-match': r.headers.etag as string })).headers[':status']).toBe(304);
    expect((await h2get('/data.bin', { 'if-match': '"nope"' })).headers[':status']).toBe(412);
    const unsatisfiable = await h2get('/data.bin', { range: 'bytes=300000-' });
    expect(unsatisfiable.headers[':status']).toBe(416);
    expect(unsatisfiable.headers['content-range']).toBe('bytes */300000');
    const head = await h2get('/data.bin', {}, 'HEAD');
    expect(head.headers[':status']).toBe(200);
    expect(head.headers['content-length']).toBe('300000');
    expect(head.body.length).toBe(0);
    expect((await h2get('/missing')).headers[':status']).toBe(404);
    expect((await h2get('/empty.txt')).headers['content-length']).toBe('0');
  });

  it('sends single ranges, multipart and wrapped responses through write(), byte for byte', async () => {
    const mark = outcomes.length;
    const tail = await h2get('/data.bin', { range: 'bytes=-70000' });
    expect(tail.headers[':status']).toBe(206);
    expect(tail.body.equals(fx.data.subarray(-70000))).toBe(true);
    const multi = await h2get('/small.txt', { range: 'bytes=0-1,10-11' });
    expect(multi.headers[':status']).toBe(206);
    const wrapped = await h2get('/small.txt?wrapped');
    expect(wrapped.body.toString()).toBe(fx.small.toString().toUpperCase());
    const download = await h2get('/data.bin?download');
    expect(download.headers['content-disposition']).toBe('attachment; filename=data.bin');
    expect(download.body.equals(fx.data)).toBe(true);
    await eventually(() => outcomes.slice(mark).every((o) => o.result), 'serveFile to resolve');
    // Read from the file, or from the copy the cache keeps once the first response has read it.
    const either = expect.stringMatching(/^(response|memory)$/);
    expect(outcomes.slice(mark).map((o) => [o.path, o.result!.backend, o.result!.bytesSent])).toEqual([
      ['/data.bin', either, 70000],
      ['/small.txt', either, Number(multi.headers['content-length'])],
      ['/small.txt?wrapped', either, 1024],
      ['/data.bin?download', either, 300000],
    ]);
  });

  it('answers from the contents the cache keeps once a first response has read them, byte for byte', async () => {
    writeFileSync(join(fx.path, 'fresh-h2.bin'), fx.data.subarray(0, 50_000));
    const mark = outcomes.length;
    const first = await h2get('/fresh-h2.bin');
    expect(first.body.equals(fx.data.subarray(0, 50_000))).toBe(true);
    await eventually(() => outcomes[mark]?.result !== undefined, 'serveFile to resolve');
    expect(outcomes[mark].result!.backend).toBe('response');
    await eventually(async () => {
      const r = await h2get('/fresh-h2.bin', { range: 'bytes=100-199' });
      expect(r.body.equals(fx.data.subarray(100, 200))).toBe(true);
      await eventually(() => outcomes.at(-1)?.result !== undefined, 'serveFile to resolve');
      return outcomes.at(-1)!.result!.backend === 'memory';
    }, 'a response from memory');
    expect(outcomes.at(-1)!.result).toEqual({ statusCode: 206, bytesSent: 100, backend: 'memory' });
    // A plain GET from memory goes to the stream itself: the same fields as the first response's.
    const again = await h2get('/fresh-h2.bin');
    await eventually(() => outcomes.at(-1)?.result !== undefined, 'serveFile to resolve');
    expect(outcomes.at(-1)!.result).toEqual({ statusCode: 200, bytesSent: 50_000, backend: 'memory' });
    expect(again.body.equals(fx.data.subarray(0, 50_000))).toBe(true);
    const fields = (h: http2.IncomingHttpHeaders) => Object.fromEntries(Object.entries(h).filter(([name]) => name !== 'date'));
    expect(fields(again.headers)).toEqual(fields(first.headers));
    expect(Object.keys(first.headers).sort()).toEqual([':status', 'accept-ranges', 'cache-control', 'content-length', 'content-type', 'date', 'etag', 'last-modified']);
  });

  it("takes serveFile's root and maxAge strings as on node:http", async () => {
    const r = await h2get('/small.txt?rooted');
    expect([r.headers[':status'], r.headers['cache-control']]).toEqual([200, 'public, max-age=86400']);
    expect(r.body.equals(fx.small)).toBe(true);
    expect((await h2get('/docs/../small.txt?rooted')).headers[':status']).toBe(200);
    const climb = await h2get('/../secret?rooted');
    expect([climb.headers[':status'], climb.body.toString()]).toEqual([403, 'Forbidden\n']);
  });

  it('stops a body when the signal aborts, and leaks no descriptor', async () => {
    await h2get('/big', {}, 'HEAD'); // the baseline with big.bin in serveFile's cache
    const before = countOpenDescriptors();
    const mark = outcomes.length;
    const stream = client.request({ ':path': '/big?abort' });
    stream.on('data', () => stream.pause()); // a reader that stops reading: the body waits on flow control
    stream.on('error', () => {});
    await eventually(() => outcomes.slice(mark).some((o) => o.error || o.result), 'serveFile to settle');
    expect(outcomes.slice(mark)[0].error?.name).toBe('AbortError');
    stream.destroy();
    await eventually(() => countOpenDescriptors() <= before, `descriptors back to ${before} (now ${countOpenDescriptors()})`);
  });

  it('serves serveStatic too, redirects included', async () => {
    expect((await h2get('/static/hello.txt')).body.toString()).toBe('hello\n');
    const moved = await h2get('/static/docs');
    expect(moved.headers[':status']).toBe(301);
    expect(moved.headers.location).toBe('/docs/'); // req.url as the handler saw it
    expect((await h2get('/static/%2e%2e/x')).headers[':status']).toBe(403);
  });

  it('ends the transfer when the client cancels the stream, leaking no descriptor', async () => {
    await h2get('/small.txt');
    // serveFile keeps a file it served open for the next request: the
    // descriptor of /big belongs to the count before the transfer.
    await h2get('/big', {}, 'HEAD');
    const before = countOpenDescriptors();
    const mark = outcomes.length;
    const stream = client.request({ ':path': '/big' });
    await once(stream, 'data');
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await eventually(() => outcomes.slice(mark).some((o) => o.error || o.result), 'serveFile to settle');
    const outcome = outcomes.slice(mark)[0];
    // The bytes the stream had taken before its reset: far from the whole file.
    expect(outcome.error?.code).toBe('ERR_STREAM_DESTROYED');
    expect(outcome.error?.bytesSent).toBeTypeOf('number');
    expect(outcome.error?.bytesSent).toBeLessThan(fx.bigSize);
    await eventually(() => countOpenDescriptors() <= before, `descriptors back to ${before} (now ${countOpenDescriptors()})`);
    // The session goes on.
    expect((await h2get('/small.txt')).body.equals(fx.small)).toBe(true);
  });
});

// A guard for the helpers themselves: servers above close every connection.
it('leaves no connection behind', async () => {
  const s = await listen((await import('node:http')).createServer((req, res) => void serveFile(req, res, join(fx.path, 'small.txt'))));
  await request(`${s.url}/`);
  await s.close();
  await drained(s.server);
});
