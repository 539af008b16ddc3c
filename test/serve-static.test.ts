// serveStatic on node:http: URL paths onto a folder and never outside it,
// dotfiles, index files and redirects, precompressed siblings, methods, and
// the cache of open descriptors.
import { mkdirSync, renameSync, rmSync, watch, writeFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, type ServeStaticOptions } from '../dist/cjs/index.js';
import { countOpenDescriptors } from './support/descriptors.js';
import { makeServeFixtures, type ServeFixtures } from './support/files.js';
import { drained, httpServer, one, rawExchange, rawRequest, Servers, type Running } from './support/http.js';
import { eventually } from './support/waiting.js';

let fx: ServeFixtures;
let root: string;
const SECRET = 'TOP-SECRET-CONTENT';
const servers = new Servers();

/** A server answering every request with serveStatic(root, options). */
const staticServer = (options?: ServeStaticOptions, base?: string) => servers.serveStatic(base ?? root, options);


let plain: Running;

beforeAll(async () => {
  fx = makeServeFixtures();
  // The served root is a folder inside the fixtures; a secret sits beside it.
  root = join(fx.path, 'public');
  mkdirSync(root);
  writeFileSync(join(fx.path, 'secret.txt'), SECRET);
  writeFileSync(join(fx.path, 'public-secret.txt'), SECRET); // shares root's name as a prefix
  writeFileSync(join(root, 'hello.txt'), 'hello\n');
  writeFileSync(join(root, 'a b.txt'), 'spaced\n');
  writeFileSync(join(root, 'héllo wörld.txt'), 'unicode\n');
  writeFileSync(join(root, '.env'), `${SECRET}\n`);
  mkdirSync(join(root, '.git'));
  writeFileSync(join(root, '.git', 'config'), `${SECRET}\n`);
  mkdirSync(join(root, 'docs'));
  writeFileSync(join(root, 'docs', 'index.html'), '<title>docs</title>\n');
  writeFileSync(join(root, 'docs', 'guide.txt'), 'guide\n');
  mkdirSync(join(root, 'bare'));
  writeFileSync(join(root, 'app.js'), 'console.log("identity");\n');
  writeFileSync(join(root, 'app.js.br'), 'BROTLI-BYTES');
  writeFileSync(join(root, 'app.js.gz'), 'GZIP-BYTES, LONGER');
  writeFileSync(join(root, 'only-gz.css'), 'body{}\n');
  writeFileSync(join(root, 'only-gz.css.gz'), 'GZ-CSS');
  plain = await staticServer();
});

afterAll(async () => {
  await servers.close();
  fx?.remove();
});

describe('mapping URLs onto root', () => {
  it('serves files by their URL path, decoding percent-escapes and ignoring the query', async () => {
    expect((await one(plain, '/hello.txt')).body.toString()).toBe('hello\n');
    expect((await one(plain, '/hello.txt?v=3#frag')).body.toString()).toBe('hello\n');
    expect((await one(plain, '/a%20b.txt')).body.toString()).toBe('spaced\n');
    expect((await one(plain, `/${encodeURIComponent('héllo wörld.txt')}`)).body.toString()).toBe('unicode\n');
    expect((await one(plain, '/docs/guide.txt')).body.toString()).toBe('guide\n');
    expect((await one(plain, '//docs///guide.txt')).body.toString()).toBe('guide\n');
    expect((await one(plain, '/./docs/./guide.txt')).body.toString()).toBe('guide\n');
    const r = await one(plain, '/hello.txt');
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r.headers.etag).toBeDefined();
  });

  it('answers 404 for what is not there', async () => {
    const r = await one(plain, '/nope.txt');
    expect(r.status).toBe(404);
    expect(r.body.toString()).toBe('Not Found\n');
    expect((await one(plain, '/hello.txt/')).status).toBe(404);
    expect((await one(plain, '/docs/nope/')).status).toBe(404);
  });

  it('never serves outside root: a list of hostile paths', async () => {
    // [request target, the status it gets]
    const hostile: [string, number][] = [
      ['/../secret.txt', 403],
      ['/../../../../../../etc/passwd', 403],
      ['/docs/../../secret.txt', 403],
      ['/docs/..', 301], // root itself, without its slash
      ['/..', 403],
      ['/./../secret.txt', 403],
      ['/%2e%2e/secret.txt', 403],
      ['/%2E%2E/secret.txt', 403],
      ['/.%2e/secret.txt', 403],
      ['/%2e%2e%2fsecret.txt', 400],
      ['/..%2fsecret.txt', 400],
      ['/..%2Fsecret.txt', 400],
      ['/docs%2f..%2f..%2fsecret.txt', 400],
      ['/..%5csecret.txt', 400],
      ['/..%5Csecret.txt', 400],
      ['/..\\secret.txt', 400],
      ['/docs\\..\\..\\secret.txt', 400],
      ['/%252e%252e/secret.txt', 404], // double-encoded: a name with a literal %2e
      ['/%252e%252e%252fsecret.txt', 404],
      ['/%c0%ae%c0%ae/secret.txt', 400], // overlong UTF-8 for '.'
      ['/%c0%af', 400],
      ['/%e0%80%ae%e0%80%ae/secret.txt', 400],
      ['/%u002e%u002e/secret.txt', 400],
      ['/%', 400],
      ['/%zz', 400],
      ['/hello.txt%00', 400],
      ['/hello.txt%00.html', 400],
      ['/%00/../secret.txt', 400],
      ['/....//secret.txt', 404],
      ['/...', 404],
      ['/..;/secret.txt', 404],
      ['/ ../secret.txt', 400], // Node's parser: a space ends the target
      ['/../public-secret.txt', 403],
      ['/secret.txt', 404],
      ['//etc/passwd', 404],
      ['/etc/passwd', 404],
      [`/${'a'.repeat(300)}`, 404],
      [`/${'a/'.repeat(2100)}x`, 404],
      [`/${'%2e%2e/'.repeat(50)}etc/passwd`, 403],
      ['/.env', 404],
      ['/.git/config', 404],
      ['/%2eenv', 404],
      ['/%2egit/config', 404],
      ['/docs/%2e%2e/%2e%2e/secret.txt', 403],
      ['http://localhost/../secret.txt', 404], // absolute form: the URL parser resolves it to /secret.txt
      ['http://localhost/%2e%2e/%2e%2e/etc/passwd', 404],
    ];
    const statuses: [string, number][] = [];
    for (const [target, _expected] of hostile) {
      const { responses } = await rawExchange(plain.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`, 1);
      const r = responses[0];
      expect(r, target).toBeDefined();
      expect(r.body.toString(), target).not.toContain(SECRET);
      expect(r.body.toString(), target).not.toContain('root:');
      statuses.push([target, r.status]);
    }
    expect(statuses).toEqual(hostile);
  });

  it('leaves a raw NUL or a control character in the request line to Node, which refuses it', async () => {
    for (const target of ['/hello.txt\0', '/hel\x01lo.txt']) {
      const { responses, closed } = await rawExchange(plain.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`, 1, [], true);
      expect(closed).toBe(true);
      expect(responses[0]?.status ?? 400).toBe(400);
    }
  });
});

describe('dotfiles', () => {
  it("are ignored by default, denied with 'deny', and served with 'allow'", async () => {
    const deny = await staticServer({ dotfiles: 'deny' });
    const allow = await staticServer({ dotfiles: 'allow' });
    expect((await one(plain, '/.env')).status).toBe(404);
    expect((await one(deny, '/.env')).status).toBe(403);
    expect((await one(deny, '/.git/config')).status).toBe(403);
    expect((await one(allow, '/.env')).body.toString()).toBe(`${SECRET}\n`);
    expect((await one(allow, '/.git/config')).status).toBe(200);
    // 'allow' still never climbs.
    expect((await one(allow, '/../secret.txt')).status).toBe(403);
  });

  it('count only below root: a root inside a dot folder serves', async () => {
    const hidden = join(fx.path, '.hidden-root');
    mkdirSync(hidden);
    writeFileSync(join(hidden, 'x.txt'), 'x');
    const s = await staticServer(undefined, hidden);
    expect((await one(s, '/x.txt')).body.toString()).toBe('x');
  });
});

describe('directories', () => {
  it('serve index.html for a URL ending in a slash, and redirect to it otherwise', async () => {
    const index = await one(plain, '/docs/');
    expect(index.status).toBe(200);
    expect(index.body.toString()).toBe('<title>docs</title>\n');
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    const moved = await one(plain, '/docs');
    expect(moved.status).toBe(301);
    expect(moved.headers.location).toBe('/docs/');
    expect((await one(plain, '/docs?x=1&y=%20')).headers.location).toBe('/docs/?x=1&y=%20');
    // Leading slashes collapse: the redirect stays on this site.
    expect((await one(plain, '//docs')).headers.location).toBe('/docs/');
    expect((await one(plain, '/')).status).toBe(404); // root has no index.html
    expect((await one(plain, '/bare/')).status).toBe(404);
    expect((await one(plain, '/bare')).headers.location).toBe('/bare/');
    expect((await one(plain, '/docs', {}, 'HEAD')).status).toBe(301);
  });

  it('answer each URL by its own query and its own mount, after any number of other URLs', async () => {
    // One handler mounted at two prefixes, as Express would: the same req.url, two originalUrls.
    const handler = serveStatic(root);
    servers.onClose(() => handler.close());
    const mounted = await servers.http((req, res) => {
      const mount = req.headers['x-mount'];
      if (typeof mount === 'string') (req as IncomingMessage & { originalUrl?: string }).originalUrl = mount + req.url;
      void handler(req, res);
    });
    const at = async (path: string, mount?: string) => (await one(mounted, path, mount ? { 'X-Mount': mount } : {})).headers.location;
    expect(await at('/docs?x=1')).toBe('/docs/?x=1');
    expect(await at('/docs?x=2')).toBe('/docs/?x=2');
    expect(await at('/docs', '/a')).toBe('/a/docs/');
    expect(await at('/docs', '/b')).toBe('/b/docs/');
    expect(await at('/docs')).toBe('/docs/');
    // More distinct URLs than serveStatic keeps answers for, pipelined on one connection.
    const count = 1100;
    const requests = Array.from({ length: count }, (_, i) => rawRequest(i % 2 ? `/hello.txt?n=${i}` : `/nothing-${i}.txt`)).join('');
    const { responses } = await rawExchange(mounted.port, requests, count);
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: count }, (_, i) => (i % 2 ? 200 : 404)));
    expect(responses.filter((r) => r.status === 200).every((r) => r.body.toString() === 'hello\n')).toBe(true);
    expect(await at('/docs?x=1')).toBe('/docs/?x=1');
    expect(await at('/docs', '/a')).toBe('/a/docs/');
  });

  it('follow the index and redirect options', async () => {
    const noRedirect = await staticServer({ redirect: false });
    expect((await one(noRedirect, '/docs')).status).toBe(404);
    const noIndex = await staticServer({ index: false });
    expect((await one(noIndex, '/docs/')).status).toBe(404);
    const otherIndex = await staticServer({ index: ['missing.html', 'guide.txt'] });
    expect((await one(otherIndex, '/docs/')).body.toString()).toBe('guide\n');
  });
});

describe('methods', () => {
  it('answer GET and HEAD; others get 405 with Allow', async () => {
    const head = await one(plain, '/hello.txt', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('6');
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      const r = await one(plain, '/hello.txt', { 'Content-Length': '0' }, method);
      expect(r.status, method).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
    }
  });

  it('fall through to next() with a next callback, or to next(err) with err.status when fallthrough is false', async () => {
    const handler = serveStatic(root);
    const strict = serveStatic(root, { fallthrough: false });
    servers.onClose(() => handler.close());
    servers.onClose(() => strict.close());
    const s = await servers.http((req: IncomingMessage, res: ServerResponse) => {
      const h = req.headers['x-strict'] ? strict : handler;
      void h(req, res, (error?: unknown) => {
        const e = error as { status?: number; name?: string } | undefined;
        res.statusCode = e ? (e.status ?? 500) : 299;
        res.end(e ? e.name : 'next');
      });
    });
    expect((await one(s, '/hello.txt', {}, 'POST')).status).toBe(299);
    expect((await one(s, '/nope.txt')).status).toBe(299);
    expect((await one(s, '/.env')).status).toBe(299);
    expect((await one(s, '/../secret.txt')).status).toBe(299); // every client error goes on, as serve-static sends it
    expect((await one(s, '/%zz')).status).toBe(299);
    expect((await one(s, '/hello.txt')).body.toString()).toBe('hello\n');
    const strictMiss = await one(s, '/nope.txt', { 'X-Strict': '1' });
    expect([strictMiss.status, strictMiss.body.toString()]).toEqual([404, 'NotFoundError']);
    const climb = await one(s, '/../secret.txt', { 'X-Strict': '1' });
    expect([climb.status, climb.body.toString()]).toEqual([403, 'ForbiddenError']);
    const bad = await one(s, '/%zz', { 'X-Strict': '1' });
    expect([bad.status, bad.body.toString()]).toEqual([400, 'BadRequestError']);
    // Another method is answered, not passed on: 405 with Allow.
    const post = await one(s, '/hello.txt', { 'X-Strict': '1' }, 'POST');
    expect([post.status, post.headers.allow]).toEqual([405, 'GET, HEAD']);
  });
});

describe('precompressed siblings', () => {
  let pre: Running;
  beforeAll(async () => {
    pre = await staticServer({ precompressed: true });
  });

  it('are chosen by Accept-Encoding, with Content-Encoding, the original type, and Vary', async () => {
    const br = await one(pre, '/app.js', { 'Accept-Encoding': 'gzip, deflate, br' });
    expect(br.body.toString()).toBe('BROTLI-BYTES');
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(br.headers.vary).toBe('Accept-Encoding');
    const gz = await one(pre, '/app.js', { 'Accept-Encoding': 'gzip' });
    expect(gz.body.toString()).toBe('GZIP-BYTES, LONGER');
    expect(gz.headers['content-encoding']).toBe('gzip');
    const preferGzip = await one(pre, '/app.js', { 'Accept-Encoding': 'br;q=0.5, gzip;q=1' });
    expect(preferGzip.headers['content-encoding']).toBe('gzip');
    const noBr = await one(pre, '/app.js', { 'Accept-Encoding': 'br;q=0, gzip' });
    expect(noBr.headers['content-encoding']).toBe('gzip');
    for (const accept of [undefined, 'identity', 'deflate', 'br;q=0, gzip;q=0']) {
      const r = await one(pre, '/app.js', accept ? { 'Accept-Encoding': accept } : {});
      expect(r.body.toString(), accept).toBe('console.log("identity");\n');
      expect(r.headers['content-encoding']).toBeUndefined();
      expect(r.headers.vary).toBe('Accept-Encoding');
    }
    expect(new Set([br.headers.etag, gz.headers.etag, (await one(pre, '/app.js')).headers.etag]).size).toBe(3);
  });

  it('fall back to the next accepted encoding, and answer ranges of the encoded bytes', async () => {
    const css = await one(pre, '/only-gz.css', { 'Accept-Encoding': 'br, gzip' });
    expect(css.body.toString()).toBe('GZ-CSS');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const part = await one(pre, '/app.js', { 'Accept-Encoding': 'br', Range: 'bytes=0-5' });
    expect(part.status).toBe(206);
    expect(part.body.toString()).toBe('BROTLI');
    expect(part.headers['content-range']).toBe('bytes 0-5/12');
    // A conditional request is answered for the variant it names.
    expect((await one(pre, '/app.js', { 'Accept-Encoding': 'br', 'If-None-Match': part.headers.etag })).status).toBe(304);
  });

  it('are off by default', async () => {
    const r = await one(plain, '/app.js', { 'Accept-Encoding': 'br, gzip' });
    expect(r.body.toString()).toBe('console.log("identity");\n');
    expect(r.headers.vary).toBeUndefined();
  });
});

describe('headers', () => {
  it('setHeaders runs before serving and its headers win; options reach serveFile', async () => {
    const seen: [string, number][] = [];
    const s = await staticServer({
      maxAge: 60_000,
      setHeaders: (res, path, stat) => {
        seen.push([path, stat.size]);
        res.setHeader('Cache-Control', 'no-cache');
        res.setHeader('X-Served-By', 'zerocopy');
      },
    });
    const r = await one(s, '/docs/');
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.headers['x-served-by']).toBe('zerocopy');
    expect(seen).toEqual([[join(root, 'docs', 'index.html'), 20]]);
    const other = await staticServer({ maxAge: 60_000, immutable: true });
    expect((await one(other, '/hello.txt')).headers['cache-control']).toBe('public, max-age=60, immutable');
  });

  it('error statuses carry none of the file headers', async () => {
    const r = await one(plain, '/nope.txt');
    expect(r.headers.etag).toBeUndefined();
    expect(r.headers['last-modified']).toBeUndefined();
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
  });
});

describe('the open-file cache', () => {
  it('keeps hot files open, sees changes, and closes everything on close()', async () => {
    const dir = join(fx.path, 'cached');
    mkdirSync(dir);
    const file = join(dir, 'hot.txt');
    writeFileSync(file, 'version 1');
    // libuv opens one inotify descriptor at the loop's first fs.watch and
    // keeps it for the loop's life: open it before counting, so that this
    // test counts the same alone as after others that watched.
    watch(dir).close();
    const before = countOpenDescriptors();
    const handler = serveStatic(dir, { cache: { max: 2, validMs: 60_000 } });
    const s = await httpServer((req, res) => void handler(req, res));
    const body = async (path: string) => (await one(s, path)).body.toString();

    expect(await body('/hot.txt')).toBe('version 1');
    expect(await body('/hot.txt')).toBe('version 1');
    expect(handler.cachedFiles).toBe(1);

    // Rewritten in place: the watcher drops the entry.
    writeFileSync(file, 'version 2, longer');
    await eventually(async () => (await body('/hot.txt')) === 'version 2, longer', 'the rewritten file');
    const r = await one(s, '/hot.txt');
    expect(r.headers['content-length']).toBe('17');

    // Replaced by a rename, as deploys do.
    writeFileSync(join(dir, 'next.tmp'), 'version 3');
    renameSync(join(dir, 'next.tmp'), file);
    await eventually(async () => (await body('/hot.txt')) === 'version 3', 'the replaced file');

    // Deleted.
    rmSync(file);
    await eventually(async () => (await one(s, '/hot.txt')).status === 404, 'the deleted file to be gone');

    // At most `max` entries.
    for (const name of ['a', 'b', 'c', 'd']) {
      writeFileSync(join(dir, `${name}.txt`), name);
      expect(await body(`/${name}.txt`)).toBe(name);
    }
    expect(handler.cachedFiles).toBe(2);

    await s.close();
    await handler.close();
    expect(handler.cachedFiles).toBe(0);
    await eventually(() => countOpenDescriptors() <= before, `descriptors back to ${before} (now ${countOpenDescriptors()})`);
  });

  it('revalidates by stat after validMs even without a watcher event', async () => {
    const dir = join(fx.path, 'cached2');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'sub', 'f.txt'), 'old');
    const handler = serveStatic(dir, { cache: { validMs: 0 } });
    const s = await servers.handler(handler);
    expect((await one(s, '/sub/f.txt')).body.toString()).toBe('old');
    // A parent folder swapped under the path: the file's own watcher sees nothing.
    renameSync(join(dir, 'sub'), join(dir, 'sub-old'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'f.txt'), 'new!');
    expect((await one(s, '/sub/f.txt')).body.toString()).toBe('new!');
  });

  it('leaks no descriptor when clients leave mid-body', async () => {
    const dir = dirname(fx.bigPath);
    const handler = serveStatic(dir, { cache: true });
    const s = await servers.handler(handler);
    // Warm up: a large body starts the addon's driver thread, whose wake-up
    // pipe lives as long as the process (a small one never needs it).
    expect((await one(s, '/big.bin', { Range: 'bytes=0-299999' })).body.length).toBe(300_000);
    await drained(s.server);
    const before = countOpenDescriptors();
    const { connect } = await import('node:net');
    for (let i = 0; i < 3; i++) {
      const socket = connect(s.port, '127.0.0.1');
      socket.write(rawRequest('/big.bin'));
      await new Promise((r) => socket.once('data', r));
      socket.pause();
      await new Promise((r) => setTimeout(r, 30));
      socket.destroy();
    }
    await drained(s.server);
    await eventually(() => countOpenDescriptors() <= before + 1, 'only the cached big.bin descriptor added');
    await s.close();
    await handler.close();
    await eventually(() => countOpenDescriptors() <= before - 1, 'all cached descriptors closed');
    expect(statSync(fx.bigPath).size).toBe(fx.bigSize);
  });
});
