// The test suite of @fastify/static 10.1 (test/static.test.js,
// test/dir-list.test.js, test/content-type.test.js), ported: its tests, one
// case here per upstream test() with its subtests inside, rewritten against
// fastifyServeStatic with the fixtures rewritten too. Where some subtests of
// an upstream test differ by choice, they are split into a case named
// [differs], with the reason beside it (docs/ported-suites.md).
// What has no counterpart here is listed at the end, with why.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fastifyServeStatic, type FastifyServeStaticOptions } from '../dist/cjs/index.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { ask, writeTree } from './support/ported.js';
import type { Running } from './support/http.js';

let dir: TempDir;
/** The fixture folders, by upstream name. */
const at = (name: string, ...rest: string[]) => join(dir.path, name, ...rest);
const read = (name: string, ...rest: string[]) => readFileSync(at(name, ...rest), 'utf8');

beforeAll(() => {
  dir = makeTempDir('zerocopy-port-fastify-static-');
  writeTree(at('static'), {
    'index.html': '<html>\n  <body>\n    the body\n  </body>\n</html>\n',
    'index.css': 'body { color: red }\n',
    'foo.html': '<html><body>foo</body></html>\n',
    'foobar.html': '<html><body>foobar</body></html>\n',
    '.example': 'contents of a dotfile\n',
    'a .md': '# a spaced name\n',
    '100%.txt': 'one hundred percent\n',
    'deep/path/for/test/purpose/foo.html': '<html><body>deep foo</body></html>\n',
    'deep/path/for/test/index.html': '<html><body>inner index</body></html>\n',
    'shallow/sample.jpg': Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]),
    'shallow/empty/': '',
  });
  writeTree(at('static2'), { 'bar.html': '<html><body>bar</body></html>\n', 'index.html': '<html><body>index 2</body></html>\n' });
  writeTree(at('static-pre-compressed'), {
    'all-three.html': '<html><body>all three, uncompressed</body></html>\n',
    'all-three.html.br': 'ALL-THREE-BR',
    'all-three.html.gz': 'ALL-THREE-GZ',
    'all-three.html.deflate': 'ALL-THREE-DEFLATE',
    'gzip-only.html': '<html>gzip only</html>\n',
    'gzip-only.html.gz': 'GZIP-ONLY-GZ',
    'uncompressed.html': '<html>uncompressed</html>\n',
    'index.html': '<html>index</html>\n',
    'index.html.br': 'INDEX-BR',
    'dir/index.html': '<html>dir index</html>\n',
    'dir/index.html.br': 'DIR-INDEX-BR',
    'dir-gz/index.html': '<html>dir-gz index</html>\n',
    'dir-gz/index.html.gz': 'DIR-GZ-INDEX-GZ',
    'sample.jpg': Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1]),
    'sample.jpg.br': 'JPG-BR',
    'baz.json': '{\n  "baz": "baz"\n}\n',
    'empty/.gitkeep': '',
  });
  writeTree(at('static-hidden'), { '.hidden/sample.json': '{ "hidden": true }\n' });
  writeTree(at('static-dotfiles'), { '.aaa': 'aaa\n', 'test.txt': 'test\n', 'dir/': '' });
  writeTree(at('static-allowed-path'), { 'public/index.html': 'public\n', 'private/secret.txt': 'secret\n' });
  writeTree(at('static-encode'), { '[...]/a .md': '# encoded\n' });
  writeTree(at('content-type'), {
    'index.html': '<html></html>\n',
    'index.html.br': 'BR',
    'index.css': '',
    'index.css.br': 'BR',
    'sample.jpg': Buffer.from([0xff, 0xd8]),
    'test.txt': '',
    'test.txt.br': 'BR',
    binary: '',
    'binary.br': 'BR',
  });
  symlinkSync(at('static', 'foo.html'), at('static', 'linked.html'));
});

const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});
afterAll(() => dir?.remove());

/** A Fastify app with the plugin registered, `setup` applied, listening: the app and its base URL. */
async function serve(options: FastifyServeStaticOptions, setup?: (app: FastifyInstance) => void): Promise<{ app: FastifyInstance; url: string; port: number }> {
  const app = Fastify();
  apps.push(app);
  app.register(fastifyServeStatic, options);
  setup?.(app);
  const url = (await app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
  return { app, url, port: Number(new URL(url).port) };
}

/** The app, not listening, for fastify.inject(). */
async function injectable(options: FastifyServeStaticOptions, setup?: (app: FastifyInstance) => void): Promise<FastifyInstance> {
  const app = Fastify();
  apps.push(app);
  app.register(fastifyServeStatic, options);
  setup?.(app);
  await app.ready();
  return app;
}

/** upstream's genericResponseChecks: what every file response carries. */
function generic(r: Response) {
  expect(r.headers.get('content-type')).toMatch(/text\/(html|css)/);
  for (const name of ['etag', 'last-modified', 'date', 'cache-control']) expect(r.headers.get(name), name).toBeTruthy();
}

/** upstream's genericErrorResponseChecks: Fastify's own JSON error. */
function genericError(r: Response | { headers: Record<string, string> }) {
  const type = r.headers instanceof Headers ? r.headers.get('content-type') : r.headers['content-type'];
  expect(type).toBe('application/json; charset=utf-8');
}

const get = (url: string, init?: RequestInit) => fetch(url, init);
const raw = (port: number, target: string, headers?: Record<string, string>) => ask({ port } as Running, target, headers);

describe('prefixes', () => {
  for (const [name, prefix, extra] of [
    ['register /static prefixAvoidTrailingSlash', '/static', { prefixAvoidTrailingSlash: true }],
    ['register /static', '/static', {}],
    ['register /static/', '/static/', {}],
  ] as const) {
    it(name, async () => {
      const { url } = await serve({ root: at('static'), prefix, ...extra });
      const index = await get(`${url}/static/index.html`);
      expect([index.status, await index.text()]).toEqual([200, read('static', 'index.html')]);
      generic(index);
      generic(await get(`${url}/static/index.css`));
      expect(await (await get(`${url}/static/`)).text()).toBe(read('static', 'index.html'));
      expect(await (await get(`${url}/static`)).text()).toBe(read('static', 'index.html')); // through the redirect
      expect(await (await get(`${url}/static/deep/path/for/test/purpose/foo.html`)).text()).toBe(read('static', 'deep/path/for/test/purpose/foo.html'));
      expect(await (await get(`${url}/static/deep/path/for/test/`)).text()).toBe(read('static', 'deep/path/for/test/index.html'));
      for (const missing of ['/static/this/path/for/test', '/static/this/path/doesnt/exist.html', '/static/../index.js', '/foobar.html']) {
        const r = await get(`${url}${missing}`);
        expect(r.status, missing).toBe(404);
        genericError(r);
      }
      const head = await get(`${url}/static/index.html`, { method: 'HEAD' });
      expect([head.status, await head.text()]).toEqual([200, '']);
      generic(head);
      const etag = index.headers.get('etag')!;
      expect((await get(`${url}/static/index.html`, { headers: { 'if-none-match': etag }, cache: 'no-cache' })).status).toBe(304);
    });
  }

  it('register no prefix', async () => {
    const { url } = await serve({ root: at('static') });
    expect(await (await get(`${url}/index.html`)).text()).toBe(read('static', 'index.html'));
    generic(await get(`${url}/index.css`));
    expect(await (await get(`${url}/`)).text()).toBe(read('static', 'index.html'));
    expect(await (await get(`${url}/deep/path/for/test/purpose/foo.html`)).text()).toBe(read('static', 'deep/path/for/test/purpose/foo.html'));
    expect(await (await get(`${url}/deep/path/for/test/`)).text()).toBe(read('static', 'deep/path/for/test/index.html'));
    expect((await get(`${url}/this/path/doesnt/exist.html`)).status).toBe(404);
    expect((await get(`${url}/../index.js`)).status).toBe(404);
  });

  it('prefix default', async () => {
    await expect(injectable({ root: at('static') })).resolves.toBeDefined();
  });

  it('serves wildcard files when registered in an encapsulated context', async () => {
    const app = Fastify();
    apps.push(app);
    app.register(
      async (child) => {
        child.register(fastifyServeStatic, { root: at('static'), prefix: '/public', decorateReply: false });
      },
      { prefix: '/nested' },
    );
    const r = await app.inject({ method: 'GET', url: '/nested/public/index.css' });
    expect([r.statusCode, r.headers['content-type'], r.body]).toEqual([200, 'text/css; charset=utf-8', read('static', 'index.css')]);
  });
});

describe('several roots', () => {
  it('register /static and /static2', async () => {
    const { url } = await serve({ root: [at('static'), at('static2')], prefix: '/static' }, (app) => {
      app.get('/foo', (_req, reply) => void reply.sendFile('foo.html'));
      app.get('/bar', (_req, reply) => void reply.sendFile('bar.html'));
    });
    const index = await (await get(`${url}/static/index.html`)).text();
    expect(index).toBe(read('static', 'index.html')); // the first root wins
    expect(await (await get(`${url}/static/bar.html`)).text()).toBe(read('static2', 'bar.html'));
    expect(await (await get(`${url}/foo`)).text()).toBe(read('static', 'foo.html'));
    expect(await (await get(`${url}/bar`)).text()).toBe(read('static2', 'bar.html'));
  });

  it('register /static and /static2 without wildcard', async () => {
    const { url } = await serve({ root: [at('static'), at('static2')], wildcard: false });
    expect(await (await get(`${url}/index.html`)).text()).toBe(read('static', 'index.html'));
    expect(await (await get(`${url}/bar.html`)).text()).toBe(read('static2', 'bar.html'));
  });

  it('register with wildcard false and multiple roots preserves directory index priority', async () => {
    const { url } = await serve({ root: [at('static'), at('static2')], wildcard: false });
    expect(await (await get(`${url}/`)).text()).toBe(read('static', 'index.html'));
  });

  it('sendFile with multiple roots', async () => {
    const { url } = await serve({ root: [at('static'), at('static2')], prefix: '/static' }, (app) => {
      app.get('/foo', (_req, reply) => void reply.sendFile('foo.html'));
      app.get('/foo-with-options', (_req, reply) => void reply.sendFile('foo.html', { maxAge: 20_000 }));
      app.get('/bar', (_req, reply) => void reply.sendFile('bar.html'));
      app.get('/bar-with-options', (_req, reply) => void reply.sendFile('bar.html', { maxAge: 20_000 }));
    });
    for (const [path, file, cache] of [
      ['/foo', ['static', 'foo.html'], 'public, max-age=0'],
      ['/foo-with-options', ['static', 'foo.html'], 'public, max-age=20'],
      ['/bar', ['static2', 'bar.html'], 'public, max-age=0'],
      ['/bar-with-options', ['static2', 'bar.html'], 'public, max-age=20'],
    ] as const) {
      const r = await get(`${url}${path}`);
      expect([r.status, await r.text(), r.headers.get('cache-control')], path).toEqual([200, read(file[0], file[1]), cache]);
      generic(r);
    }
  });

  it('will serve pre-compressed files with .gzip if multi-root', async () => {
    const app = await injectable({ root: [at('static-pre-compressed'), at('static')], preCompressed: true });
    const r = await app.inject({ url: '/gzip-only.html', headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect([r.statusCode, r.headers['content-encoding'], r.rawPayload.toString()]).toEqual([200, 'gzip', 'GZIP-ONLY-GZ']);
  });

  it('will still serve un-compressed files with multi-root and preCompressed as true', async () => {
    const app = await injectable({ root: [at('static-pre-compressed'), at('static')], preCompressed: true });
    const r = await app.inject({ url: '/foobar.html', headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect([r.statusCode, r.headers['content-encoding'], r.body]).toEqual([200, undefined, read('static', 'foobar.html')]);
  });

  it('will serve un-compressed files from the first root with multi-root and preCompressed as true', async () => {
    const app = await injectable({ root: [at('static'), at('static-pre-compressed')], preCompressed: true });
    const r = await app.inject({ url: '/index.html', headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect([r.statusCode, r.headers['content-encoding'], r.body]).toEqual([200, undefined, read('static', 'index.html')]);
  });

  it('converts URL to path', async () => {
    const app = await injectable({ root: pathToFileURL(at('static')) });
    const r = await app.inject({ url: '/foo.html' });
    expect([r.statusCode, r.body]).toEqual([200, read('static', 'foo.html')]);
  });

  it('converts array of URLs to path, contains string path', async () => {
    const app = await injectable({ root: [pathToFileURL(at('static')), at('static2')] });
    expect((await app.inject({ url: '/foo.html' })).body).toBe(read('static', 'foo.html'));
    expect((await app.inject({ url: '/bar.html' })).body).toBe(read('static2', 'bar.html'));
  });
});

describe('Fastify handlers', () => {
  it('[differs] payload.path is set: onSend does not see a file response', async () => {
    // The file goes out on the raw connection (hijacked), so Fastify's
    // onSend hooks see no stream payload; they still see every 404.
    const payloads: unknown[] = [];
    const { url } = await serve({ root: at('static'), prefix: '/static/' }, (app) =>
      app.addHook('onSend', async (_req, _reply, payload) => {
        payloads.push(payload);
        return payload;
      }),
    );
    expect(await (await get(`${url}/static/index.html`)).text()).toBe(read('static', 'index.html'));
    expect(payloads).toEqual([]);
    expect((await get(`${url}/static/this/path/doesnt/exist.html`)).status).toBe(404);
    expect(payloads).toHaveLength(1);
  });

  it('error responses can be customized with fastify.setErrorHandler()', async () => {
    const { port } = await serve({ root: at('static') }, (app) =>
      app.setErrorHandler((error: { statusCode?: number }, _req, reply) => {
        void reply.code(403).type('text/plain').send(`${error.statusCode} Custom error message`);
      }),
    );
    // A climb the router let through: refused, and the refusal is the app's error handler's.
    const r = await raw(port, '/foo/%2e%2e/index.html');
    expect([r.status, r.headers['content-type'], r.text]).toEqual([403, 'text/plain', '403 Custom error message']);
  });

  it('not found responses can be customized with fastify.setNotFoundHandler()', async () => {
    const { url } = await serve({ root: at('static') }, (app) =>
      app.setNotFoundHandler((request, reply) => void reply.code(404).type('text/plain').send(`${request.raw.url} Not Found`)),
    );
    const r = await get(`${url}/path/does/not/exist.html`);
    expect([r.status, r.headers.get('content-type'), await r.text()]).toEqual([404, 'text/plain', '/path/does/not/exist.html Not Found']);
  });

  it('setNotFoundHandler() can sendFile for a directory without an index file', async () => {
    const app = await injectable({ root: at('static'), redirect: false }, (a) => a.setNotFoundHandler((_req, reply) => reply.sendFile('index.html')));
    const r = await app.inject({ method: 'GET', url: '/deep' });
    expect([r.statusCode, r.headers['content-type'], r.body]).toEqual([200, 'text/html; charset=utf-8', read('static', 'index.html')]);
  });

  it('fastify.setNotFoundHandler() is called for dotfiles when send is configured to ignore dotfiles', async () => {
    const { url } = await serve({ root: at('static'), dotfiles: 'ignore' }, (app) =>
      app.setNotFoundHandler((request, reply) => void reply.code(404).type('text/plain').send(`${request.raw.url} Not Found`)),
    );
    const r = await get(`${url}/path/does/not/.exist.html`);
    expect([r.status, await r.text()]).toEqual([404, '/path/does/not/.exist.html Not Found']);
  });

  it('inject support', async () => {
    const app = await injectable({ root: at('static'), prefix: '/static' });
    const r = await app.inject({ method: 'GET', url: '/static/index.html' });
    expect([r.statusCode, r.body]).toEqual([200, read('static', 'index.html')]);
  });

  it('routes should fallback to default errorHandler', async () => {
    const app = Fastify();
    apps.push(app);
    app.addHook('onRoute', (route) => {
      route.preHandler = (_req, _reply, done) => done(Object.assign(new Error(''), { code: 'SOMETHING_ELSE' }));
    });
    app.register(fastifyServeStatic, { root: at('static'), prefix: '/static/' });
    const r = await app.inject({ method: 'GET', url: '/static/index.html' });
    expect([r.statusCode, r.json()]).toEqual([500, { statusCode: 500, code: 'SOMETHING_ELSE', error: 'Internal Server Error', message: '' }]);
  });

  it('routes should propagate return value from async custom errorHandler', async () => {
    const app = Fastify();
    apps.push(app);
    app.setErrorHandler(async (_error, _req, reply) => {
      void reply.code(418).type('text/plain');
      return 'handled by return value';
    });
    app.addHook('onRoute', (route) => {
      route.preHandler = (_req, _reply, done) => done(Object.assign(new Error(''), { code: 'SOMETHING_ELSE' }));
    });
    app.register(fastifyServeStatic, { root: at('static'), prefix: '/static/' });
    const r = await app.inject({ method: 'GET', url: '/static/index.html' });
    expect([r.statusCode, r.body]).toEqual([418, 'handled by return value']);
  });

  it('register /static with constraints', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/static', constraints: { version: '1.2.0' } });
    const ok = await get(`${url}/static/index.html`, { headers: { 'accept-version': '1.x' } });
    expect([ok.status, await ok.text()]).toEqual([200, read('static', 'index.html')]);
    const other = await get(`${url}/static/index.html`, { headers: { 'accept-version': '2.x' } });
    expect(other.status).toBe(404);
    genericError(other);
  });

  it('register /static/ with schemaHide true, false, and by default', async () => {
    // Three upstream tests in one: the routes' schema.hide follows the option, true by default.
    for (const schemaHide of [true, false, undefined]) {
      const hidden: unknown[] = [];
      const app = Fastify();
      apps.push(app);
      app.addHook('onRoute', (route) => void hidden.push((route.schema as { hide?: boolean } | undefined)?.hide));
      app.register(fastifyServeStatic, { root: at('static'), prefix: '/static/', schemaHide });
      await app.ready();
      expect(new Set(hidden), String(schemaHide)).toEqual(new Set([schemaHide ?? true]));
      expect((await app.inject({ url: '/static/index.html' })).body).toBe(read('static', 'index.html'));
    }
  });

  it('register /static/ with custom log level', async () => {
    const lines: string[] = [];
    const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => void lines.push(line) } } });
    apps.push(app);
    app.register(fastifyServeStatic, { root: at('static'), prefix: '/static/', logLevel: 'warn' });
    expect((await app.inject({ url: '/static/index.html' })).statusCode).toBe(200);
    expect(lines.filter((line) => line.includes('incoming request'))).toEqual([]);
  });
});

describe('serve and decorateReply', () => {
  it('serving disabled', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/static/', serve: false }, (app) =>
      app.get('/foo/bar', (_req, reply) => void reply.sendFile('index.html')),
    );
    expect((await get(`${url}/static/index.html`)).status).toBe(404);
    const r = await get(`${url}/foo/bar`);
    expect([r.status, await r.text()]).toEqual([200, read('static', 'index.html')]);
    generic(r);
  });

  it('serving disabled without root', async () => {
    const { url } = await serve({ prefix: '/static/', serve: false }, (app) => {
      app.get('/foo/bar/r', (_req, reply) => void reply.sendFile('index.html'));
      app.get('/foo/bar/a', (_req, reply) => void reply.sendFile(at('static', 'index.html')));
    });
    const absolute = await get(`${url}/foo/bar/a`);
    expect([absolute.status, await absolute.text()]).toEqual([200, read('static', 'index.html')]);
    expect((await get(`${url}/foo/bar/r`)).status).toBe(404);
  });

  it('sendFile', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/static' }, (app) => {
      app.get('/foo/bar', (_req, reply) => void reply.sendFile('/index.html'));
      app.get('/root/path/override/test', (_req, reply) => void reply.sendFile('/foo.html', at('static', 'deep/path/for/test/purpose')));
      app.get('/foo/bar/options/override/test', (_req, reply) => void reply.sendFile('/index.html', { maxAge: 30_000 }));
    });
    expect(await (await get(`${url}/foo/bar`)).text()).toBe(read('static', 'index.html'));
    expect(await (await get(`${url}/root/path/override/test`)).text()).toBe(read('static', 'deep/path/for/test/purpose/foo.html'));
    expect(await (await get(`${url}/foo/bar`)).text()).toBe(read('static', 'index.html'));
    const options = await get(`${url}/foo/bar/options/override/test`);
    expect(options.headers.get('cache-control')).toBe('public, max-age=30');
    generic(options);
  });

  it('sendFile disabled', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/static', decorateReply: false }, (app) =>
      app.get('/foo/bar', (_req, reply) => void reply.send((reply as unknown as { sendFile?: unknown }).sendFile === undefined ? 'pass' : 'fail')),
    );
    expect(await (await get(`${url}/foo/bar`)).text()).toBe('pass');
  });

  it('download', async () => {
    const purpose = at('static', 'deep/path/for/test/purpose');
    const { url } = await serve({ root: at('static'), prefix: '/static' }, (app) => {
      app.get('/foo/bar', (_req, reply) => void reply.download('/index.html'));
      app.get('/foo/bar/relative', (_req, reply) => void reply.download('index.html'));
      app.get('/foo/bar/change', (_req, reply) => void reply.download('/index.html', 'hello-world.html'));
      app.get('/foo/bar/override', (_req, reply) => void reply.download('/index.html', 'hello-world.html', { maxAge: '2 hours', immutable: true }));
      app.get('/foo/bar/override/2', (_req, reply) => void reply.download('/index.html', { acceptRanges: false }));
      app.get('/root/path/override/test', (_req, reply) => void reply.download('/foo.html', { root: purpose }));
      app.get('/root/path/override/test/change', (_req, reply) => void reply.download('/foo.html', 'hello-world.html', { root: purpose }));
    });
    const cases: [string, string, string][] = [
      ['/foo/bar', 'attachment; filename=index.html', read('static', 'index.html')],
      ['/foo/bar/relative', 'attachment; filename=index.html', read('static', 'index.html')],
      ['/foo/bar/change', 'attachment; filename=hello-world.html', read('static', 'index.html')],
      ['/root/path/override/test', 'attachment; filename=foo.html', read('static', 'deep/path/for/test/purpose/foo.html')],
      ['/foo/bar/override', 'attachment; filename=hello-world.html', read('static', 'index.html')],
      ['/foo/bar/override/2', 'attachment; filename=index.html', read('static', 'index.html')],
      ['/root/path/override/test/change', 'attachment; filename=hello-world.html', read('static', 'deep/path/for/test/purpose/foo.html')],
    ];
    for (const [path, disposition, body] of cases) {
      const r = await get(`${url}${path}`);
      expect([r.status, r.headers.get('content-disposition'), await r.text()], path).toEqual([200, disposition, body]);
      generic(r);
    }
    expect((await get(`${url}/foo/bar/override`)).headers.get('cache-control')).toBe('public, max-age=7200, immutable');
    expect((await get(`${url}/foo/bar/override/2`)).headers.get('accept-ranges')).toBeNull();
  });

  it('download disabled', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/static', decorateReply: false }, (app) =>
      app.get('/foo/bar', (_req, reply) => void reply.send((reply as unknown as { download?: unknown }).download === undefined ? 'pass' : 'fail')),
    );
    expect(await (await get(`${url}/foo/bar`)).text()).toBe('pass');
  });

  it('respect the .code when using with sendFile', async () => {
    const { url } = await serve({ root: at('static') }, (app) => app.get('/custom', (_req, reply) => reply.code(404).type('text/html').sendFile('foo.html')));
    const r = await get(`${url}/custom`, { method: 'HEAD' });
    expect([r.status, r.headers.get('content-type'), r.headers.get('content-length'), await r.text()]).toEqual([
      404,
      'text/html',
      String(Buffer.byteLength(read('static', 'foo.html'))),
      '',
    ]);
  });

  it('respect the .type when using with sendFile with contentType disabled', async () => {
    const { url } = await serve({ root: at('static'), contentType: false } as FastifyServeStaticOptions, (app) =>
      app.get('/custom', (_req, reply) => reply.type('text/html; charset=windows-1252').sendFile('foo.html')),
    );
    const r = await get(`${url}/custom`);
    expect([r.status, r.headers.get('content-type'), await r.text()]).toEqual([200, 'text/html; charset=windows-1252', read('static', 'foo.html')]);
  });

  it('[differs] sendFile resolves a `..` that stays inside the root', async () => {
    // send's rule, as serveFile's: a path the handler chose is no route a
    // guard could have been skipped on. @fastify/static answers 403.
    const { url } = await serve({ root: at('static') }, (app) => app.get('/x', (_req, reply) => reply.sendFile('deep/../foo.html')));
    expect(await (await get(`${url}/x`)).text()).toBe(read('static', 'foo.html'));
  });

  it('[differs] sendFile takes non-canonical segments (`./`, `//`) as the same path', async () => {
    const { url } = await serve({ root: at('static') }, (app) => app.get('/x', (_req, reply) => reply.sendFile('.//deep/./path/for/test/index.html')));
    expect(await (await get(`${url}/x`)).text()).toBe(read('static', 'deep/path/for/test/index.html'));
  });
});

describe('allowedPath', () => {
  it('allowedPath option - pathname', async () => {
    const { url } = await serve({ root: at('static'), allowedPath: (pathname) => pathname !== '/foobar.html' });
    const denied = await get(`${url}/foobar.html`);
    expect(denied.status).toBe(404);
    genericError(denied);
    expect((await get(`${url}/index.css`)).status).toBe(200);
  });

  it('[differs] allowedPath option - pathname is normalized before filtering', async () => {
    // `//foobar.html` and `/./foobar.html` are refused as non-canonical
    // (403) as upstream refuses them; the 404 for /foobar.html is the same.
    const { port } = await serve({ root: at('static'), allowedPath: (pathname) => pathname !== '/foobar.html' });
    expect((await raw(port, '/foobar.html')).status).toBe(404);
    expect((await raw(port, '//foobar.html')).status).toBe(403);
    expect((await raw(port, '/./foobar.html')).status).toBe(403);
    expect((await raw(port, '/index.css')).headers['content-type']).toMatch(/text\/css/);
  });

  it('allowedPath option - request subtree checks use normalized pathname', async () => {
    const { port } = await serve({
      root: at('static-allowed-path'),
      allowedPath: (pathname, _root, request) => request.headers['x-admin'] === '1' || pathname.startsWith('/public/'),
    });
    expect((await raw(port, '/public/index.html')).text).toBe('public\n');
    expect((await raw(port, '/private/secret.txt')).status).toBe(404);
    expect((await raw(port, '/public/../private/secret.txt')).status).toBe(403);
  });

  it('allowedPath option - request', async () => {
    const { url } = await serve({ root: at('static'), allowedPath: (_pathname, _root, request) => request.query.key === 'temporaryKey' });
    expect((await get(`${url}/foobar.html`)).status).toBe(404);
    expect((await get(`${url}/index.css?key=temporaryKey`)).status).toBe(200);
  });

  it('allowedPath option - sendFile and download are judged too', async () => {
    const { url } = await serve({ root: at('static'), allowedPath: (pathname) => pathname !== '/foobar.html' }, (app) => {
      app.get('/send', (_req, reply) => reply.sendFile('foobar.html'));
      app.get('/down', (_req, reply) => reply.download('./foobar.html'));
      app.get('/fine', (_req, reply) => reply.sendFile('foo.html'));
    });
    expect((await get(`${url}/send`)).status).toBe(404);
    expect((await get(`${url}/down`)).status).toBe(404);
    expect((await get(`${url}/fine`)).status).toBe(200);
  });
});

describe('options', () => {
  it('setHeaders option', async () => {
    const paths: string[] = [];
    const { url } = await serve({
      root: at('static'),
      setHeaders: (reply, path) => {
        paths.push(path);
        reply.header('X-Test-Header', 'test');
        reply.header('Cache-Control', 'public, immutable, max-age=2592000');
      },
    });
    const r = await get(`${url}/index.html`);
    expect([r.status, r.headers.get('x-test-header'), r.headers.get('cache-control'), await r.text()]).toEqual([
      200,
      'test',
      'public, immutable, max-age=2592000',
      read('static', 'index.html'),
    ]);
    expect(paths).toEqual([at('static', 'index.html')]);
  });

  it('maxAge option', async () => {
    const r = await get(`${(await serve({ root: at('static'), maxAge: 3_600_000 })).url}/index.html`);
    expect(r.headers.get('cache-control')).toBe('public, max-age=3600');
  });

  it('errors', async () => {
    const refused = async (options: unknown) => {
      const app = Fastify();
      apps.push(app);
      app.register(fastifyServeStatic, options as FastifyServeStaticOptions);
      await expect(app.ready()).rejects.toThrow();
    };
    await refused({}); // no root
    await refused({ root: 42 });
    await refused({ root: [] });
    await refused({ root: [1] });
    await refused({ root: [at('static'), 1] });
    await refused({ serve: false, root: [] });
    await refused({ root: [at('static'), at('static')] });
    await refused({ root: at('static'), setHeaders: 'headers' });
  });

  it('[differs] errors: a relative root, or one that is no folder, is taken', async () => {
    // Resolved against the working directory, as serveStatic resolves it,
    // and checked when served: a root that appears later (a build) works.
    await expect(injectable({ root: './my/path' })).resolves.toBeDefined();
    await expect(injectable({ root: at('static', 'index.html') })).resolves.toBeDefined();
    await expect(injectable({ root: ['./my/path'] })).resolves.toBeDefined();
  });

  it('register with wildcard string', async () => {
    const app = Fastify();
    apps.push(app);
    app.register(fastifyServeStatic, { root: at('static'), wildcard: '**/index.html' as never });
    await expect(app.ready()).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('register with wildcard string on multiple root paths', async () => {
    const app = Fastify();
    apps.push(app);
    app.register(fastifyServeStatic, { root: [at('static'), at('static2')], wildcard: '**/*.js' as never });
    await expect(app.ready()).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('if dotfiles are properly served according to plugin options', async () => {
    const example = read('static', '.example');
    const allow = await get(`${(await serve({ root: at('static'), prefix: '/static/', dotfiles: 'allow' })).url}/static/.example`);
    expect([allow.status, await allow.text()]).toEqual([200, example]);
    expect((await get(`${(await serve({ root: at('static'), prefix: '/static/', dotfiles: 'ignore' })).url}/static/.example`)).status).toBe(404);
    expect((await get(`${(await serve({ root: at('static'), prefix: '/static/', dotfiles: 'deny' })).url}/static/.example`)).status).toBe(403);
  });

  it('[differs] should serve files into hidden dir without wildcard option', async () => {
    // Dotfiles are ignored by default (a .env or .git beside the files stays
    // private); @fastify/static allows them. `dotfiles: 'allow'` serves them.
    const { url } = await serve({ root: at('static-hidden') });
    expect((await get(`${url}/.hidden/sample.json`)).status).toBe(404);
    const r = await get(`${(await serve({ root: at('static-hidden'), dotfiles: 'allow' })).url}/.hidden/sample.json`);
    expect([r.status, await r.text()]).toEqual([200, read('static-hidden', '.hidden/sample.json')]);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('content-length in head route should not return zero when using wildcard', async () => {
    const r = await get(`${(await serve({ root: at('static') })).url}/index.html`, { method: 'HEAD' });
    expect([r.status, r.headers.get('content-type'), r.headers.get('content-length'), await r.text()]).toEqual([
      200,
      'text/html; charset=utf-8',
      String(Buffer.byteLength(read('static', 'index.html'))),
      '',
    ]);
  });

  it('fastify with exposeHeadRoutes', async () => {
    const r = await get(`${(await serve({ root: at('static'), wildcard: false })).url}/index.html`, { method: 'HEAD' });
    expect([r.status, await r.text()]).toEqual([200, '']);
    generic(r);
  });

  it('should follow symbolic link without wildcard', async () => {
    const { url } = await serve({ root: at('static'), wildcard: false });
    const r = await get(`${url}/linked.html`);
    expect([r.status, await r.text()]).toEqual([200, read('static', 'foo.html')]);
  });
});

describe('wildcard: false', () => {
  it('register with wildcard false', async () => {
    const { url } = await serve({ root: at('static'), wildcard: false }, (app) => app.get('/*', (_req, reply) => void reply.send({ hello: 'world' })));
    expect(await (await get(`${url}/index.html`)).text()).toBe(read('static', 'index.html'));
    generic(await get(`${url}/index.css`));
    expect(await (await get(`${url}/`)).text()).toBe(read('static', 'index.html'));
    expect(await (await get(`${url}/not-defined`)).json()).toEqual({ hello: 'world' }); // the app's own wildcard
    expect(await (await get(`${url}/deep/path/for/test/purpose/foo.html`)).text()).toBe(read('static', 'deep/path/for/test/purpose/foo.html'));
    expect(await (await get(`${url}/deep/path/for/test/`)).text()).toBe(read('static', 'deep/path/for/test/index.html'));
    const etag = (await get(`${url}/index.css`)).headers.get('etag')!;
    expect((await get(`${url}/index.css`, { headers: { 'if-none-match': etag } })).status).toBe(304);
  });

  it('register with wildcard false (trailing slash in the root)', async () => {
    const { url } = await serve({ root: `${at('static')}/`, prefix: '/assets', wildcard: false });
    generic(await get(`${url}/assets/index.css`));
    expect((await get(`${url}/assets/not-defined`)).status).toBe(404);
    expect(await (await get(`${url}/assets/deep/path/for/test/purpose/foo.html`)).text()).toBe(read('static', 'deep/path/for/test/purpose/foo.html'));
  });

  it('register with wildcard false and alternative index', async () => {
    const { url } = await serve({ root: at('static'), wildcard: false, index: ['foobar.html', 'foo.html', 'index.html'] }, (app) =>
      app.get('/*', (_req, reply) => void reply.send({ hello: 'world' })),
    );
    expect(await (await get(`${url}/index.html`)).text()).toBe(read('static', 'index.html'));
    expect(await (await get(`${url}/?a=b`)).text()).toBe(read('static', 'foobar.html'));
    expect(await (await get(`${url}/deep/path/for/test/purpose/`)).text()).toBe(read('static', 'deep/path/for/test/purpose/foo.html'));
    expect(await (await get(`${url}/deep/path/for/test/`)).text()).toBe(read('static', 'deep/path/for/test/index.html'));
    expect(await (await get(`${url}/not-defined`)).json()).toEqual({ hello: 'world' });
  });

  it('register /static with wildcard false and alternative index', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/static', wildcard: false, index: ['foobar.html', 'foo.html', 'index.html'] });
    expect(await (await get(`${url}/static/`)).text()).toBe(read('static', 'foobar.html'));
    const moved = await get(`${url}/static`, { redirect: 'manual' });
    expect([moved.status, moved.headers.get('location')]).toEqual([301, '/static/']);
    expect((await get(`${url}/static/not-defined`)).status).toBe(404);
  });

  it('register /static with redirect true and wildcard false', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/static', redirect: true, wildcard: false, index: 'index.html' });
    const moved = await get(`${url}/static?a=b`, { redirect: 'manual' });
    expect([moved.status, moved.headers.get('location')]).toEqual([301, '/static/?a=b']);
    expect(await (await get(`${url}/static?a=b`)).text()).toBe(read('static', 'index.html'));
    expect((await get(`${url}/static/?a=b`, { method: 'HEAD' })).status).toBe(200);
    expect((await get(`${url}/static/deep`)).status).toBe(404);
    const deep = await get(`${url}/static/deep/path/for/test?a=b`, { redirect: 'manual' });
    expect(deep.headers.get('location')).toBe('/static/deep/path/for/test/?a=b');
    expect(await (await get(`${url}/static/deep/path/for/test`)).text()).toBe(read('static', 'deep/path/for/test/index.html'));
  });

  it('should not found hidden file with wildcard is `false`', async () => {
    expect((await get(`${(await serve({ root: at('static-hidden'), wildcard: false })).url}/.hidden/sample.json`)).status).toBe(404);
  });

  it('should serve files into hidden dir with wildcard `false`', async () => {
    const r = await get(`${(await serve({ root: at('static-hidden'), wildcard: false, serveDotFiles: true })).url}/.hidden/sample.json`);
    expect([r.status, await r.text()]).toEqual([200, read('static-hidden', '.hidden/sample.json')]);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('serves files with paths that have characters modified by encodeUri when wildcard is false', async () => {
    const app = await injectable({ root: pathToFileURL(at('static-encode')), wildcard: false });
    expect((await app.inject({ url: '/[...]/a .md' })).body).toBe(read('static-encode', '[...]/a .md'));
    expect((await app.inject({ url: '/%5B...%5D/a%20.md' })).body).toBe(read('static-encode', '[...]/a .md'));
  });

  it('serves files with % in the filename', async () => {
    const app = await injectable({ root: pathToFileURL(at('static')), wildcard: false });
    const r = await app.inject({ url: '/100%25.txt' });
    expect([r.statusCode, r.body]).toEqual([200, read('static', '100%.txt')]);
  });
});

describe('redirects', () => {
  it('register /static with redirect true', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/static', redirect: true, index: 'index.html' });
    const moved = await get(`${url}/static?a=b`, { redirect: 'manual' });
    expect([moved.status, moved.headers.get('location')]).toEqual([301, '/static/?a=b']);
    expect(await (await get(`${url}/static?a=b`)).text()).toBe(read('static', 'index.html'));
    expect((await get(`${url}/static`, { redirect: 'manual' })).headers.get('location')).toBe('/static/');
    expect(await (await get(`${url}/static/`)).text()).toBe(read('static', 'index.html'));
    expect((await get(`${url}/static/deep`)).status).toBe(404);
    expect((await get(`${url}/static/deep/path/for/test?a=b`, { redirect: 'manual' })).headers.get('location')).toBe('/static/deep/path/for/test/?a=b');
    expect(await (await get(`${url}/static/deep/path/for/test`)).text()).toBe(read('static', 'deep/path/for/test/index.html'));
  });

  it('trailing slash behavior with redirect = false', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/static', redirect: false });
    expect((await get(`${url}/static`)).status).toBe(404);
    expect((await get(`${url}/static/`)).status).toBe(200);
    expect((await get(`${url}/static/deep/path`)).status).toBe(404);
    expect((await get(`${url}/static/deep/path/for/test/`)).status).toBe(200);
  });

  it('[differs] trailing slash behavior with redirect = false: a folder with an index, without its slash', async () => {
    // A miss, as serve-static has it: answering the index there would break
    // its relative links. @fastify/static serves the index.
    const { url } = await serve({ root: at('static'), prefix: '/static', redirect: false });
    expect((await get(`${url}/static/deep/path/for/test`)).status).toBe(404);
  });

  it('should not redirect to protocol-relative locations', async () => {
    const { port } = await serve({ root: at('static'), redirect: true });
    const cases: [string, string | undefined, number][] = [
      ['//^/..', undefined, 403],
      ['//^/.', undefined, 403],
      ['//:/..', undefined, 403],
      ['/\\\\a//google.com/%2e%2e%2f%2e%2e', undefined, 403],
      ['//a//youtube.com/%2e%2e%2f%2e%2e', undefined, 403],
      ['/^', undefined, 404],
      ['/deep/path/for/test/.', undefined, 403],
      ['/deep/path/for/test/%2e', undefined, 403],
      ['/deep/path/for/test', '/deep/path/for/test/', 301],
      ['//google.com/%2e%2e', undefined, 403],
      ['//users/%2e%2e', undefined, 403],
      ['//users', undefined, 403],
      ['///deep/path//for//test//index.html', undefined, 403],
    ];
    for (const [target, location, status] of cases) {
      const r = await raw(port, target);
      expect([target, r.status, r.headers.location], target).toEqual([target, status, location]);
    }
  });

  it('should not serve index if option is `false`', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/static', index: false });
    expect((await get(`${url}/static/index.html`)).status).toBe(200);
    expect((await get(`${url}/static`)).status).toBe(404);
  });
});

describe('route guards', () => {
  const guarded = async () =>
    serve({ root: at('static') }, (app) => app.all('/deep/*', async (_req, reply) => reply.code(401).send('Unauthorized')));

  it('does not serve static files with dot-dot path segments', async () => {
    const { port } = await guarded();
    expect((await raw(port, '/deep/path/for/test/purpose/foo.html')).status).toBe(401);
    for (const target of ['/foo/../deep/path/for/test/purpose/foo.html', '/foo/%2e%2e/deep/path/for/test/purpose/foo.html', '/foo/%2E%2E/deep/path/for/test/purpose/foo.html']) {
      const r = await raw(port, target);
      expect([target, r.status, r.text]).toEqual([target, 403, expect.stringMatching(/Forbidden/)]);
    }
  });

  it('does not serve static files with non-canonical path segments that bypass route guards', async () => {
    const { port } = await guarded();
    const path = '/deep/path/for/test/purpose/foo.html';
    for (const target of [`/${path}`, `/.${path}`, `/%2e${path}`, `/%2E${path}`, `/foo/.${path}`]) {
      const r = await raw(port, target);
      expect([target, r.status, r.text]).toEqual([target, 403, expect.stringMatching(/Forbidden/)]);
    }
  });

  it('[differs] does not serve static files with encoded path separators', async () => {
    // Refused (400, through the error handler) where upstream lets the
    // router answer 404: an encoded slash is a separator to someone.
    const { port } = await guarded();
    expect((await raw(port, '/deep%2Fpath/for/test/purpose/foo.html')).status).toBe(400);
  });

  it('does not serve static files with trailing dot segments that bypass exact route guards', async () => {
    const { port } = await serve({ root: at('static') }, (app) => app.get('/foo.html', async (_req, reply) => reply.code(401).send('Unauthorized')));
    expect((await raw(port, '/foo.html')).status).toBe(401);
    for (const target of ['/foo.html/.', '/foo.html/%2e', '/foo.html/..', '/foo.html/%2E%2E']) expect((await raw(port, target)).status, target).toBe(403);
  });

  it('does not serve static files when dot-dot path segments are consumed by a route param', async () => {
    const { port } = await serve({ root: at('static'), prefix: '/assets' }, (app) => app.get('/assets/deep/*', async (_req, reply) => reply.code(401).send('Unauthorized')));
    expect((await raw(port, '/assets/deep/path/for/test/purpose/foo.html')).status).toBe(401);
    expect((await raw(port, '/assets/x/../deep/path/for/test/purpose/foo.html')).status).toBe(403);
  });

  it('rejects non-canonical pathnames for ordinary static requests', async () => {
    const { port } = await serve({ root: at('static') });
    expect((await raw(port, '/index.css')).status).toBe(200);
    for (const target of [
      '//index.css',
      '/./index.css',
      '/%2e/index.css',
      '/foo/../index.css',
      '/deep//path/for/test/purpose/foo.html',
      '/deep/./path/for/test/purpose/foo.html',
      '/index.css/.',
      '/index.css/%2e',
      '/deep/path/for/test/.',
    ]) {
      const r = await raw(port, target);
      expect([target, r.status, r.text]).toEqual([target, 403, expect.stringMatching(/Forbidden/)]);
    }
  });

  it('extension fallback skips exact-spelled directories', async () => {
    writeTree(at('extensions'), { 'asset.one/': '', 'asset.two': 'fallback file' });
    const app = await injectable({ root: at('extensions'), extensions: ['one', 'two'] });
    const r = await app.inject('/asset');
    expect([r.statusCode, r.body]).toEqual([200, 'fallback file']);
  });

  it('a missing static root remains not found during spelling validation', async () => {
    const app = await injectable({ root: at('missing-root') });
    expect((await app.inject('/file.txt')).statusCode).toBe(404);
    // With routes per file: a root not there yet has none.
    const routed = await injectable({ root: at('missing-root'), wildcard: false });
    expect((await routed.inject('/file.txt')).statusCode).toBe(404);
  });

  it('serves an exact-spelled symbolic-link path with wildcard routing', async () => {
    const app = await injectable({ root: at('static') });
    expect((await app.inject('/linked.html')).body).toBe(read('static', 'foo.html'));
  });

  it('serves distinct exact-case paths on a case-sensitive filesystem', async () => {
    writeTree(at('case'), { 'Secret.txt': 'upper', 'secret.txt': 'lower' });
    const { port } = await serve({ root: at('case') });
    expect((await raw(port, '/Secret.txt')).text).toBe('upper');
    expect((await raw(port, '/secret.txt')).text).toBe('lower');
  });

  it('percent encoded URLs in glob mode', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/static', wildcard: true });
    expect(await (await get(`${url}/static/a .md`)).text()).toBe(read('static', 'a .md'));
  });

  it('serves files with # or ? in their names', async () => {
    const root = at('reserved');
    mkdirSync(root);
    const files: Record<string, string> = { 'a#b.txt': '/a%23b.txt', '100%#.txt': '/100%25%23.txt', 'a?b.txt': '/a%3Fb.txt' };
    for (const name of Object.keys(files)) writeFileSync(join(root, name), name);
    writeFileSync(join(root, 'a%23b.txt'), 'literal');
    const app = await injectable({ root, prefix: '/public' });
    for (const [name, path] of Object.entries(files)) expect((await app.inject(`/public${path}`)).body, name).toBe(name);
    expect((await app.inject('/public/a%2523b.txt')).body).toBe('literal');
  });
});

describe('precompressed', () => {
  const pre = (extra: FastifyServeStaticOptions = {}) => injectable({ root: at('static-pre-compressed'), prefix: '/static-pre-compressed/', preCompressed: true, ...extra });
  const inject = async (app: FastifyInstance, url: string, acceptEncoding?: string) =>
    app.inject({ method: 'GET', url, headers: acceptEncoding ? { 'accept-encoding': acceptEncoding } : {} });

  for (const wildcard of [true, false]) {
    const suffix = wildcard ? '' : ' (with wildcard: false)';
    it(`will serve pre-compressed files with .br at the highest priority${suffix}`, async () => {
      const r = await inject(await pre({ wildcard }), '/static-pre-compressed/all-three.html', 'gzip, deflate, br');
      expect([r.statusCode, r.headers['content-encoding'], r.rawPayload.toString()]).toEqual([200, 'br', 'ALL-THREE-BR']);
    });
    it(`will serve pre-compressed files and fallback to .gz if .br is not on disk${suffix}`, async () => {
      const r = await inject(await pre({ wildcard }), '/static-pre-compressed/gzip-only.html', 'gzip, deflate, br');
      expect([r.headers['content-encoding'], r.rawPayload.toString()]).toEqual(['gzip', 'GZIP-ONLY-GZ']);
    });
    it(`[differs] will serve pre-compressed files with .gzip if * directive used${suffix}`, async () => {
      // `*` accepts every encoding: the server's preference decides, and
      // brotli (smaller) comes first in it. @fastify/static picks gzip.
      const r = await inject(await pre({ wildcard }), '/static-pre-compressed/all-three.html', '*');
      expect(r.headers['content-encoding']).toBe('br');
    });
    it(`[differs] will serve pre-compressed files with .gzip if multiple * directives used${suffix}`, async () => {
      const r = await inject(await pre({ wildcard }), '/static-pre-compressed/all-three.html', '*, *');
      expect(r.headers['content-encoding']).toBe('br');
    });
    it(`will serve uncompressed files if there are no compressed variants on disk${suffix}`, async () => {
      const r = await inject(await pre({ wildcard }), '/static-pre-compressed/uncompressed.html', 'gzip, deflate, br');
      expect([r.headers['content-encoding'], r.body]).toEqual([undefined, read('static-pre-compressed', 'uncompressed.html')]);
    });
  }

  it('sends Vary: Accept-Encoding when serving a pre-compressed file', async () => {
    const r = await inject(await pre(), '/static-pre-compressed/all-three.html', 'gzip, deflate, br');
    expect([r.headers['content-encoding'], String(r.headers.vary).toLowerCase()]).toEqual(['br', 'accept-encoding']);
  });
  it('sends Vary: Accept-Encoding when falling back to the uncompressed file', async () => {
    const r = await inject(await pre(), '/static-pre-compressed/uncompressed.html', 'gzip, deflate, br');
    expect([r.headers['content-encoding'], String(r.headers.vary).toLowerCase()]).toEqual([undefined, 'accept-encoding']);
  });
  it('appends to an existing Vary header set via setHeaders for pre-compressed files', async () => {
    const r = await inject(await pre({ setHeaders: (reply) => reply.header('vary', 'Accept-Language') }), '/static-pre-compressed/all-three.html', 'br');
    expect(String(r.headers.vary).toLowerCase()).toBe('accept-language, accept-encoding');
  });
  it('does not duplicate Accept-Encoding in an existing Vary header', async () => {
    const r = await inject(await pre({ setHeaders: (reply) => reply.header('vary', 'Accept-Encoding') }), '/static-pre-compressed/all-three.html', 'br');
    expect(r.headers.vary).toBe('Accept-Encoding');
  });
  it('appends to an existing array-valued Vary header for pre-compressed files', async () => {
    const r = await inject(await pre({ setHeaders: (reply) => reply.header('vary', ['Accept-Language', 'Cookie']) }), '/static-pre-compressed/all-three.html', 'br');
    expect(String(r.headers.vary).toLowerCase()).toBe('accept-language, cookie, accept-encoding');
  });
  it('does not append Accept-Encoding to an existing Vary: * header', async () => {
    const r = await inject(await pre({ setHeaders: (reply) => reply.header('vary', '*') }), '/static-pre-compressed/all-three.html', 'br');
    expect(r.headers.vary).toBe('*');
  });
  it('does not send Vary: Accept-Encoding when preCompressed is disabled', async () => {
    const r = await inject(await pre({ preCompressed: false }), '/static-pre-compressed/uncompressed.html', 'gzip, deflate, br');
    expect(r.headers.vary).toBeUndefined();
  });
  it('[differs] will negotiate deflate when preCompressed is enabled', async () => {
    // Only br and gzip siblings are looked for; deflate is refused by
    // `precompressed` (its raw-vs-zlib framing is a known interoperability trap).
    const r = await inject(await pre(), '/static-pre-compressed/all-three.html', 'deflate;q=1, gzip;q=0.5');
    expect([r.headers['content-encoding'], r.rawPayload.toString()]).toEqual(['gzip', 'ALL-THREE-GZ']);
  });
  it('will serve uncompressed files the accept-encoding header is missing', async () => {
    const r = await inject(await pre(), '/static-pre-compressed/uncompressed.html');
    expect([r.statusCode, r.headers['content-encoding'], r.body]).toEqual([200, undefined, read('static-pre-compressed', 'uncompressed.html')]);
  });
  it('will serve precompressed index', async () => {
    const r = await inject(await pre(), '/static-pre-compressed/', 'gzip, deflate, br');
    expect([r.headers['content-encoding'], r.rawPayload.toString()]).toEqual(['br', 'INDEX-BR']);
  });
  it('[differs] will serve preCompressed index without trailing slash', async () => {
    // With redirect: false a folder without its slash is a miss (see the
    // redirect cases above); with the redirect, the index comes compressed.
    expect((await inject(await pre({ redirect: false }), '/static-pre-compressed/dir', 'gzip, deflate, br')).statusCode).toBe(404);
    const r = await inject(await pre(), '/static-pre-compressed/dir/', 'gzip, deflate, br');
    expect([r.headers['content-encoding'], r.rawPayload.toString()]).toEqual(['br', 'DIR-INDEX-BR']);
  });
  it('will redirect to preCompressed index without trailing slash when redirect is true', async () => {
    const r = await inject(await pre({ redirect: true }), '/static-pre-compressed/dir', 'gzip, deflate, br');
    expect([r.statusCode, r.headers.location]).toEqual([301, '/static-pre-compressed/dir/']);
  });
  it('will serve precompressed gzip index in subdir', async () => {
    const app = await injectable({ root: at('static-pre-compressed'), preCompressed: true });
    const r = await inject(app, '/dir-gz/', 'gzip, deflate, br');
    expect([r.headers['content-encoding'], r.rawPayload.toString()]).toEqual(['gzip', 'DIR-GZ-INDEX-GZ']);
  });
  it('will serve precompressed index with alternative index option', async () => {
    const r = await inject(await pre({ index: ['all-three.html'] }), '/static-pre-compressed/', 'gzip, deflate, br');
    expect([r.headers['content-encoding'], r.rawPayload.toString()]).toEqual(['br', 'ALL-THREE-BR']);
  });
  it('will serve precompressed file without content-type charset', async () => {
    const r = await inject(await pre(), '/static-pre-compressed/sample.jpg', 'gzip, deflate, br');
    expect([r.headers['content-type'], r.headers['content-encoding']]).toEqual(['image/jpeg', 'br']);
  });
  it('will not redirect but serve a file if preCompressed but no compressed file exists and redirect is true', async () => {
    const r = await inject(await pre({ redirect: true }), '/static-pre-compressed/baz.json', '*');
    expect([r.statusCode, r.headers['content-type']]).toEqual([200, 'application/json; charset=utf-8']);
  });
  it('nonexistent index with precompressed option', async () => {
    expect((await inject(await pre(), '/static-pre-compressed/empty/', 'gzip, deflate, br')).statusCode).toBe(404);
  });
});

describe('content types (content-type.test.js)', () => {
  for (const preCompressed of [false, true]) {
    it(`register /content-type${preCompressed ? ' preCompressed' : ''}`, async () => {
      const { url } = await serve({ root: at('content-type'), prefix: '/content-type', preCompressed });
      const headers = preCompressed ? { 'accept-encoding': 'gzip, deflate, br' } : undefined;
      for (const [file, type] of [
        ['index.html', 'text/html; charset=utf-8'],
        ['index.css', 'text/css; charset=utf-8'],
        ['sample.jpg', 'image/jpeg'],
        ['test.txt', 'text/plain; charset=utf-8'],
        ['binary', 'application/octet-stream'],
      ]) {
        const r = await get(`${url}/content-type/${file}`, { headers });
        expect([file, r.status, r.headers.get('content-type')]).toEqual([file, 200, type]);
      }
    });
  }
});

describe('listings (dir-list.test.js)', () => {
  const listed = async (url: string) => {
    const r = await get(url, { headers: { accept: 'application/json' } });
    expect(r.status).toBe(200);
    const entries = (await r.json()) as { name: string; type: string }[];
    return {
      dirs: entries.filter((e) => e.type === 'directory').map((e) => e.name),
      files: entries.filter((e) => e.type === 'file').map((e) => e.name),
    };
  };

  it('[differs] dir list default options', async () => {
    // The listing is an array of { name, type, size, mtime } (HTML unless
    // the client asks for JSON); @fastify/static answers { dirs, files }.
    const { url } = await serve({ root: at('static'), prefix: '/public', list: true });
    expect(await listed(`${url}/public/shallow`)).toEqual({ dirs: ['empty'], files: ['sample.jpg'] });
  });
  it('[differs] dir list, custom options', async () => {
    // The same, and .example is hidden: dotfiles are ignored by default here.
    const { url } = await serve({ root: at('static'), prefix: '/public', index: false, list: true });
    expect(await listed(`${url}/public/`)).toEqual({ dirs: ['deep', 'shallow'], files: ['100%.txt', 'a .md', 'foo.html', 'foobar.html', 'index.css', 'index.html', 'linked.html'] });
  });
  it('[differs] dir list, custom options with empty array index', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/public', index: [], list: true, dotfiles: 'allow' });
    expect((await listed(`${url}/public/`)).files).toContain('.example');
  });
  it('dir list blocks path traversal when index is false', async () => {
    const { port } = await serve({ root: at('static'), prefix: '/public', index: false, list: true });
    for (const target of ['/public/../', '/public/../static2/']) {
      const r = await raw(port, target);
      expect([target, r.status, r.text]).toEqual([target, 403, expect.stringMatching(/Forbidden/)]);
    }
  });
  it('dir list blocks path traversal when index is an empty array', async () => {
    const { port } = await serve({ root: at('static'), prefix: '/public', index: [], list: true });
    expect((await raw(port, '/public/../')).status).toBe(403);
  });
  it('dir list path stays within the configured root', async () => {
    const { port } = await serve({ root: at('static'), prefix: '/public', index: false, list: true });
    expect((await raw(port, '/public/deep/path/')).status).toBe(200);
    expect((await raw(port, '/public/deep/../../')).status).toBe(403);
  });
  it('dir list html format - href encodes # and ? in file and directory names', async () => {
    const root = at('hash');
    writeTree(root, { 'a#b.txt': 'a#b.txt', 'a?b.txt': 'a?b.txt', 'd#?x/c#d.txt': 'nested' });
    const { url } = await serve({ root, prefix: '/public', index: false, list: true });
    const html = await (await get(`${url}/public/`)).text();
    const hrefs = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]);
    expect(hrefs).toEqual(['d%23%3Fx/', 'a%23b.txt', 'a%3Fb.txt']);
    for (const href of hrefs.slice(1)) expect(await (await get(`${url}/public/${href}`)).text()).toBe(decodeURIComponent(href));
    const nested = await (await get(`${url}/public/d%23%3Fx/`)).text();
    expect(nested).toContain('href="c%23d.txt"');
    expect(await (await get(`${url}/public/d%23%3Fx/c%23d.txt`)).text()).toBe('nested');
  });
  it('dir list href nested structure', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/public', index: false, list: true });
    const html = await (await get(`${url}/public/deep/path/`)).text();
    expect(html).toContain('<a href="../">../</a>');
    expect(html).toContain('<a href="for/">for/</a>');
  });
  it('dir list on empty dir', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/public', list: true });
    expect(await listed(`${url}/public/shallow/empty/`)).toEqual({ dirs: [], files: [] });
  });
  it('dir list serve index.html on index option', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/public', list: true });
    expect(await (await get(`${url}/public/`)).text()).toBe(read('static', 'index.html'));
  });
  it('serve a non existent dir and get error', async () => {
    const { url } = await serve({ root: at('none'), prefix: '/public', list: true });
    expect((await get(`${url}/public/`)).status).toBe(404);
    const { url: other } = await serve({ root: at('static'), prefix: '/public', list: true });
    expect((await get(`${other}/public/none/`)).status).toBe(404);
  });
  it('dir list with dotfiles allow option', async () => {
    const { url } = await serve({ root: at('static-dotfiles'), prefix: '/public', dotfiles: 'allow', index: false, list: true });
    expect(await listed(`${url}/public/`)).toEqual({ dirs: ['dir'], files: ['.aaa', 'test.txt'] });
  });
  it('dir list with dotfiles deny option', async () => {
    const { url } = await serve({ root: at('static-dotfiles'), prefix: '/public', dotfiles: 'deny', index: false, list: true });
    expect(await listed(`${url}/public/`)).toEqual({ dirs: ['dir'], files: ['test.txt'] });
  });
  it('dir list with dotfiles ignore option', async () => {
    const { url } = await serve({ root: at('static-dotfiles'), prefix: '/public', dotfiles: 'ignore', index: false, list: true });
    expect(await listed(`${url}/public/`)).toEqual({ dirs: ['dir'], files: ['test.txt'] });
  });
  it('dir list html format - stats', async () => {
    const { url } = await serve({ root: at('static'), prefix: '/public', index: false, list: true });
    const entries = (await (await get(`${url}/public/`, { headers: { accept: 'application/json' } })).json()) as { name: string; size: number; mtime: string }[];
    const css = entries.find((e) => e.name === 'index.css')!;
    expect(css.size).toBe(Buffer.byteLength(read('static', 'index.css')));
    expect(Number.isNaN(Date.parse(css.mtime))).toBe(false);
  });
});

// Kept out of the count above, for want of a counterpart here:
// - static.test.js: "root not found warning" and its suppression (no
//   logging here); "send options", "register with failing glob handler",
//   "register with rootpath that causes statSync to fail…", "skips spelling
//   validation…" (they stub @fastify/static's internals with proxyquire);
//   "routes should use custom errorHandler premature stream close" (a
//   stream error handler of @fastify/static's own); "with fastify-compress"
//   (responses go out on the raw connection: use precompressed files);
//   "register with wildcard false and globIgnore" (no glob patterns); the
//   allowedPath final-path checks (9 tests: index, extension and
//   precompressed paths judged again, per-call onFile hooks): allowedPath
//   judges the URL path once; the path-spelling checks for case-insensitive
//   file systems and Windows (11 tests); route-param prefixes (`/app/:version`,
//   5 tests).
// - dir-list.test.js: `list` option validation, `render`, `names`,
//   `format`, extended folder info and the `format` URL parameter (14
//   tests): the listing takes no options.
