// serveFile's options that send and Express users reach for: maxAge as an
// `ms` string, downloads with a Content-Disposition any file name fits in,
// headers and a setHeaders hook, a status set before the file is served, and
// what a 304 leaves out. Real servers on loopback, raw responses.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { parse as parseDisposition } from 'content-disposition';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveFile, type ServeFileOptions } from '../dist/cjs/index.js';
import { FileRoutes } from './support/file-routes.js';
import { makeServeFixtures, type ServeFixtures } from './support/files.js';
import { httpServer, one, type Running } from './support/http.js';

let fx: ServeFixtures;
let server: Running;
const routes = new FileRoutes({ answerRejections: true });
/** A route serving `file` (default small.txt) with `options`, `before` run on the response first. */
const route = (options: ServeFileOptions, before?: (res: ServerResponse) => void, file?: string) => routes.route(file ?? join(fx.path, 'small.txt'), options, before);

beforeAll(async () => {
  fx = makeServeFixtures();
  server = await httpServer((req, res) => void routes.handler(req, res));
});
afterAll(async () => {
  await server?.close();
  fx?.remove();
});

const req = { headers: {} } as IncomingMessage;
const res = { setHeader() {} } as unknown as ServerResponse;

describe('maxAge', () => {
  it('takes milliseconds or an ms string, floors to seconds and caps at a year, Infinity included', async () => {
    const cases: [ServeFileOptions['maxAge'], string][] = [
      ['1d', 'public, max-age=86400'],
      ['2 hours', 'public, max-age=7200'],
      ['30d', 'public, max-age=2592000'],
      ['2y', 'public, max-age=31536000'],
      [Infinity, 'public, max-age=31536000'],
      [123_956, 'public, max-age=123'],
      [0, 'public, max-age=0'],
    ];
    for (const [maxAge, expected] of cases) expect((await one(server, route({ maxAge }))).headers['cache-control'], String(maxAge)).toBe(expected);
    expect((await one(server, route({ maxAge: '1h', immutable: true }))).headers['cache-control']).toBe('public, max-age=3600, immutable');
  });

  it('refuses what is not a duration', async () => {
    for (const maxAge of ['nonsense', '', '-1h', -1, NaN, 'x'.repeat(200), null, true]) {
      await expect(serveFile(req, res, 'x', { maxAge: maxAge as number }), String(maxAge)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    }
  });
});

describe('download', () => {
  it('names the file as an attachment, its own name or the one given, non-ASCII names included', async () => {
    const own = await one(server, route({ download: true }));
    expect(own.status).toBe(200);
    expect(own.body.equals(fx.small)).toBe(true);
    expect(parseDisposition(own.headers['content-disposition'])).toEqual({ type: 'attachment', parameters: { filename: 'small.txt' } });

    const russian = await one(server, route({ download: 'отчёт за год.txt' }));
    const header = russian.headers['content-disposition'];
    expect(header).toMatch(/^[\x20-\x7e]+$/); // what a header may carry
    expect(header).toContain("filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%20%D0%B7%D0%B0%20%D0%B3%D0%BE%D0%B4.txt");
    expect(parseDisposition(header).parameters.filename).toBe('отчёт за год.txt');

    const quoted = await one(server, route({ download: 'say "hi".txt' }));
    expect(parseDisposition(quoted.headers['content-disposition']).parameters.filename).toBe('say "hi".txt');
    // Only the last segment of a path is a file name.
    const path = await one(server, route({ download: 'reports/2024/q1.csv' }));
    expect(parseDisposition(path.headers['content-disposition']).parameters.filename).toBe('q1.csv');
  });

  it('is dropped from an error', async () => {
    const missing = await one(server, route({ download: true }, undefined, join(fx.path, 'missing.txt')));
    expect(missing.status).toBe(404);
    expect(missing.headers['content-disposition']).toBeUndefined();
  });

  it('refuses what is not a name', async () => {
    for (const download of [42, '', {}]) {
      await expect(serveFile(req, res, 'x', { download: download as string })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    }
  });
});

describe('headers and setHeaders', () => {
  it('set headers on every file served, winning over the computed ones', async () => {
    const r = await one(server, route({ headers: { 'X-Frame-Options': 'DENY', 'Cache-Control': 'no-store', 'Set-Cookie': ['a=1', 'b=2'] } }));
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.head).toContain('Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n');
  });

  it('setHeaders sees the path and stat, and its headers win', async () => {
    const seen: [string, number][] = [];
    const r = await one(server, 
      route({
        maxAge: '1d',
        setHeaders: (response, path, stat) => {
          seen.push([path, stat.size]);
          response.setHeader('Cache-Control', 'private');
          response.setHeader('X-Size', String(stat.size));
        },
      }),
    );
    expect(seen).toEqual([[join(fx.path, 'small.txt'), 1024]]);
    expect(r.headers['cache-control']).toBe('private');
    expect(r.headers['x-size']).toBe('1024');
  });

  it('are not run for a file that is not there', async () => {
    let called = false;
    const r = await one(server, route({ headers: { 'X-Custom': 'set' }, setHeaders: () => (called = true) }, undefined, join(fx.path, 'nope')));
    expect(r.status).toBe(404);
    expect(r.headers['x-custom']).toBeUndefined();
    expect(called).toBe(false);
  });

  it('refuses a setHeaders that is not a function, and headers that are not an object', async () => {
    await expect(serveFile(req, res, 'x', { setHeaders: 3 as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(serveFile(req, res, 'x', { headers: 'x' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });
});

describe('a status set before the file is served', () => {
  it('is kept, with the whole file as its body, as `res.status(404).sendFile()` keeps it', async () => {
    const page = route({}, (response) => (response.statusCode = 404), join(fx.path, 'page.html'));
    const r = await one(server, page);
    expect(r.status).toBe(404);
    expect(r.body.toString()).toBe('<!doctype html><title>page</title>\n');
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    // No 304 and no 206 for what is not a 200.
    expect((await one(server, page, { 'If-None-Match': r.headers.etag })).status).toBe(404);
    const ranged = await one(server, page, { Range: 'bytes=0-3' });
    expect([ranged.status, ranged.body.length]).toEqual([404, r.body.length]);
    expect((await one(server, page, {}, 'HEAD')).status).toBe(404);
  });
});

describe('304 Not Modified', () => {
  it('drops Content-Type, Content-Length, Content-Language and Content-Encoding, and keeps the other headers', async () => {
    const path = route({}, (response) => {
      response.setHeader('Content-Language', 'en-US');
      response.setHeader('Content-Location', 'http://localhost/small.txt');
      response.setHeader('Content-Security-Policy', "default-src 'self'");
    });
    const full = await one(server, path);
    expect(full.headers['content-language']).toBe('en-US');
    const r = await one(server, path, { 'If-None-Match': full.headers.etag });
    expect(r.status).toBe(304);
    for (const name of ['content-type', 'content-length', 'content-language', 'content-encoding']) expect(r.headers[name], name).toBeUndefined();
    expect(r.headers['content-location']).toBe('http://localhost/small.txt');
    expect(r.headers['content-security-policy']).toBe("default-src 'self'");
  });
});
