// serveStatic's options beyond serve-static's: a single-page app's fallback,
// directory listings (HTML and JSON), `.well-known` under hidden dotfiles,
// precompressed files without their original, `file:` URL roots, and the
// redirect page. Real servers on loopback, raw responses.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, type ListingEntry, type ServeStaticOptions } from '../dist/cjs/index.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { one, Servers } from './support/http.js';

let dir: TempDir;
let root: string;
const servers = new Servers();

const staticServer = (options?: ServeStaticOptions, base: string | URL = root) => servers.serveStatic(base, options);


beforeAll(() => {
  dir = makeTempDir('zerocopy-static-features-');
  root = join(dir.path, 'public');
  for (const folder of ['assets', 'about', 'empty', '.well-known', '.private', 'odd']) mkdirSync(join(root, folder), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<title>app</title>\n');
  writeFileSync(join(root, 'about', 'index.html'), '<title>about</title>\n');
  writeFileSync(join(root, 'assets', 'app.js'), 'app();\n');
  writeFileSync(join(root, 'assets', 'big.txt'), 'x'.repeat(1000));
  writeFileSync(join(root, 'shell.html'), '<title>shell</title>\n');
  writeFileSync(join(root, '.env'), 'SECRET=1\n');
  writeFileSync(join(root, '.private', 'key'), 'SECRET\n');
  writeFileSync(join(root, '.well-known', 'security.txt'), 'Contact: mailto:security@example.com\n');
  writeFileSync(join(root, 'odd', '<b>&"x".txt'), 'odd\n');
  writeFileSync(join(root, 'odd', 'a b#?.txt'), 'spaced\n');
  execFileSync('mkfifo', [join(root, 'odd', 'fifo')]); // coreutils, on every machine the tests run on
  writeFileSync(join(root, 'only.js.gz'), 'GZIPPED');
  writeFileSync(join(root, 'only.js.br'), 'BROTLIED');
  writeFileSync(join(root, 'about.html'), '<title>about page</title>\n');
  writeFileSync(join(root, 'assets', 'page.html'), '<title>page</title>\n');
  writeFileSync(join(root, 'assets', 'page.html.gz'), 'GZIPPED PAGE');
});

afterAll(async () => {
  await servers.close();
  dir?.remove();
});

describe('single: a single-page app', () => {
  it('answers paths that name nothing with the index, and leaves missing assets 404', async () => {
    const s = await staticServer({ single: true });
    for (const path of ['/dashboard', '/users/42/edit', '/about/team', '/.env', '/.private/key', '/nothing/']) {
      const r = await one(s, path);
      expect([path, r.status, r.body.toString()]).toEqual([path, 200, '<title>app</title>\n']);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    }
    // What exists is served as itself; folders still redirect and serve their index.
    expect((await one(s, '/assets/app.js')).body.toString()).toBe('app();\n');
    expect((await one(s, '/about')).status).toBe(301);
    expect((await one(s, '/about/')).body.toString()).toBe('<title>about</title>\n');
    for (const path of ['/missing.js', '/assets/missing.css', '/favicon.ico']) expect((await one(s, path)).status, path).toBe(404);
    // A climb is still refused, not answered with the app.
    expect((await one(s, '/../secret')).status).toBe(403);
  });

  it('takes its own file, and refuses one outside root', async () => {
    const s = await staticServer({ single: 'shell.html' });
    expect((await one(s, '/deep/link')).body.toString()).toBe('<title>shell</title>\n');
    expect(() => serveStatic(root, { single: '../x.html' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => serveStatic(root, { single: 3 as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('listing', () => {
  it('lists a folder without an index as HTML, names escaped and linked, dotfiles hidden', async () => {
    const s = await staticServer({ listing: true });
    const r = await one(s, '/odd/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['content-security-policy']).toBe("default-src 'none'");
    expect(r.headers.vary).toBe('Accept');
    const html = r.body.toString();
    expect(html).toContain('<title>Index of /odd/</title>');
    expect(html).toContain('<a href="%3Cb%3E%26%22x%22.txt">&lt;b&gt;&amp;&quot;x&quot;.txt</a>');
    expect(html).toContain('<a href="a%20b%23%3F.txt">a b#?.txt</a>');
    expect(html).toContain('<a href="../">../</a>');
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('fifo'); // neither file nor folder
    const top = (await one(s, '/')).body.toString(); // root has index.html: served, not listed
    expect(top).toBe('<title>app</title>\n');
  });

  it('answers JSON to a client that prefers it, with the dotfiles policy applied', async () => {
    const s = await staticServer({ listing: true, index: false });
    const r = await one(s, '/', { Accept: 'application/json' });
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    const entries = JSON.parse(r.body.toString()) as ListingEntry[];
    expect(entries.map((e) => [e.name, e.type])).toEqual([
      ['.well-known', 'directory'],
      ['about', 'directory'],
      ['assets', 'directory'],
      ['empty', 'directory'],
      ['odd', 'directory'],
      ['about.html', 'file'],
      ['index.html', 'file'],
      ['only.js.br', 'file'],
      ['only.js.gz', 'file'],
      ['shell.html', 'file'],
    ]);
    const index = entries.find((e) => e.name === 'index.html')!;
    expect(index.size).toBe(19);
    expect(Date.parse(index.mtime)).toBeGreaterThan(0);
    expect(entries.find((e) => e.name === 'about')!.size).toBeNull();
    const allow = await staticServer({ listing: true, index: false, dotfiles: 'allow' });
    const all = JSON.parse((await one(allow, '/', { Accept: 'application/json' })).body.toString()) as ListingEntry[];
    expect(all.map((e) => e.name)).toContain('.env');
    // The root's listing links to no parent; a folder's does.
    expect((await one(s, '/')).body.toString()).not.toContain('href="../"');
    expect((await one(s, '/empty/')).body.toString()).toContain('<a href="../">../</a>');
    // HEAD: the head of the listing, no body.
    const head = await one(s, '/assets/', {}, 'HEAD');
    expect([head.status, head.body.length]).toEqual([200, 0]);
  });

  it('is off by default, and never lists a hidden folder or outside root', async () => {
    const plain = await staticServer();
    expect((await one(plain, '/odd/')).status).toBe(404);
    const s = await staticServer({ listing: true });
    expect((await one(s, '/.private/')).status).toBe(404);
    expect((await one(s, '/../')).status).toBe(403);
  });
});

describe('dotfiles and .well-known', () => {
  it('serves .well-known while other dotfiles stay hidden or denied', async () => {
    for (const dotfiles of ['ignore', 'deny'] as const) {
      const s = await staticServer({ dotfiles });
      expect((await one(s, '/.well-known/security.txt')).body.toString()).toBe('Contact: mailto:security@example.com\n');
      expect((await one(s, '/.env')).status).toBe(dotfiles === 'deny' ? 403 : 404);
      expect((await one(s, '/.well-known/../.env')).status).toBe(dotfiles === 'deny' ? 403 : 404);
    }
  });
});

describe('what is neither file nor folder', () => {
  it('a FIFO and a Unix-domain socket are 404, with or without the cache', async () => {
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(join(root, 'odd', 'app.sock'), resolve));
    try {
      for (const cache of [true, false]) {
        const s = await staticServer({ cache });
        for (const path of ['/odd/app.sock', '/odd/fifo']) expect([cache, path, (await one(s, path)).status]).toEqual([cache, path, 404]);
      }
    } finally {
      listener.close();
    }
  });
});

describe('precompressed siblings without their original', () => {
  it('serve the sibling to a client that accepts it, and 404 to one that does not', async () => {
    const s = await staticServer({ precompressed: true });
    const br = await one(s, '/only.js', { 'Accept-Encoding': 'br, gzip' });
    expect([br.status, br.body.toString(), br.headers['content-encoding']]).toEqual([200, 'BROTLIED', 'br']);
    expect(br.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(br.headers.vary).toBe('Accept-Encoding');
    const gz = await one(s, '/only.js', { 'Accept-Encoding': 'gzip' });
    expect([gz.body.toString(), gz.headers['content-encoding']]).toEqual(['GZIPPED', 'gzip']);
    expect((await one(s, '/only.js')).status).toBe(404);
    expect((await one(s, '/only.js', { 'Accept-Encoding': 'deflate' })).status).toBe(404);
    const off = await staticServer();
    expect((await one(off, '/only.js', { 'Accept-Encoding': 'gzip' })).status).toBe(404);
  });
});

describe('a precompressed sibling asked for by its own name', () => {
  // One cached descriptor serves `assets/page.html.gz` both as itself and as
  // the gzip encoding of `assets/page.html`: what describes one must not leak into the other.
  for (const order of [['itself', 'encoding'], ['encoding', 'itself']]) {
    it(`keeps the two representations' headers apart (${order.join(' first, then as ')})`, async () => {
      const s = await staticServer({ precompressed: true });
      const asked = {
        itself: () => one(s, '/assets/page.html.gz'),
        encoding: () => one(s, '/assets/page.html', { 'Accept-Encoding': 'gzip' }),
      };
      const seen: Record<string, Awaited<ReturnType<typeof one>>> = {};
      for (const what of [...order, ...order]) seen[what] = await asked[what as keyof typeof asked]();
      expect([seen.itself.status, seen.itself.headers['content-type'], seen.itself.headers['content-encoding']]).toEqual([200, 'application/gzip', undefined]);
      expect([seen.encoding.status, seen.encoding.headers['content-type'], seen.encoding.headers['content-encoding']]).toEqual([200, 'text/html; charset=utf-8', 'gzip']);
      expect(seen.encoding.body.toString()).toBe('GZIPPED PAGE');
      expect(seen.itself.body.toString()).toBe('GZIPPED PAGE');
      expect(seen.encoding.headers.etag).not.toBe(seen.itself.headers.etag);
    });
  }
});

describe('extensions', () => {
  it('serve /about from about.html only when nothing is called /about', async () => {
    const s = await staticServer({ extensions: ['html'], redirect: false });
    // `about` is a folder: it wins, and with redirect off is a miss.
    expect((await one(s, '/about')).status).toBe(404);
    const dotted = await staticServer({ extensions: '.html' });
    expect((await one(dotted, '/shell')).body.toString()).toBe('<title>shell</title>\n');
    expect((await one(dotted, '/shell.txt')).status).toBe(404); // a name with an extension is taken as it is
    expect(() => serveStatic(root, { extensions: [42] as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});

describe('roots and redirects', () => {
  it('takes a file: URL root', async () => {
    const s = await staticServer(undefined, pathToFileURL(`${root}/`));
    expect((await one(s, '/assets/app.js')).body.toString()).toBe('app();\n');
  });

  it('redirects a folder with a small HTML page that forbids everything', async () => {
    const s = await staticServer();
    const r = await one(s, '/about?tab=1');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('/about/?tab=1');
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['content-security-policy']).toBe("default-src 'none'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.body.toString()).toContain('<a href="/about/?tab=1">/about/?tab=1</a>');
    expect(Number(r.headers['content-length'])).toBe(r.body.length);
  });
});
