// The test suite of serve-static 2.2.1 (expressjs/serve-static, test/test.js),
// ported: each of its cases, in its order, rewritten against serveStatic as
// Connect/Express calls it, `handler(req, res, next)`, with a `next` that
// answers 404 'sorry!' or the error's status, name and code, as the
// upstream suite's does. The fixtures are rewritten too. A case whose name
// starts with [differs] asserts what serveStatic does where it differs by
// choice; the comment beside it says why (docs/ported-suites.md).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, type ServeStaticOptions } from '../dist/cjs/index.js';
import { makeTempDir, type TempDir } from './support/files.js';
import type { Running } from './support/http.js';
import { ask, Servers, writeTree } from './support/ported.js';

let dir: TempDir;
let fixtures: string;
const servers = new Servers();

beforeAll(() => {
  dir = makeTempDir('zerocopy-port-serve-static-');
  fixtures = join(dir.path, 'fixtures');
  writeTree(fixtures, {
    '.hidden': 'I am hidden',
    'empty.txt': '',
    'foo bar': 'baz',
    'nums.txt': '123456789',
    'pets/names.txt': 'tobi\nloki',
    'snow ☃/': '',
    'todo.html': '<li>groceries</li>',
    'todo.txt': '- groceries',
    'users/index.html': '<p>tobi, loki, jane</p>',
    'users/tobi.txt': 'ferret',
  });
});
afterAll(async () => {
  await servers.close();
  dir?.remove();
});

type Rewrite = (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse) => void;

/** upstream's createServer(dir, opts, fn): serveStatic as middleware, then a `next` that tells what reached it. */
function createServer(root?: string, options?: ServeStaticOptions, rewrite?: Rewrite): Promise<Running> {
  const handler = serveStatic(root ?? fixtures, options);
  servers.onClose(() => handler.close());
  return servers.http((req, res) => {
    rewrite?.(req, res);
    void handler(req, res, (error?: unknown) => {
      const e = error as { status?: number; name?: string; code?: string } | undefined;
      res.statusCode = e ? (e.status ?? 500) : 404;
      res.end(e ? `${e.name} ${e.code ?? ''}` : 'sorry!');
    });
  });
}

/** upstream's mount emulation: the URL below the first `depth` segments, originalUrl kept. */
const mount =
  (depth: number): Rewrite =>
  (req) => {
    req.originalUrl = req.url;
    req.url = '/' + req.url!.split('/').slice(depth).join('/');
  };

describe('basic operations', () => {
  let server: Running;
  beforeAll(async () => {
    server = await createServer();
  });

  it('requires a root', () => {
    expect(() => serveStatic(undefined as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
  it('requires the root to be a string (or a file: URL)', () => {
    expect(() => serveStatic(42 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
  it('serves a file', async () => {
    const r = await ask(server, '/todo.txt');
    expect([r.status, r.text]).toEqual([200, '- groceries']);
  });
  it('serves a nested file', async () => {
    expect((await ask(server, '/users/tobi.txt')).text).toBe('ferret');
  });
  it('sets Content-Type', async () => {
    expect((await ask(server, '/todo.txt')).headers['content-type']).toBe('text/plain; charset=utf-8');
  });
  it('sets Last-Modified', async () => {
    expect((await ask(server, '/todo.txt')).headers['last-modified']).toMatch(/\d{2} \w{3} \d{4}/);
  });
  it('defaults to max-age=0', async () => {
    expect((await ask(server, '/todo.txt')).headers['cache-control']).toBe('public, max-age=0');
  });
  it('decodes percent-encoded paths', async () => {
    const r = await ask(server, '/foo%20bar');
    expect([r.status, r.text]).toEqual([200, 'baz']);
  });
  it('takes a URL that looks like user info as a path', async () => {
    expect((await ask(server, '//todo@txt')).status).toBe(404);
  });
  it('serves index.html', async () => {
    const r = await ask(server, '/users/');
    expect([r.status, r.text]).toEqual([200, '<p>tobi, loki, jane</p>']);
    expect(r.headers['content-type']).toMatch(/html/);
  });
  it('resolves ../ that stays inside the root', async () => {
    const r = await ask(server, '/users/../todo.txt');
    expect([r.status, r.text]).toEqual([200, '- groceries']);
  });
  it('answers HEAD without a body', async () => {
    const r = await ask(server, '/todo.txt', {}, 'HEAD');
    expect([r.status, r.text]).toEqual([200, '']);
  });
  it('passes POST on', async () => {
    const r = await ask(server, '/todo.txt', { 'Content-Length': '0' }, 'POST');
    expect([r.status, r.text]).toEqual([404, 'sorry!']);
  });
  it('answers conditional requests', async () => {
    const { headers } = await ask(server, '/todo.txt');
    expect((await ask(server, '/todo.txt', { 'If-None-Match': headers.etag })).status).toBe(304);
  });
  it('checks preconditions', async () => {
    expect((await ask(server, '/todo.txt', { 'If-Match': '"foo"' })).status).toBe(412);
  });
  it('serves an empty file', async () => {
    const r = await ask(server, '/empty.txt');
    expect([r.status, r.text]).toEqual([200, '']);
  });
  it('ignores hidden files', async () => {
    expect((await ask(server, '/.hidden')).status).toBe(404);
  });
});

describe('current dir', () => {
  it('serves "." relative to the working directory', async () => {
    const cwd = process.cwd();
    process.chdir(dir.path);
    let server: Running;
    try {
      server = await createServer('.'); // resolved now
    } finally {
      process.chdir(cwd);
    }
    const path = relative(dir.path, fixtures).split('\\').join('/');
    expect((await ask(server, `/${path}/todo.txt`)).text).toBe('- groceries');
  });
});

describe('acceptRanges', () => {
  it('false: no Accept-Ranges', async () => {
    const r = await ask(await createServer(fixtures, { acceptRanges: false }), '/nums.txt');
    expect(r.headers['accept-ranges']).toBeUndefined();
    expect([r.status, r.text]).toEqual([200, '123456789']);
  });
  it('false: Range ignored', async () => {
    const r = await ask(await createServer(fixtures, { acceptRanges: false }), '/nums.txt', { Range: 'bytes=0-3' });
    expect(r.headers['accept-ranges']).toBeUndefined();
    expect(r.headers['content-range']).toBeUndefined();
    expect([r.status, r.text]).toEqual([200, '123456789']);
  });
  it('true: Accept-Ranges: bytes', async () => {
    const r = await ask(await createServer(fixtures, { acceptRanges: true }), '/nums.txt');
    expect([r.headers['accept-ranges'], r.text]).toEqual(['bytes', '123456789']);
  });
  it('true: Range obeyed', async () => {
    const r = await ask(await createServer(fixtures, { acceptRanges: true }), '/nums.txt', { Range: 'bytes=0-3' });
    expect([r.status, r.headers['content-range'], r.text]).toEqual([206, 'bytes 0-3/9', '1234']);
  });
});

describe('cacheControl', () => {
  it('false: no Cache-Control', async () => {
    const r = await ask(await createServer(fixtures, { cacheControl: false }), '/nums.txt');
    expect(r.headers['cache-control']).toBeUndefined();
  });
  it('false: maxAge ignored', async () => {
    const r = await ask(await createServer(fixtures, { cacheControl: false, maxAge: 12000 }), '/nums.txt');
    expect(r.headers['cache-control']).toBeUndefined();
    expect(r.text).toBe('123456789');
  });
  it('true: Cache-Control', async () => {
    expect((await ask(await createServer(fixtures, { cacheControl: true }), '/nums.txt')).headers['cache-control']).toBe('public, max-age=0');
  });
});

describe('extensions', () => {
  it('are off by default', async () => {
    expect((await ask(await createServer(fixtures), '/todo')).status).toBe(404);
  });
  it('take one extension', async () => {
    const r = await ask(await createServer(fixtures, { extensions: 'txt' }), '/todo');
    expect([r.status, r.text]).toEqual([200, '- groceries']);
  });
  it('can be turned off', async () => {
    expect((await ask(await createServer(fixtures, { extensions: false }), '/todo')).status).toBe(404);
  });
  it('are tried in order', async () => {
    const r = await ask(await createServer(fixtures, { extensions: ['htm', 'html', 'txt'] }), '/todo');
    expect([r.status, r.text]).toEqual([200, '<li>groceries</li>']);
  });
  it('404 when none is found', async () => {
    expect((await ask(await createServer(fixtures, { extensions: ['htm', 'html', 'txt'] }), '/bob')).status).toBe(404);
  });
});

describe('fallthrough', () => {
  const tooLong = () => fixtures + '/foobar'.repeat(9999);

  it('defaults to true', async () => {
    const r = await ask(await createServer(), '/does-not-exist');
    expect([r.status, r.text]).toEqual([404, 'sorry!']);
  });

  describe('true', () => {
    let server: Running;
    beforeAll(async () => {
      server = await createServer(fixtures, { fallthrough: true });
    });
    it('passes OPTIONS on', async () => {
      expect((await ask(server, '/todo.txt', {}, 'OPTIONS')).text).toBe('sorry!');
    });
    it('passes a malformed URL on', async () => {
      expect((await ask(server, '/%')).text).toBe('sorry!');
    });
    it('passes a climb above root on', async () => {
      expect((await ask(server, '/users/../../todo.txt')).text).toBe('sorry!');
    });
    it('passes a path too long on', async () => {
      expect((await ask(await createServer(tooLong(), { fallthrough: true }), '/')).text).toBe('sorry!');
    });
    it('redirect true: passes a folder without index on', async () => {
      expect((await ask(await createServer(fixtures, { fallthrough: true, redirect: true }), '/pets/')).text).toBe('sorry!');
    });
    it('redirect true: redirects a folder without its slash', async () => {
      const r = await ask(await createServer(fixtures, { fallthrough: true, redirect: true }), '/pets');
      expect(r.status).toBe(301);
      expect(r.text).toContain('Redirecting');
    });
    it('redirect false: passes a folder on', async () => {
      expect((await ask(await createServer(fixtures, { fallthrough: true, redirect: false }), '/pets/')).text).toBe('sorry!');
    });
    it('redirect false: passes a folder without its slash on', async () => {
      expect((await ask(await createServer(fixtures, { fallthrough: true, redirect: false }), '/pets')).text).toBe('sorry!');
    });
  });

  describe('false', () => {
    let server: Running;
    beforeAll(async () => {
      server = await createServer(fixtures, { fallthrough: false });
    });
    it('answers OPTIONS 405 with Allow', async () => {
      const r = await ask(server, '/todo.txt', {}, 'OPTIONS');
      expect([r.status, r.headers.allow]).toEqual([405, 'GET, HEAD']);
    });
    it('hands a malformed URL to next(err): 400 BadRequestError', async () => {
      const r = await ask(server, '/%');
      expect([r.status, r.text]).toEqual([400, 'BadRequestError ']);
    });
    it('hands a climb above root to next(err): 403 ForbiddenError', async () => {
      const r = await ask(server, '/users/../../todo.txt');
      expect([r.status, r.text]).toEqual([403, 'ForbiddenError ']);
    });
    it('hands a path too long to next(err): 404 with ENAMETOOLONG', async () => {
      const r = await ask(await createServer(tooLong(), { fallthrough: false }), '/');
      expect([r.status, r.text]).toEqual([404, 'NotFoundError ENAMETOOLONG']);
    });
    it('redirect true: a folder without index is 404', async () => {
      const r = await ask(await createServer(fixtures, { fallthrough: false, redirect: true }), '/pets/');
      expect([r.status, r.text]).toEqual([404, 'NotFoundError ENOENT']);
    });
    it('redirect true: a folder without its slash redirects', async () => {
      const r = await ask(await createServer(fixtures, { fallthrough: false, redirect: true }), '/pets');
      expect(r.status).toBe(301);
      expect(r.text).toContain('Redirecting');
    });
    it('redirect false: a folder is 404', async () => {
      expect((await ask(await createServer(fixtures, { fallthrough: false, redirect: false }), '/pets/')).text).toBe('NotFoundError ENOENT');
    });
    it('redirect false: a folder without its slash is 404', async () => {
      expect((await ask(await createServer(fixtures, { fallthrough: false, redirect: false }), '/pets')).text).toBe('NotFoundError ');
    });
  });
});

describe('hidden files', () => {
  it('are served with dotfiles: "allow"', async () => {
    const r = await ask(await createServer(fixtures, { dotfiles: 'allow' }), '/.hidden');
    expect([r.status, r.text]).toEqual([200, 'I am hidden']);
  });
});

describe('immutable', () => {
  it('is off by default', async () => {
    expect((await ask(await createServer(fixtures), '/nums.txt')).headers['cache-control']).toBe('public, max-age=0');
  });
  it('adds the directive', async () => {
    const r = await ask(await createServer(fixtures, { immutable: true, maxAge: '1h' }), '/nums.txt');
    expect(r.headers['cache-control']).toBe('public, max-age=3600, immutable');
  });
});

describe('lastModified', () => {
  it('false: no Last-Modified', async () => {
    const r = await ask(await createServer(fixtures, { lastModified: false }), '/nums.txt');
    expect(r.headers['last-modified']).toBeUndefined();
    expect(r.text).toBe('123456789');
  });
  it('true: Last-Modified', async () => {
    const r = await ask(await createServer(fixtures, { lastModified: true }), '/nums.txt');
    expect(r.headers['last-modified']).toMatch(/^\w{3}, \d+ \w+ \d+ \d+:\d+:\d+ \w+$/);
  });
});

describe('maxAge', () => {
  it('takes a string', async () => {
    expect((await ask(await createServer(fixtures, { maxAge: '30d' }), '/todo.txt')).headers['cache-control']).toBe(`public, max-age=${60 * 60 * 24 * 30}`);
  });
  it('caps Infinity at a year', async () => {
    expect((await ask(await createServer(fixtures, { maxAge: Infinity }), '/todo.txt')).headers['cache-control']).toBe(`public, max-age=${60 * 60 * 24 * 365}`);
  });
});

describe('redirect', () => {
  let server: Running;
  beforeAll(async () => {
    server = await createServer(fixtures, undefined, (req) => {
      req.url = req.url!.replace(/\/snow(\/|$)/, '/snow \u2603$1');
    });
  });
  it('redirects a folder', async () => {
    const r = await ask(server, '/users');
    expect([r.status, r.headers.location]).toEqual([301, '/users/']);
  });
  it('links the new location in its HTML body', async () => {
    const r = await ask(server, '/users');
    expect(r.text).toContain('href="/users/"');
  });
  it('keeps the query', async () => {
    expect((await ask(server, '/users?name=john')).headers.location).toBe('/users/?name=john');
  });
  it('never redirects to a protocol-relative location', async () => {
    expect((await ask(server, '//users')).headers.location).toBe('/users/');
  });
  it('percent-encodes the location', async () => {
    const r = await ask(server, '/snow');
    expect(r.headers.location).toBe('/snow%20%E2%98%83/');
    expect(r.headers['content-type']).toMatch(/html/);
    expect(r.text).toContain('>/snow%20%E2%98%83/<');
  });
  it('sends Content-Security-Policy: default-src \'none\'', async () => {
    expect((await ask(server, '/users')).headers['content-security-policy']).toBe("default-src 'none'");
  });
  it('does not redirect the root', async () => {
    expect((await ask(server, '/')).status).toBe(404);
  });
  it('false: a folder is 404', async () => {
    expect((await ask(await createServer(fixtures, { redirect: false }), '/users')).status).toBe(404);
  });
});

describe('setHeaders', () => {
  const custom = { setHeaders: (res: ServerResponse | import('node:http2').Http2ServerResponse) => void res.setHeader('x-custom', 'set') };
  it('must be a function', () => {
    expect(() => serveStatic(fixtures, { setHeaders: 3 as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
  it('runs for a file', async () => {
    expect((await ask(await createServer(fixtures, custom), '/nums.txt')).headers['x-custom']).toBe('set');
  });
  it('does not run for a 404', async () => {
    const r = await ask(await createServer(fixtures, custom), '/bogus');
    expect([r.status, r.headers['x-custom']]).toEqual([404, undefined]);
  });
  it('does not run for a redirect', async () => {
    const r = await ask(await createServer(fixtures, custom), '/users');
    expect([r.status, r.headers['x-custom']]).toEqual([301, undefined]);
  });
});

describe('a root that does not exist', () => {
  it('404s any file', async () => {
    expect((await ask(await createServer(join(fixtures, 'does_not_exist')), '/todo.txt')).status).toBe(404);
  });
  it('lets no climb through', async () => {
    expect((await ask(await createServer(join(fixtures, 'does_not_exist')), '/../todo.txt')).status).toBe(404);
  });
});

describe('climbing above root', () => {
  let server: Running;
  beforeAll(async () => {
    server = await createServer(fixtures, { fallthrough: false });
  });
  it('catches a percent-encoded ../', async () => {
    expect((await ask(server, '/users/%2e%2e/%2e%2e/todo.txt')).status).toBe(403);
  });
  it('discloses nothing of the root path', async () => {
    expect((await ask(server, '/users/../../fixtures/todo.txt')).status).toBe(403);
  });
});

describe('Range', () => {
  let server: Running;
  beforeAll(async () => {
    server = await createServer();
  });
  const range = (value: string) => ask(server, '/nums.txt', { Range: value });
  it('serves a byte range', async () => {
    expect((await range('bytes=0-4')).text).toBe('12345');
  });
  it('is inclusive', async () => {
    expect((await range('bytes=0-0')).text).toBe('1');
  });
  it('sets Content-Range', async () => {
    expect((await range('bytes=2-5')).headers['content-range']).toBe('bytes 2-5/9');
  });
  it('takes -n', async () => {
    expect((await range('bytes=-3')).text).toBe('789');
  });
  it('takes n-', async () => {
    expect((await range('bytes=3-')).text).toBe('456789');
  });
  it('answers 206', async () => {
    expect((await range('bytes=0-4')).status).toBe(206);
  });
  it('sets Content-Length to the bytes sent', async () => {
    const r = await range('bytes=2-3');
    expect([r.status, r.headers['content-length'], r.text]).toEqual([206, '2', '34']);
  });
  it('cuts a last byte past the end to the end', async () => {
    expect((await range('bytes=2-50')).headers['content-range']).toBe('bytes 2-8/9');
  });
  it('sets Content-Length for the cut range', async () => {
    const r = await range('bytes=2-50');
    expect([r.status, r.headers['content-length']]).toEqual([206, '7']);
  });
  it('answers 416 when the first byte is past the end', async () => {
    expect((await range('bytes=9-50')).status).toBe(416);
  });
  it('says the whole length in the 416', async () => {
    expect((await range('bytes=9-50')).headers['content-range']).toBe('bytes */9');
  });
  it('ignores a malformed Range', async () => {
    const r = await range('asdf');
    expect([r.status, r.text]).toEqual([200, '123456789']);
  });
});

describe('index at the mount point', () => {
  it('redirects correctly', async () => {
    const server = await createServer(join(fixtures, 'users'), undefined, mount(2));
    const r = await ask(server, '/users');
    expect([r.status, r.headers.location]).toEqual([301, '/users/']);
  });
});

describe('mounted', () => {
  let server: Running;
  beforeAll(async () => {
    server = await createServer(fixtures, undefined, mount(3));
  });
  it('redirects relative to originalUrl', async () => {
    const r = await ask(server, '/static/users');
    expect([r.status, r.headers.location]).toEqual([301, '/static/users/']);
  });
  it('takes a URL that looks like user info as a path', async () => {
    const r = await ask(server, '//todo@txt');
    expect([r.status, r.headers.location]).toEqual([301, '/todo@txt/']);
  });
});

describe('a file as the root, mounted', () => {
  let server: Running;
  beforeAll(async () => {
    server = await createServer(join(fixtures, 'todo.txt'), undefined, mount(2));
  });
  it('serves the file at the mount point without a slash', async () => {
    const r = await ask(server, '/todo');
    expect([r.status, r.text]).toEqual([200, '- groceries']);
  });
  it('404s the mount point with a slash', async () => {
    expect((await ask(server, '/todo/')).status).toBe(404);
  });
});

describe('a status set before serving', () => {
  it('is answered as it is, the file as its body', async () => {
    let n = 0;
    const server = await createServer(fixtures, undefined, (_req, res) => {
      if (n++) res.statusCode = 500;
    });
    const { headers } = await ask(server, '/todo.txt');
    const r = await ask(server, '/todo.txt', { 'If-None-Match': headers.etag });
    expect([r.status, r.text]).toEqual([500, '- groceries']);
  });
});

describe('index files off', () => {
  let server: Running;
  beforeAll(async () => {
    server = await createServer(fixtures, { index: false }, mount(2));
  });
  it('passes a folder on', async () => {
    const r = await ask(server, '/static/users/');
    expect([r.status, r.text]).toEqual([404, 'sorry!']);
  });
  it('still redirects to the slash', async () => {
    expect((await ask(server, '/static/users')).headers.location).toBe('/static/users/');
  });
  it('passes the mount point on', async () => {
    const r = await ask(server, '/static/');
    expect([r.status, r.text]).toEqual([404, 'sorry!']);
  });
  it('redirects the mount point to its slash', async () => {
    expect((await ask(server, '/static')).headers.location).toBe('/static/');
  });
});
