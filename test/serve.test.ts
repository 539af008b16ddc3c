// serveFile over node:http: real servers on loopback, real clients (a raw
// socket where exact bytes matter, node:http, curl), every status and header
// it promises, keep-alive and pipelining, clients that leave, and the one TCP
// segment a small response fits in.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { fstatSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities, serveFile, type ServeFileOptions } from '../dist/cjs/index.js';
import { expectBytes, MiB } from './support/bytes.js';
import { FileRoutes } from './support/file-routes.js';
import { countOpenDescriptors, epollWatches } from './support/descriptors.js';
import { makeServeFixtures, type ServeFixtures } from './support/files.js';
import { curl, drained, httpServer, one, parseResponses, rawExchange, rawRequest, request, type Running } from './support/http.js';
import { findCommand } from './support/processes.js';
import { connect as connectTcp, setSocketBuffers, startServer, tcpInfo } from './support/sockets.js';
import { eventually, within } from './support/waiting.js';

let fx: ServeFixtures;
let server: Running;
const routes = new FileRoutes({ unrouted: (path) => join(fx.path, decodeURIComponent(path)) });
const route = (path: string, file: string | URL, options?: ServeFileOptions, before?: (res: ServerResponse) => void) => routes.route(file, options, before, path.slice(1));
const outcomeOf = (path: string, since?: number) => routes.outcomeOf(path, since);
const outcomes = routes.outcomes;

beforeAll(async () => {
  fx = makeServeFixtures();
  server = await httpServer((req, res) => void routes.handler(req, res));
});
afterAll(async () => {
  await server?.close();
  fx?.remove();
});


describe('status and headers', () => {
  it('answers 200 with the file, its length, type, validators and caching headers, through sendFile', async () => {
    const r = await one(server, '/small.txt');
    const st = statSync(join(fx.path, 'small.txt'));
    expect(r.status).toBe(200);
    expect(r.body.equals(fx.small)).toBe(true);
    expect(r.headers['content-length']).toBe('1024');
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r.headers['last-modified']).toBe(st.mtime.toUTCString());
    expect(r.headers.etag).toBe(`"${st.size.toString(16)}-${st.mtime.getTime().toString(16)}"`);
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers['cache-control']).toBe('public, max-age=0');
    expect(r.headers.date).toBeDefined();
    expect(r.headers['transfer-encoding']).toBeUndefined();
    const { result } = await outcomeOf('/small.txt');
    // A small file the cache keeps open goes from a mapping, with its head in one writev.
    expect(result).toEqual({ statusCode: 200, bytesSent: 1024, backend: capabilities().native ? 'mmap' : capabilities().backends[0] });
  });

  it('sends a file above the mapped size by sendfile, and the same file uncached the same way', async () => {
    const large = route('/large', join(fx.path, 'data.bin'));
    expect((await one(server, large)).body.equals(fx.data)).toBe(true);
    expect((await outcomeOf(large)).result).toEqual({ statusCode: 200, bytesSent: 300000, backend: capabilities().backends[0] });
    const uncached = route('/uncached', join(fx.path, 'small.txt'), { cache: false });
    expect((await one(server, uncached)).body.equals(fx.small)).toBe(true);
    expect((await outcomeOf(uncached)).result).toEqual({ statusCode: 200, bytesSent: 1024, backend: capabilities().backends[0] });
  });

  it('sends the head byte for byte: latin1 values, and a head too long to hand over as a string', async () => {
    const accented = route('/accented', join(fx.path, 'small.txt'), undefined, (res) => res.setHeader('X-Name', 'caf\u00e9 \u00ff'));
    const r = await one(server, accented);
    expect(r.headers['x-name']).toBe('caf\u00e9 \u00ff');
    expect(r.body.equals(fx.small)).toBe(true);
    // 20,000 bytes of cookie: past what the addon takes as a string, so it goes as bytes.
    const cookie = `k=${'v'.repeat(20_000)}`;
    const long = route('/long-head', join(fx.path, 'small.txt'), undefined, (res) => res.setHeader('Set-Cookie', cookie));
    const l = await one(server, long);
    expect(l.headers['set-cookie']).toBe(cookie);
    expect(l.body.equals(fx.small)).toBe(true);
    expect((await outcomeOf(long)).result).toEqual({ statusCode: 200, bytesSent: 1024, backend: capabilities().native ? 'mmap' : capabilities().backends[0] });
  });

  it('names types from the extension, with a charset for text, and octet-stream when unknown', async () => {
    expect((await one(server, '/page.html')).headers['content-type']).toBe('text/html; charset=utf-8');
    expect((await one(server, '/style.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await one(server, '/data.bin')).headers['content-type']).toBe('application/octet-stream');
    expect((await one(server, '/noext')).headers['content-type']).toBe('application/octet-stream');
    const typed = route('/typed', join(fx.path, 'noext'), { contentType: 'text/x-custom' });
    expect((await one(server, typed)).headers['content-type']).toBe('text/x-custom');
  });

  it('sets Cache-Control from maxAge and immutable, and leaves out what the options turn off', async () => {
    const cached = route('/cached', join(fx.path, 'small.txt'), { maxAge: 3_600_000, immutable: true });
    expect((await one(server, cached)).headers['cache-control']).toBe('public, max-age=3600, immutable');
    const year = route('/year', join(fx.path, 'small.txt'), { maxAge: 10 * 365 * 86_400_000 });
    expect((await one(server, year)).headers['cache-control']).toBe('public, max-age=31536000');
    const weak = route('/weak', join(fx.path, 'small.txt'), { etag: 'weak' });
    expect((await one(server, weak)).headers.etag).toMatch(/^W\/"400-[0-9a-f]+"$/);
    const bare = route('/bare', join(fx.path, 'small.txt'), { etag: false, lastModified: false, cacheControl: false, acceptRanges: false });
    const r = await one(server, bare);
    expect(r.status).toBe(200);
    for (const name of ['etag', 'last-modified', 'cache-control', 'accept-ranges']) expect(r.headers[name]).toBeUndefined();
    expect((await one(server, bare, { Range: 'bytes=0-1' })).status).toBe(200);
  });

  it('keeps headers the caller set on res, and they win', async () => {
    const own = route('/own', join(fx.path, 'small.txt'), undefined, (res) => {
      res.setHeader('Content-Type', 'application/x-mine');
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('ETag', '"mine"');
      res.setHeader('X-Extra', 'kept');
      res.setHeader('Content-Length', '5'); // framing is serveFile's: ignored
    });
    const r = await one(server, own);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/x-mine');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers.etag).toBe('"mine"');
    expect(r.headers['x-extra']).toBe('kept');
    expect(r.headers['content-length']).toBe('1024');
    expect(r.body.equals(fx.small)).toBe(true);
    // The caller's validator is the one conditional requests are checked against.
    expect((await one(server, own, { 'If-None-Match': '"mine"' })).status).toBe(304);
    expect((await one(server, own, { 'If-Match': '"mine"' })).status).toBe(200);
  });

  it('sets every field through a setHeader that middleware replaced, and leaves them readable on res', async () => {
    const names: string[] = [];
    let after: Record<string, unknown> = {};
    const watched = route('/watched', join(fx.path, 'small.txt'), undefined, (res) => {
      const setHeader = res.setHeader.bind(res);
      res.setHeader = ((name: string, value: string) => {
        names.push(name.toLowerCase());
        return setHeader(name, value);
      }) as typeof res.setHeader;
      res.once('finish', () => (after = res.getHeaders()));
    });
    const r = await one(server, watched);
    expect(r.body.equals(fx.small)).toBe(true);
    expect(names.sort()).toEqual(['accept-ranges', 'cache-control', 'content-length', 'content-type', 'etag', 'last-modified']);
    for (const name of names) expect(String(after[name])).toBe(r.headers[name]);
    // The same file on a plain response: the same fields, read back the same way.
    const plain = route('/plain-fields', join(fx.path, 'small.txt'), undefined, (res) => res.once('finish', () => (after = res.getHeaders())));
    const p = await one(server, plain);
    expect(Object.keys(after).sort()).toEqual(names);
    for (const name of names) expect(String(after[name])).toBe(p.headers[name]);
    // And once more: a second response of the same file reads back its own fields, and they cannot change.
    let second: ServerResponse | undefined;
    const again = route('/plain-again', join(fx.path, 'small.txt'), undefined, (res) => (second = res));
    expect((await one(server, again)).body.equals(fx.small)).toBe(true);
    await outcomeOf(again);
    expect(second!.getHeader('content-length')).toBe('1024');
    expect(second!.hasHeader('ETag')).toBe(true);
    expect(() => second!.setHeader('Content-Length', '1')).toThrow(expect.objectContaining({ code: 'ERR_HTTP_HEADERS_SENT' }));
    expect(second!.getHeader('content-length')).toBe('1024');
  });

  it('sends every field through a response whose write and end middleware wrapped, with no field set before', async () => {
    let wrote = 0;
    const wrapped = route('/wrapped-write', join(fx.path, 'small.txt'), undefined, (res) => {
      const write = res.write.bind(res) as (chunk: Buffer) => boolean;
      const end = res.end.bind(res) as (chunk?: Buffer) => ServerResponse;
      res.write = ((chunk: Buffer) => {
        wrote += chunk.length;
        return write(chunk);
      }) as typeof res.write;
      res.end = ((chunk?: Buffer) => end(chunk)) as typeof res.end;
    });
    const r = await one(server, wrapped);
    const st = statSync(join(fx.path, 'small.txt'));
    expect(r.body.equals(fx.small)).toBe(true);
    expect(wrote).toBe(1024);
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r.headers['content-length']).toBe('1024');
    expect(r.headers.etag).toBe(`"${st.size.toString(16)}-${st.mtime.getTime().toString(16)}"`);
    expect(r.headers['last-modified']).toBe(st.mtime.toUTCString());
  });

  it('answers HEAD with the GET headers and no body', async () => {
    const { responses, raw } = await rawExchange(server.port, [rawRequest('/data.bin', {}, 'HEAD'), rawRequest('/small.txt')], 2, [true, false]);
    expect(responses[0].status).toBe(200);
    expect(responses[0].headers['content-length']).toBe('300000');
    expect(responses[0].headers.etag).toBeDefined();
    // Nothing between the HEAD response's head and the next response.
    expect(raw.length).toBe(responses[0].head.length + responses[1].head.length + 1024);
    expect(responses[1].body.equals(fx.small)).toBe(true);
  });

  it('answers an empty file with 200 and Content-Length: 0', async () => {
    const r = await one(server, '/empty.txt');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe('0');
    expect(r.body.length).toBe(0);
  });

  it('answers 404 for a missing file, a directory and a FIFO, and resolves', async () => {
    for (const path of ['/missing.txt', '/docs', '/small.txt/x']) {
      const r = await one(server, path);
      expect(r.status, path).toBe(404);
      expect(r.body.toString()).toBe('Not Found\n');
      expect((await outcomeOf(path)).result?.statusCode).toBe(404);
    }
    if (findCommand('mkfifo')) {
      execFileSync('mkfifo', [join(fx.path, 'fifo')]);
      expect((await one(server, '/fifo')).status).toBe(404); // and did not hang opening it
    }
  });

  it('answers 404 for a Unix-domain socket in the folder, and resolves (open(2) of a socket fails with ENXIO)', async () => {
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(join(fx.path, 'app.sock'), resolve));
    try {
      const r = await one(server, '/app.sock');
      expect(r.status).toBe(404);
      expect((await outcomeOf('/app.sock')).result?.statusCode).toBe(404);
    } finally {
      listener.close();
    }
  });

  it('takes a file: URL', async () => {
    const url = route('/by-url', pathToFileURL(join(fx.path, 'small.txt')));
    expect((await one(server, url)).body.equals(fx.small)).toBe(true);
  });

  it('rejects when the response has already sent its headers, and checks its arguments', async () => {
    const sent = route('/sent', join(fx.path, 'small.txt'), undefined, (res) => res.flushHeaders());
    // The flushed head has no Content-Length: the client waits for a body
    // that never comes; the rejection is what matters.
    const socket = connect(server.port, '127.0.0.1');
    socket.write(rawRequest(sent));
    expect((await outcomeOf(sent)).error?.code).toBe('ERR_HTTP_HEADERS_SENT');
    socket.destroy();
    await expect(serveFile({} as IncomingMessage, {} as ServerResponse, 'x')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(serveFile({ headers: {} } as IncomingMessage, { setHeader() {} } as unknown as ServerResponse, 'x', { maxAge: -1 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
    });
  });
});

describe('conditional requests, in RFC 9110 order', () => {
  let tag: string;
  let modified: string;
  const later = () => new Date(Date.parse(modified) + 60_000).toUTCString();
  const earlier = () => new Date(Date.parse(modified) - 60_000).toUTCString();
  beforeAll(async () => {
    const r = await one(server, '/small.txt');
    tag = r.headers.etag;
    modified = r.headers['last-modified'];
  });

  it('If-None-Match that matches (weakly) is 304 with the validators and no body or type', async () => {
    for (const value of [tag, `W/${tag}`, `"other", ${tag}`, '*']) {
      const r = await one(server, '/small.txt', { 'If-None-Match': value });
      expect(r.status, value).toBe(304);
      expect(r.headers.etag).toBe(tag);
      expect(r.headers['last-modified']).toBe(modified);
      expect(r.headers['cache-control']).toBe('public, max-age=0');
      expect(r.headers['content-type']).toBeUndefined();
      expect(r.headers['content-length']).toBeUndefined();
    }
    expect((await one(server, '/small.txt', { 'If-None-Match': '"other"' })).status).toBe(200);
  });

  it('If-Modified-Since is 304 unless the file is newer, and is ignored beside If-None-Match', async () => {
    expect((await one(server, '/small.txt', { 'If-Modified-Since': modified })).status).toBe(304);
    expect((await one(server, '/small.txt', { 'If-Modified-Since': later() })).status).toBe(304);
    expect((await one(server, '/small.txt', { 'If-Modified-Since': earlier() })).status).toBe(200);
    expect((await one(server, '/small.txt', { 'If-Modified-Since': 'not a date' })).status).toBe(200);
    expect((await one(server, '/small.txt', { 'If-None-Match': '"other"', 'If-Modified-Since': later() })).status).toBe(200);
    expect((await one(server, '/small.txt', { 'If-None-Match': tag, 'If-Modified-Since': earlier() })).status).toBe(304);
  });

  it('are evaluated whatever the request says about caches (Cache-Control: no-cache)', async () => {
    expect((await one(server, '/small.txt', { 'If-None-Match': tag, 'Cache-Control': 'no-cache', Pragma: 'no-cache' })).status).toBe(304);
    expect((await one(server, '/small.txt', { 'Cache-Control': 'no-cache' })).status).toBe(200);
  });

  it('If-Match compares strongly and fails with 412', async () => {
    expect((await one(server, '/small.txt', { 'If-Match': tag })).status).toBe(200);
    expect((await one(server, '/small.txt', { 'If-Match': `"x", ${tag}` })).status).toBe(200);
    expect((await one(server, '/small.txt', { 'If-Match': '*' })).status).toBe(200);
    const failed = await one(server, '/small.txt', { 'If-Match': '"other"' });
    expect(failed.status).toBe(412);
    expect(failed.body.toString()).toBe('Precondition Failed\n');
    expect((await one(server, '/small.txt', { 'If-Match': `W/${tag}` })).status).toBe(412);
    const weak = route('/weak-match', join(fx.path, 'small.txt'), { etag: 'weak' });
    const weakTag = (await one(server, weak)).headers.etag;
    expect((await one(server, weak, { 'If-Match': weakTag })).status).toBe(412);
  });

  it('If-Unmodified-Since fails with 412 when the file is newer; If-Match takes its place when present', async () => {
    expect((await one(server, '/small.txt', { 'If-Unmodified-Since': earlier() })).status).toBe(412);
    expect((await one(server, '/small.txt', { 'If-Unmodified-Since': modified })).status).toBe(200);
    expect((await one(server, '/small.txt', { 'If-Unmodified-Since': 'garbage' })).status).toBe(200);
    expect((await one(server, '/small.txt', { 'If-Match': tag, 'If-Unmodified-Since': earlier() })).status).toBe(200);
  });

  it('If-Unmodified-Since without Last-Modified (lastModified: false) compares the whole second the file was modified in', async () => {
    // Modified half a second into second T: a date can only say T, and the
    // file has not been modified since T as far as a client can tell.
    const T = 1_700_000_000;
    const path = join(fx.path, 'modified-mid-second.txt');
    writeFileSync(path, 'mid-second\n');
    utimesSync(path, T, T + 0.5);
    const noDate = route('/no-last-modified', path, { lastModified: false });
    const at = (seconds: number) => new Date(seconds * 1000).toUTCString();
    const r = await one(server, noDate, { 'If-Unmodified-Since': at(T) });
    expect([r.status, r.headers['last-modified'], r.body.toString()]).toEqual([200, undefined, 'mid-second\n']);
    expect((await one(server, noDate, { 'If-Unmodified-Since': at(T + 1) })).status).toBe(200);
    expect((await one(server, noDate, { 'If-Unmodified-Since': at(T - 1) })).status).toBe(412);
  });

  it('compares validators only with those the response sends (etag: false, lastModified: false)', async () => {
    const noTag = route('/no-etag', join(fx.path, 'small.txt'), { etag: false });
    const noDate = route('/no-date', join(fx.path, 'small.txt'), { lastModified: false });
    // The file's own tag and date (as the default route sends them) match nothing the response says.
    const untagged = await one(server, noTag, { 'If-None-Match': tag });
    expect([untagged.status, untagged.headers.etag]).toEqual([200, undefined]);
    expect((await one(server, noTag, { 'If-Match': tag })).status).toBe(412);
    expect((await one(server, noTag, { 'If-None-Match': '"other"' }, 'DELETE')).status).toBe(200);
    expect((await one(server, noTag, { 'If-None-Match': '*' }, 'DELETE')).status).toBe(412);
    const undated = await one(server, noDate, { 'If-Modified-Since': later() });
    expect([undated.status, undated.headers['last-modified']]).toEqual([200, undefined]);
    const ranged = await one(server, noDate, { Range: 'bytes=0-9', 'If-Range': modified });
    expect([ranged.status, ranged.body.length]).toEqual([200, fx.small.length]);
  });

  it('checks 412 before 304', async () => {
    expect((await one(server, '/small.txt', { 'If-Match': '"other"', 'If-None-Match': tag })).status).toBe(412);
    expect((await one(server, '/small.txt', { 'If-Unmodified-Since': earlier(), 'If-None-Match': tag })).status).toBe(412);
  });

  it('If-None-Match that matches on another method is 412', async () => {
    expect((await one(server, '/small.txt', { 'If-None-Match': tag }, 'DELETE')).status).toBe(412);
    expect((await one(server, '/small.txt', { 'If-Modified-Since': later() }, 'DELETE')).status).toBe(200);
  });
});

describe('Range', () => {
  const range = async (value: string, headers: Record<string, string> = {}, path = '/data.bin') => one(server, path, { Range: value, ...headers });

  it('answers one range with 206, Content-Range and exactly those bytes', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=1000-1000', 1000, 1000],
      ['bytes=299000-', 299000, 299999],
      ['bytes=-500', 299500, 299999],
      ['bytes=299990-400000', 299990, 299999],
      // §14.1.3: a suffix longer than the file selects all of it.
      ['bytes=-400000', 0, 299999],
      ['bytes=0-', 0, 299999],
    ];
    for (const [value, start, end] of cases) {
      const r = await range(value);
      expect(r.status, value).toBe(206);
      expect(r.headers['content-range']).toBe(`bytes ${start}-${end}/300000`);
      expect(r.headers['content-length']).toBe(String(end - start + 1));
      expect(r.headers['content-type']).toBe('application/octet-stream');
      expect(r.body.equals(fx.data.subarray(start, end + 1)), value).toBe(true);
    }
    expect((await outcomeOf('/data.bin')).result).toMatchObject({ statusCode: 206, bytesSent: 300000 });
  });

  it('answers several ranges with multipart/byteranges, byte for byte', async () => {
    const r = await range('bytes=0-9,1000-1099,-5');
    expect(r.status).toBe(206);
    const match = /^multipart\/byteranges; boundary=([0-9a-f]+)$/.exec(r.headers['content-type']);
    expect(match).not.toBeNull();
    const b = match![1];
    const part = (start: number, end: number, first: boolean) =>
      Buffer.concat([
        Buffer.from(`${first ? '' : '\r\n'}--${b}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes ${start}-${end}/300000\r\n\r\n`),
        fx.data.subarray(start, end + 1),
      ]);
    const expected = Buffer.concat([part(0, 9, true), part(1000, 1099, false), part(299995, 299999, false), Buffer.from(`\r\n--${b}--\r\n`)]);
    expect(r.headers['content-length']).toBe(String(expected.length));
    expect(r.body.equals(expected)).toBe(true);
    expect(r.headers['content-range']).toBeUndefined();
    const { result } = await outcomeOf('/data.bin');
    expect(result).toMatchObject({ statusCode: 206, bytesSent: expected.length });
  });

  it('carries the text type into each part', async () => {
    const r = await range('bytes=0-1,4-5', {}, '/small.txt');
    const b = /boundary=(\w+)/.exec(r.headers['content-type'])![1];
    expect(r.body.toString()).toBe(
      `--${b}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/1024\r\n\r\n01` +
        `\r\n--${b}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 4-5/1024\r\n\r\n45\r\n--${b}--\r\n`,
    );
  });

  it('merges overlapping and adjacent ranges', async () => {
    const r = await range('bytes=0-10,5-20,21-30');
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe('bytes 0-30/300000');
    expect(r.body.equals(fx.data.subarray(0, 31))).toBe(true);
  });

  it('answers an unsatisfiable range with 416 and Content-Range: bytes */size', async () => {
    for (const value of ['bytes=300000-', 'bytes=300000-300010', 'bytes=-0', 'bytes=5-2']) {
      const r = await range(value);
      expect(r.status, value).toBe(416);
      expect(r.headers['content-range']).toBe('bytes */300000');
      expect(r.body.toString()).toBe('Range Not Satisfiable\n');
    }
    const empty = await range('bytes=0-', {}, '/empty.txt');
    expect(empty.status).toBe(416);
    expect(empty.headers['content-range']).toBe('bytes */0');
  });

  it('ignores a malformed Range header, another unit, and Range on HEAD', async () => {
    for (const value of ['bytes=abc', 'bytes 0-5', 'bytes=1-x', 'items=0-5', 'bytes=--1']) {
      const r = await range(value);
      expect(r.status, value).toBe(200);
      expect(r.body.equals(fx.data)).toBe(true);
    }
    const head = await one(server, '/data.bin', { Range: 'bytes=0-9' }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('300000');
  });

  it('sends the whole file for more ranges than maxRanges', async () => {
    const few = route('/few-ranges', join(fx.path, 'data.bin'), { maxRanges: 2 });
    expect((await range('bytes=0-1,10-11', {}, few)).status).toBe(206);
    const r = await range('bytes=0-1,10-11,20-21', {}, few);
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(300000);
  });

  it('honours If-Range with a strong ETag or the exact Last-Modified date, and sends the whole file otherwise', async () => {
    const plain = await one(server, '/data.bin');
    const { etag, 'last-modified': modified } = plain.headers;
    expect((await range('bytes=0-9', { 'If-Range': etag })).status).toBe(206);
    expect((await range('bytes=0-9', { 'If-Range': modified })).status).toBe(206);
    for (const stale of ['"old"', `W/${etag}`, new Date(Date.parse(modified) - 1000).toUTCString(), 'garbage']) {
      const r = await range('bytes=0-9', { 'If-Range': stale });
      expect(r.status, stale).toBe(200);
      expect(r.body.length).toBe(300000);
    }
  });

  it('shows the same bytes to curl', { skip: !findCommand('curl') }, async () => {
    const out = await curl(['--http1.1', '-r', '100-199', `${server.url}/data.bin`]);
    expect(out.equals(fx.data.subarray(100, 200))).toBe(true);
    const withHead = (await curl(['--http1.1', '-i', '-r', '0-3,8-11', `${server.url}/small.txt`])).toString('latin1');
    expect(withHead).toMatch(/^HTTP\/1\.1 206 Partial Content\r\n/);
    const b = /boundary=(\w+)/.exec(withHead)![1];
    expect(withHead.slice(withHead.indexOf('\r\n\r\n') + 4)).toBe(
      `--${b}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-3/1024\r\n\r\n0123` +
        `\r\n--${b}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 8-11/1024\r\n\r\n89ab\r\n--${b}--\r\n`,
    );
  });
});

describe('connections', () => {
  it('sends nothing after the body, and keeps the connection alive for the next request', async () => {
    const connections = () => new Promise<number>((resolve) => server.server.getConnections((_e, n) => resolve(n)));
    const socket = connect(server.port, '127.0.0.1');
    await once(socket, 'connect');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk) => (received = Buffer.concat([received, chunk])));
    const expectResponses = (n: number) => eventually(() => parseResponses(received).responses.length === n, `${n} responses`);
    socket.write(rawRequest('/small.txt'));
    await expectResponses(1);
    socket.write(rawRequest('/data.bin', { Range: 'bytes=5-9' }));
    await expectResponses(2);
    socket.write(rawRequest('/missing'));
    await expectResponses(3);
    socket.write(rawRequest('/data.bin', { Range: 'bytes=0-0,2-2' }));
    await expectResponses(4);
    const { responses, rest } = parseResponses(received);
    expect(responses.map((r) => r.status)).toEqual([200, 206, 404, 206]);
    expect(responses[0].body.equals(fx.small)).toBe(true);
    expect(responses[1].body.equals(fx.data.subarray(5, 10))).toBe(true);
    expect(rest.length).toBe(0); // no stray bytes (a chunk terminator, say) after any body
    expect(socket.destroyed).toBe(false);
    expect(await connections()).toBeGreaterThanOrEqual(1);
    socket.destroy();
  });

  it('answers pipelined requests in order, each complete', async () => {
    const requests = [
      rawRequest('/data.bin'),
      rawRequest('/small.txt', { Range: 'bytes=10-19' }),
      rawRequest('/small.txt', {}, 'HEAD'),
      rawRequest('/nope'),
      rawRequest('/data.bin', { Range: 'bytes=0-4,-4' }),
      rawRequest('/small.txt', { 'If-None-Match': '*' }),
      rawRequest('/page.html'),
    ];
    const { responses, raw } = await rawExchange(server.port, requests, requests.length, [false, false, true]);
    expect(responses.map((r) => r.status)).toEqual([200, 206, 200, 404, 206, 304, 200]);
    expect(responses[0].body.equals(fx.data)).toBe(true);
    expect(responses[1].body.toString()).toBe(fx.small.subarray(10, 20).toString());
    expect(responses[6].body.toString()).toBe('<!doctype html><title>page</title>\n');
    expect(parseResponses(raw, [false, false, true]).rest.length).toBe(0);
  });

  it('closes the connection after a response to Connection: close, and to HTTP/1.0', async () => {
    const closing = await rawExchange(server.port, rawRequest('/small.txt', { Connection: 'close' }), 1, [], true);
    expect(closing.closed).toBe(true);
    expect(closing.responses.length).toBe(1);
    expect(closing.responses[0].body.equals(fx.small)).toBe(true);
    expect(closing.responses[0].headers.connection).toBe('close');
    const old = await rawExchange(server.port, 'GET /data.bin HTTP/1.0\r\n\r\n', 1, [], true);
    expect(old.closed).toBe(true);
    expect(old.responses[0].status).toBe(200);
    expect(old.responses[0].body.equals(fx.data)).toBe(true);
  });

  it('ends the transfer at once when the client goes away mid-body, leaking no descriptor', async () => {
    const big = route('/big', fx.bigPath);
    // Warm up (lazy handles, the addon's poller thread) before counting.
    await rawExchange(server.port, rawRequest(big, { Range: 'bytes=0-0' }), 1);
    await drained(server.server);
    const before = countOpenDescriptors();
    for (let round = 0; round < 3; round++) {
      const mark = outcomes.length;
      const socket = connect(server.port, '127.0.0.1');
      socket.write(rawRequest(big));
      const [first] = (await once(socket, 'data')) as [Buffer];
      expect(first.toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK/);
      socket.pause(); // the server fills the socket buffers, then waits
      await new Promise((r) => setTimeout(r, 50));
      socket.destroy(); // unread data: the kernel resets the connection
      const { error } = await outcomeOf(big, mark);
      expect(error, 'serveFile rejects').toBeDefined();
      expect(['ECONNRESET', 'EPIPE', 'ERR_STREAM_DESTROYED']).toContain(error!.code);
      expect(error!.bytesSent).toBeGreaterThan(0);
      expect(error!.bytesSent).toBeLessThan(fx.bigSize);
    }
    await drained(server.server);
    await eventually(() => countOpenDescriptors() <= before, `descriptors back to ${before} (now ${countOpenDescriptors()})`);
    // And the server goes on serving.
    expect((await one(server, '/small.txt')).body.equals(fx.small)).toBe(true);
  });

  it('rejects a pipelined response whose connection closes before its turn, leaking nothing', async () => {
    const big = route('/big2', fx.bigPath);
    await drained(server.server);
    const before = countOpenDescriptors();
    const mark = outcomes.length;
    const socket = connect(server.port, '127.0.0.1');
    socket.write(rawRequest(big) + rawRequest('/small.txt'));
    await once(socket, 'data');
    socket.pause();
    await eventually(() => outcomes.slice(mark).some((o) => o.path === '/small.txt'), 'second request to arrive');
    socket.destroy();
    const second = await outcomeOf('/small.txt', mark);
    expect(second.error?.code).toBe('ERR_STREAM_DESTROYED');
    expect(second.error?.bytesSent).toBe(0);
    expect((await outcomeOf(big, mark)).error).toBeDefined();
    await drained(server.server);
    await eventually(() => countOpenDescriptors() <= before, 'descriptors back');
  });

  it('opens a pipelined request\'s file only at its turn: one descriptor per connection, not per request', async () => {
    const big = route('/big3', fx.bigPath);
    await drained(server.server);
    const before = countOpenDescriptors();
    const mark = outcomes.length;
    const socket = connect(server.port, '127.0.0.1');
    socket.write(Array.from({ length: 20 }, () => rawRequest(big)).join(''));
    await once(socket, 'data');
    socket.pause();
    await eventually(() => outcomes.slice(mark).length === 20, 'all 20 requests to reach the handler');
    await new Promise((r) => setTimeout(r, 50));
    // Both ends of the connection, the file being sent, and the addon's
    // duplicates of the socket and the file: nothing for the 19 waiting requests.
    expect(countOpenDescriptors() - before).toBeLessThanOrEqual(5);
    socket.destroy();
    await eventually(() => outcomes.slice(mark).every((o) => o.error || o.result), 'every request to settle');
    expect(outcomes.slice(mark).every((o) => o.error !== undefined)).toBe(true);
    await drained(server.server);
    await eventually(() => countOpenDescriptors() <= before, 'descriptors back');
  });

  it('aborts on the signal: the connection is destroyed and the promise rejects with bytesSent', async () => {
    const controller = new AbortController();
    const aborting = route('/aborting', fx.bigPath, { signal: controller.signal });
    const mark = outcomes.length;
    const socket = connect(server.port, '127.0.0.1');
    socket.write(rawRequest(aborting));
    await once(socket, 'data');
    socket.pause();
    controller.abort();
    const { error } = await outcomeOf(aborting, mark);
    expect(error?.name).toBe('AbortError');
    expect(error?.bytesSent).toBeGreaterThan(0);
    socket.resume();
    await once(socket, 'close');
  });

  it('sends a 1 KiB file and its head in one TCP segment', { skip: !findCommand('ss') }, async () => {
    const socket = connect(server.port, '127.0.0.1');
    await once(socket, 'connect');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk) => (received = Buffer.concat([received, chunk])));
    socket.write(rawRequest('/small.txt'));
    await eventually(() => parseResponses(received).responses.length === 1, 'the response');
    const [response] = parseResponses(received).responses;
    expect(response.body.equals(fx.small)).toBe(true);
    // The server side of this connection has sent exactly one data segment.
    expect((await tcpInfo(server.port, socket.localPort!)).dataSegsOut).toBe(1);
    socket.write(rawRequest('/small.txt', { Range: 'bytes=0-99' }));
    await eventually(() => parseResponses(received).responses.length === 2, 'the second response');
    expect((await tcpInfo(server.port, socket.localPort!)).dataSegsOut).toBe(2);
    socket.destroy();
  });
});

describe('a response the socket cannot take at once', () => {
  // With 4 KiB socket buffers and a client that reads late, the attempt in
  // the request's own tick (sendFileNow: the head and the body, from the
  // mapping for a small file) stops part-way, and sendFile sends the rest
  // once the client reads.
  const cases: [string, { size: number; pad: number }][] = [
    ['a mapped file (64 KiB or less), stopped in the body', { size: 60_000, pad: 0 }],
    ['a file past the mapped size, stopped in the body', { size: 120_000, pad: 0 }],
    ['a long head, stopped in the head', { size: 1000, pad: 14_000 }],
  ];

  it.each(cases)('%s: the client gets the head once and then every byte, and bytesSent counts the body', async (_, { size, pad }) => {
    const content = randomBytes(size);
    const name = `late-${size}-${pad}.bin`;
    writeFileSync(join(fx.path, name), content);
    const path = route(`/${name}`, join(fx.path, name), undefined, pad ? (res) => res.setHeader('X-Pad', 'p'.repeat(pad)) : undefined);
    const s = await httpServer((req, res) => void routes.handler(req, res));
    // The client's receive buffer must be small from the connection's start
    // (its window is set then): the client is the accepting end, and the
    // HTTP server is handed the connecting one.
    const clients = await startServer(undefined, { pauseOnConnect: true });
    try {
      setSocketBuffers(clients.server, 4096);
      const serverSide = await connectTcp(clients.port);
      setSocketBuffers(serverSide, 4096);
      const client = await clients.accepted();
      s.server.emit('connection', serverSide);
      const fd = (serverSide as unknown as { _handle: { fd: number } })._handle.fd;
      const ino = fstatSync(fd).ino;
      const mark = outcomes.length;
      client.write(rawRequest(path));
      // The rest waits in the driver: the server's socket in its epoll set.
      await eventually(() => epollWatches().some((w) => w.ino === ino && w.fd !== fd), 'the rest of the response waiting for the client', 10_000);
      const chunks: Buffer[] = [];
      client.on('data', (chunk: Buffer) => chunks.push(chunk));
      client.resume();
      const { result, error } = await outcomeOf(path, mark);
      expect(error).toBeUndefined();
      await eventually(() => parseResponses(Buffer.concat(chunks)).responses.length > 0, 'the whole response');
      const { responses, rest } = parseResponses(Buffer.concat(chunks));
      expect([responses[0].status, responses[0].headers['x-pad']?.length ?? 0, responses[0].headers['content-length']]).toEqual([200, pad, String(size)]);
      expectBytes(responses[0].body, content);
      expect(rest.length, 'bytes after the body').toBe(0);
      expect(result).toMatchObject({ statusCode: 200, bytesSent: size });
      client.destroy();
    } finally {
      await s.close();
      await clients.close();
    }
  });
});

describe('responses wrapped by middleware', () => {
  it('go through the wrapper (res.write/res.end), with the same statuses and headers', async () => {
    const seen: number[] = [];
    const wrapped = route('/wrapped', join(fx.path, 'data.bin'), undefined, (res) => {
      // What compression-style middleware does: replace write and end.
      const write = res.write.bind(res) as (chunk: Buffer) => boolean;
      res.write = ((chunk: Buffer) => {
        seen.push(chunk.length);
        return write(chunk);
      }) as typeof res.write;
    });
    const r = await one(server, wrapped, { Range: 'bytes=10-29' });
    expect(r.status).toBe(206);
    expect(r.body.equals(fx.data.subarray(10, 30))).toBe(true);
    expect(seen.reduce((a, b) => a + b, 0)).toBe(20);
    const full = await request(`${server.url}${wrapped}`);
    expect(full.body.equals(fx.data)).toBe(true);
    // Read from the file, or from the copy the cache keeps once the first response has read it: through the wrapper either way.
    expect((await outcomeOf(wrapped)).result).toEqual({ statusCode: 200, bytesSent: 300000, backend: expect.stringMatching(/^(response|memory)$/) });
    expect(seen.reduce((a, b) => a + b, 0)).toBe(20 + 300000);
  });
});

describe('files that change', () => {
  it('a small cached file truncated just before its response: the body ends short with the connection, and serveFile rejects', async () => {
    const path = join(fx.path, 'shrinking-small.bin');
    const bytes = randomBytes(3 * 4096);
    writeFileSync(path, bytes);
    const shrinking = route('/shrinking-small', path);
    expect((await one(server, shrinking)).body.equals(bytes)).toBe(true);
    // In the handler's own tick: the cache's watcher hears of it only later.
    route('/shrinking-small', path, undefined, () => truncateSync(path, 100));
    const since = outcomes.length;
    const { responses, raw, closed } = await rawExchange(server.port, rawRequest(shrinking), 1, [], true);
    // Linux refuses the whole writev (EFAULT, nothing sent); a kernel that
    // sent a part would leave a short body of the file's own bytes.
    expect(closed).toBe(true);
    expect(responses).toHaveLength(0);
    if (raw.length > 0) {
      expect(raw.toString('latin1')).toMatch(/^HTTP\/1\.1 200 /);
      const body = raw.subarray(raw.indexOf('\r\n\r\n') + 4);
      expect(body.subarray(0, 100).equals(bytes.subarray(0, Math.min(100, body.length)))).toBe(true);
    }
    const { error } = await outcomeOf(shrinking, since);
    expect(error?.code).toBe('ERR_FILE_TRUNCATED');
    // The cache lets the old length go: the next request gets the 100 bytes.
    await eventually(async () => (await one(server, shrinking)).body.equals(bytes.subarray(0, 100)), 'the truncated file served whole');
  });

  it("a file cut short between the parts of a multi-range response: the connection closes after the bytes that went, and a keep-alive client's next request gets a connection of its own", async () => {
    const P1 = 24 * MiB; // the first part: far more than a paused client's buffers hold
    const CUT = 26 * MiB; // the file's new size: past the first part, before the second
    const data = randomFillSync(Buffer.allocUnsafe(32 * MiB));
    const path = join(fx.path, 'shrinking.bin');
    writeFileSync(path, data);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const mark = outcomes.length;
      const req = http.get(`${server.url}/shrinking.bin`, { agent, headers: { Range: `bytes=0-${P1 - 1},${28 * MiB}-${28 * MiB + 99}` } });
      const [res] = (await once(req, 'response')) as [http.IncomingMessage];
      expect(res.statusCode).toBe(206);
      const first = req.socket!;
      const chunks: Buffer[] = [];
      res.once('data', () => {
        // The first part is on its way (its range checked); the second is not.
        res.pause();
        truncateSync(path, CUT);
        res.resume();
      });
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      let clientError: (Error & { code?: string }) | undefined;
      res.on('error', (e) => (clientError = e));
      await within(new Promise((resolve) => res.once('close', resolve)), 10_000, 'the connection closing after the failed second part');
      // The client knows the response was cut short: node:http's 'aborted'.
      expect(res.complete).toBe(false);
      expect(clientError?.code).toBe('ECONNRESET');
      const { error } = await outcomeOf('/shrinking.bin', mark);
      expect(error?.code).toBe('ERR_FILE_TRUNCATED');
      // What arrived is the first part, its multipart head and its bytes, exactly as counted.
      const body = Buffer.concat(chunks);
      expect(body.length).toBe(error!.bytesSent);
      expect(body.subarray(0, body.length - P1).toString('latin1')).toMatch(/^--\S+\r\nContent-Type: application\/octet-stream\r\nContent-Range: bytes 0-\d+\/33554432\r\n\r\n$/);
      expectBytes(body.subarray(body.length - P1), data.subarray(0, P1));
      expect(first.destroyed).toBe(true);

      // The same client goes on, on a new connection, with a whole response.
      const next = http.get(`${server.url}/small.txt`, { agent });
      const [again] = (await once(next, 'response')) as [http.IncomingMessage];
      expect(next.socket).not.toBe(first);
      const small: Buffer[] = [];
      for await (const chunk of again) small.push(chunk as Buffer);
      expectBytes(Buffer.concat(small), fx.small);
    } finally {
      agent.destroy();
    }
  });

  it('serves what the file holds at the request', async () => {
    const path = join(fx.path, 'changing.txt');
    writeFileSync(path, 'first');
    expect((await one(server, '/changing.txt')).body.toString()).toBe('first');
    writeFileSync(path, 'second, longer');
    const r = await one(server, '/changing.txt');
    expect(r.body.toString()).toBe('second, longer');
    expect(r.headers['content-length']).toBe('14');
  });
});
