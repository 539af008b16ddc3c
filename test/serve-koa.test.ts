// Koa: koaServeStatic in koa-static's place, and serveFile inside a Koa
// middleware as the README's recipe writes it. A real Koa application on
// loopback, raw responses.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { koaServeStatic, serveFile, type KoaMiddleware } from '../dist/cjs/index.js';
import { makeServeFixtures, type ServeFixtures } from './support/files.js';
import { listen, one, rawExchange, type Running } from './support/http.js';

let fx: ServeFixtures;
let root: string;
let server: Running;
let files: KoaMiddleware;
let mounted: KoaMiddleware;

beforeAll(async () => {
  fx = makeServeFixtures();
  root = join(fx.path, 'public');
  mkdirSync(join(root, 'docs'), { recursive: true });
  writeFileSync(join(root, 'hello.txt'), 'hello\n');
  writeFileSync(join(root, 'data.bin'), fx.data);
  writeFileSync(join(root, '.env'), 'SECRET\n');
  writeFileSync(join(root, 'docs', 'index.html'), '<title>docs</title>\n');
  writeFileSync(join(fx.path, 'secret.txt'), 'SECRET\n');
  writeFileSync(join(root, 'page.html'), '<title>page</title>\n');
  writeFileSync(join(root, 'page.html.br'), 'BROTLI PAGE');
  writeFileSync(join(root, 'page.html.gz'), 'GZIP PAGE');

  const app = new Koa();
  files = koaServeStatic(root, { maxAge: '1h' });
  mounted = koaServeStatic(root);
  app.use(async (ctx, next) => {
    ctx.set('X-Upstream', 'yes'); // set before the file is served: kept
    await next();
  });
  // The README's recipe: serveFile in a Koa middleware.
  app.use(async (ctx, next) => {
    if (ctx.path !== '/download' && ctx.path !== '/download-missing') return next();
    ctx.respond = false; // serveFile writes the response itself
    ctx.status = 200; // Koa starts every response at 404, and serveFile keeps a status set before it
    await serveFile(ctx.req, ctx.res, join(fx.path, ctx.path === '/download' ? 'data.bin' : 'missing.bin'), { download: 'data.bin' });
  });
  // What koa-mount does: the path below the mount point, originalUrl untouched.
  app.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/static/') && ctx.path !== '/static') return next();
    const path = ctx.path;
    ctx.path = path.slice('/static'.length) || '/';
    try {
      await mounted(ctx, next);
    } finally {
      ctx.path = path;
    }
  });
  app.use(files);
  app.use(async (ctx) => {
    ctx.status = 418;
    ctx.body = `downstream ${ctx.method} ${ctx.path}`;
  });
  server = await listen(app.listen(0, '127.0.0.1'));
});

afterAll(async () => {
  await server?.close();
  await files?.close();
  await mounted?.close();
  fx?.remove();
});


describe('koaServeStatic', () => {
  it('answers files with ranges, conditional requests and HEAD, keeping headers set upstream', async () => {
    const r = await one(server, '/data.bin');
    expect(r.status).toBe(200);
    expect(r.body.equals(fx.data)).toBe(true);
    expect(r.headers['cache-control']).toBe('public, max-age=3600');
    expect(r.headers['x-upstream']).toBe('yes');
    const part = await one(server, '/data.bin', { Range: 'bytes=100-199' });
    expect([part.status, part.headers['content-range']]).toEqual([206, 'bytes 100-199/300000']);
    expect(part.body.equals(fx.data.subarray(100, 200))).toBe(true);
    expect((await one(server, '/data.bin', { 'If-None-Match': r.headers.etag })).status).toBe(304);
    const head = await one(server, '/hello.txt', {}, 'HEAD');
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([200, '6', 0]);
    expect((await one(server, '/docs/')).body.toString()).toBe('<title>docs</title>\n');
  });

  it('passes misses, hidden dotfiles and other methods to next()', async () => {
    for (const [path, method] of [
      ['/missing.txt', 'GET'],
      ['/.env', 'GET'],
      ['/hello.txt', 'POST'],
    ]) {
      const r = await one(server, path, { 'Content-Length': '0' }, method);
      expect([r.status, r.body.toString()]).toEqual([418, `downstream ${method} ${path}`]);
    }
  });

  it('throws other refusals for Koa to answer', async () => {
    const climb = await rawExchange(server.port, 'GET /../secret.txt HTTP/1.1\r\nHost: localhost\r\n\r\n', 1);
    expect(climb.responses[0].status).toBe(403);
    expect(climb.responses[0].body.toString()).toBe('Forbidden');
    expect((await one(server, '/%zz')).status).toBe(400);
  });

  it('works below a mount point: paths below it, redirects keeping it', async () => {
    expect((await one(server, '/static/hello.txt')).body.toString()).toBe('hello\n');
    const moved = await one(server, '/static/docs?x=1');
    expect([moved.status, moved.headers.location]).toEqual([301, '/static/docs/?x=1']);
    const top = await one(server, '/static');
    expect([top.status, top.headers.location]).toEqual([301, '/static/']);
  });
});

describe('serveFile inside Koa', () => {
  it('answers with the file as the README recipe writes it', async () => {
    const r = await one(server, '/download');
    expect(r.status).toBe(200);
    expect(r.body.equals(fx.data)).toBe(true);
    expect(r.headers['content-disposition']).toBe('attachment; filename=data.bin');
    const part = await one(server, '/download', { Range: 'bytes=-10' });
    expect(part.body.equals(fx.data.subarray(-10))).toBe(true);
  });

  it('gives every status it writes its own reason phrase, though Koa set "OK" with its 200', async () => {
    const r = await one(server, '/download');
    const cases: [Record<string, string>, number, string][] = [
      [{}, 200, 'OK'],
      [{ Range: 'bytes=0-9' }, 206, 'Partial Content'],
      [{ 'If-None-Match': r.headers.etag }, 304, 'Not Modified'],
      [{ 'If-Match': '"other"' }, 412, 'Precondition Failed'],
      [{ Range: 'bytes=300000-' }, 416, 'Range Not Satisfiable'],
    ];
    for (const [headers, status, reason] of cases) {
      const response = await one(server, '/download', headers);
      expect([response.status, response.reason]).toEqual([status, reason]);
    }
    expect([(await one(server, '/download-missing')).status, (await one(server, '/download-missing')).reason]).toEqual([404, 'Not Found']);
  });
});

describe("koaServeStatic's defaults", () => {
  it("serves .br and .gz siblings to clients that accept them, as koa-static's brotli and gzip options do", async () => {
    const br = await one(server, '/page.html', { 'Accept-Encoding': 'br, gzip' });
    expect([br.status, br.headers['content-encoding'], br.body.toString()]).toEqual([200, 'br', 'BROTLI PAGE']);
    const gz = await one(server, '/page.html', { 'Accept-Encoding': 'gzip' });
    expect([gz.headers['content-encoding'], gz.body.toString()]).toEqual(['gzip', 'GZIP PAGE']);
    const plain = await one(server, '/page.html');
    expect([plain.headers['content-encoding'], plain.body.toString()]).toEqual([undefined, '<title>page</title>\n']);
  });
});
