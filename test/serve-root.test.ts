// serveFile's `root`: a path a client can influence stays inside the folder
// it names. Each hostile request goes out raw (as `curl --path-as-is` sends
// it, dot segments and all) to a server written the way users write one, and
// no answer may carry the secret that sits beside the root. Then the
// dotfiles policy that comes with a root, and the same rules without one.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveFile, serveStatic, type ServeFileOptions } from '../dist/cjs/index.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { httpServer, rawExchange, type Running } from './support/http.js';
import { runNode } from './support/processes.js';

const SECRET = 'TOP-SECRET-BESIDE-ROOT';
let dir: TempDir;
let root: string;
const servers: Running[] = [];

/** A server that answers each request with `serve(req, res)`, collecting what serveFile rejected with. */
async function serverFor(serve: (req: IncomingMessage, res: ServerResponse) => Promise<unknown>): Promise<Running> {
  const s = await httpServer((req, res) => {
    serve(req, res).catch((error) => {
      res.statusCode = 599;
      res.end(String(error?.code));
    });
  });
  servers.push(s);
  return s;
}

/** One raw GET of `target`, exactly as written. */
async function get(s: Running, target: string) {
  const { responses } = await rawExchange(s.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`, 1);
  const r = responses[0];
  expect(r, target).toBeDefined();
  expect(r.body.toString(), target).not.toContain(SECRET);
  return r;
}

/** The statuses of `targets`, as [target, status] pairs, to compare with the table they came from. */
async function statuses(s: Running, table: [string, number][]): Promise<[string, number][]> {
  const seen: [string, number][] = [];
  for (const [target] of table) seen.push([target, (await get(s, target)).status]);
  return seen;
}

beforeAll(() => {
  dir = makeTempDir('zerocopy-root-');
  root = join(dir.path, 'public');
  mkdirSync(join(root, 'docs'), { recursive: true });
  mkdirSync(join(root, '.well-known'));
  mkdirSync(join(root, '.git'));
  writeFileSync(join(dir.path, 'secret.txt'), SECRET);
  writeFileSync(join(dir.path, 'public-secret.txt'), SECRET); // shares the root's name as a prefix
  writeFileSync(join(root, 'hello.txt'), 'hello\n');
  writeFileSync(join(root, 'docs', 'guide.txt'), 'guide\n');
  writeFileSync(join(root, '.env'), `${SECRET}\n`);
  writeFileSync(join(root, '.git', 'config'), `${SECRET}\n`);
  writeFileSync(join(root, '.well-known', 'security.txt'), 'Contact: mailto:security@example.com\n');
  writeFileSync(join(root, 'do..ts.txt'), '...');
  symlinkSync(join(root, 'docs', 'guide.txt'), join(root, 'linked.txt'));
  symlinkSync(join(dir.path, 'secret.txt'), join(root, 'leak.txt'));
  symlinkSync('..', join(root, 'leak-dir'));
});

afterAll(async () => {
  for (const s of servers) await s.close();
  dir?.remove();
});

describe('serveFile(req, res, path, { root })', () => {
  it('keeps req.url inside root, as `res.sendFile(req.url, { root })` does', async () => {
    const s = await serverFor((req, res) => serveFile(req, res, req.url!.split('?')[0], { root }));
    const table: [string, number][] = [
      ['/hello.txt', 200],
      ['/docs/guide.txt', 200],
      ['/docs/../hello.txt', 200], // a `..` that stays inside is resolved, as send does
      ['/docs/./guide.txt', 200],
      ['//docs//guide.txt', 200],
      ['/do..ts.txt', 200], // dots inside a name are no climb
      ['/../secret.txt', 403],
      ['/../../../../../../etc/passwd', 403],
      ['/docs/../../secret.txt', 403],
      ['/../public-secret.txt', 403],
      ['/..', 403],
      ['/docs/..\\..\\secret.txt', 403], // backslashes: a separator somewhere, so no less a climb
      ['/..\\secret.txt', 403],
      ['/%2e%2e/secret.txt', 404], // a path, not a URL: no decoding, so a folder named `%2e%2e`
      ['/etc/passwd', 404], // absolute paths are taken relative to root
      ['/secret.txt', 404],
      ['/docs', 404], // a folder is no file
      ['/missing.txt', 404],
    ];
    expect(await statuses(s, table)).toEqual(table);
    expect((await get(s, '/docs/../hello.txt')).body.toString()).toBe('hello\n');
  });

  it('keeps a decoded URL path inside root, `%2e%2e` included', async () => {
    const s = await serverFor((req, res) => serveFile(req, res, decodeURIComponent(req.url!.split('?')[0]), { root }));
    const table: [string, number][] = [
      ['/hello.txt', 200],
      ['/%2e%2e/secret.txt', 403],
      ['/%2E%2E/%2E%2E/etc/passwd', 403],
      ['/docs%2f..%2f..%2fsecret.txt', 403],
      ['/..%5csecret.txt', 403],
      ['/hello.txt%00.html', 400], // a NUL would end the name the kernel sees
    ];
    expect(await statuses(s, table)).toEqual(table);
  });

  it('takes root and path as file: URLs; a path URL outside root is 403', async () => {
    const byUrl = await serverFor((req, res) => serveFile(req, res, req.url!, { root: pathToFileURL(root + '/') }));
    expect((await get(byUrl, '/hello.txt')).body.toString()).toBe('hello\n');
    expect((await get(byUrl, '/../secret.txt')).status).toBe(403);
    const urls = await serverFor((req, res) => {
      const file = req.url === '/inside' ? join(root, 'hello.txt') : join(dir.path, 'secret.txt');
      return serveFile(req, res, pathToFileURL(file), { root });
    });
    expect((await get(urls, '/inside')).body.toString()).toBe('hello\n');
    expect((await get(urls, '/outside')).status).toBe(403);
  });

  it('ignores dotfiles by default with a root, denies or allows them on request, and always serves .well-known', async () => {
    const as = (options: ServeFileOptions) => serverFor((req, res) => serveFile(req, res, req.url!, { root, ...options }));
    const ignore = await as({});
    const deny = await as({ dotfiles: 'deny' });
    const table: [string, number][] = [
      ['/.env', 404],
      ['/.git/config', 404],
      ['/docs/../.env', 404], // judged after the `..` is resolved
      ['/.well-known/security.txt', 200],
      ['/.well-known/../.env', 404],
    ];
    expect(await statuses(ignore, table)).toEqual(table);
    expect(await statuses(deny, table.map(([t, status]) => [t, status === 404 ? 403 : status]))).toEqual(
      table.map(([t, status]) => [t, status === 404 ? 403 : status]),
    );
    // 'allow' serves them: the secret in .env is the file asked for here.
    const allow = await serverFor((req, res) => serveFile(req, res, req.url!, { root, dotfiles: 'allow' }));
    const { responses } = await rawExchange(allow.port, 'GET /.git/config HTTP/1.1\r\nHost: localhost\r\n\r\n', 1);
    expect(responses[0].body.toString()).toBe(`${SECRET}\n`);
    expect((await get(allow, '/../.env')).status).toBe(403); // and still never climbs
  });

  it('counts dotfiles only below root: a root inside a dot folder serves', async () => {
    const hiddenRoot = join(dir.path, '.hidden-root');
    mkdirSync(hiddenRoot);
    writeFileSync(join(hiddenRoot, 'x.txt'), 'x');
    const s = await serverFor((req, res) => serveFile(req, res, req.url!, { root: hiddenRoot }));
    expect((await get(s, '/x.txt')).body.toString()).toBe('x');
  });

  it('follows a symbolic link inside root, as send and nginx do by default', async () => {
    const s = await serverFor((req, res) => serveFile(req, res, req.url!, { root }));
    expect((await get(s, '/linked.txt')).body.toString()).toBe('guide\n');
  });

  describe.each([true, false])('the symlinks option (cache %s)', (cache) => {
    // linked.txt leads to docs/guide.txt (inside); leak.txt and leak-dir to the secret beside the root.
    const TABLE: [string, Record<string, number>][] = [
      ['/hello.txt', { follow: 200, inside: 200, refuse: 200 }],
      ['/linked.txt', { follow: 200, inside: 200, refuse: 404 }],
      ['/leak.txt', { follow: 200, inside: 403, refuse: 404 }],
      ['/leak-dir/secret.txt', { follow: 200, inside: 403, refuse: 404 }],
      ['/missing.txt', { follow: 404, inside: 404, refuse: 404 }],
    ];
    for (const symlinks of ['inside', 'refuse'] as const) {
      it(`'${symlinks}' refuses what leaves the root, with serveFile and serveStatic alike`, async () => {
        const files = serveStatic(root, { symlinks, cache });
        const viaFile = await serverFor((req, res) => serveFile(req, res, req.url!, { root, symlinks, cache }));
        const viaStatic = await serverFor((req, res) => files(req, res));
        try {
          for (const s of [viaFile, viaStatic]) {
            for (const [target, expected] of TABLE) {
              const r = await rawExchange(s.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`, 1);
              expect([target, r.responses[0].status]).toEqual([target, expected[symlinks]]);
              if (expected[symlinks] !== 200) expect(r.responses[0].body.toString()).not.toContain(SECRET);
            }
          }
        } finally {
          await files.close();
        }
      });
    }
    it('without the native addon, the real paths decide the same', async () => {
      const script = `
        const http = require('node:http');
        const { serveFile, serveStatic } = require(process.argv[1]);
        const [root, cache] = [process.argv[2], process.argv[3] === 'true'];
        const results = {};
        (async () => {
          for (const symlinks of ['inside', 'refuse']) {
            const files = serveStatic(root, { symlinks, cache });
            for (const via of ['file', 'static']) {
              const server = http.createServer((req, res) => (via === 'file' ? serveFile(req, res, req.url, { root, symlinks, cache }) : files(req, res)).catch(() => res.destroy()));
              await new Promise((r) => server.listen(0, '127.0.0.1', r));
              for (const target of process.argv.slice(4)) {
                const status = await new Promise((r) => http.get({ port: server.address().port, host: '127.0.0.1', path: target }, (res) => { res.resume(); r(res.statusCode); }));
                results[symlinks + ' ' + via + ' ' + target] = status;
              }
              server.close();
            }
            await files.close();
          }
          console.log(JSON.stringify(results));
        })();`;
      const run = await runNode(script, { ZEROCOPY_DISABLE_NATIVE: '1' }, [join(__dirname, '..', 'dist', 'cjs', 'index.js'), root, String(cache), ...TABLE.map(([t]) => t)]);
      expect(run.stderr).toBe('');
      const expected: Record<string, number> = {};
      for (const symlinks of ['inside', 'refuse'] as const) for (const via of ['file', 'static']) for (const [target, statuses] of TABLE) expected[`${symlinks} ${via} ${target}`] = statuses[symlinks];
      expect(JSON.parse(run.stdout)).toEqual(expected);
    });

    it("'follow', the default, follows them wherever they lead", async () => {
      const s = await serverFor((req, res) => serveFile(req, res, req.url!, { root, cache }));
      for (const [target, expected] of TABLE) {
        const { responses } = await rawExchange(s.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`, 1);
        expect([target, responses[0].status]).toEqual([target, expected.follow]);
      }
    });
  });

  it('checks root: a path or file: URL', async () => {
    const req = { headers: {} } as IncomingMessage;
    const res = { setHeader() {} } as unknown as ServerResponse;
    await expect(serveFile(req, res, 'x', { root: 42 as unknown as string })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(serveFile(req, res, 'x', { root: '' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(serveFile(req, res, 'x', { root: new URL('http://example.com/') })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(serveFile(req, res, 'x', { root, dotfiles: 'hide' as 'deny' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(serveFile(req, res, 'x', { root, symlinks: 'never' as 'refuse' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(() => serveStatic(root, { symlinks: true as unknown as 'refuse' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});

describe('serveFile without a root', () => {
  it("refuses a `..` segment anywhere, so `'public' + req.url` stays in public", async () => {
    const cwdRoot = join(dir.path, 'public');
    const s = await serverFor((req, res) => serveFile(req, res, cwdRoot + req.url!));
    const table: [string, number][] = [
      ['/hello.txt', 200],
      ['/../secret.txt', 403],
      ['/../../../../etc/passwd', 403],
      ['/docs/../hello.txt', 403], // without a root there is nothing to resolve against: send's rule
      ['/..\\secret.txt', 403],
      ['/.env', 200], // without a root, dotfiles are the caller's business unless it says otherwise
    ];
    expect(await statuses(s, table.filter(([t]) => t !== '/.env'))).toEqual(table.filter(([t]) => t !== '/.env'));
    const { responses } = await rawExchange(s.port, 'GET /.env HTTP/1.1\r\nHost: localhost\r\n\r\n', 1);
    expect(responses[0].status).toBe(200);
  });

  it('applies an explicit dotfiles policy to the whole path', async () => {
    const ignore = await serverFor((req, res) => serveFile(req, res, root + req.url!, { dotfiles: 'ignore' }));
    const deny = await serverFor((req, res) => serveFile(req, res, root + req.url!, { dotfiles: 'deny' }));
    expect((await get(ignore, '/.env')).status).toBe(404);
    expect((await get(deny, '/.git/config')).status).toBe(403);
    expect((await get(ignore, '/.well-known/security.txt')).status).toBe(200);
    expect((await get(ignore, '/hello.txt')).status).toBe(200);
  });

  it('reads the `.` segments of a relative path as folders, not as dotfiles', async () => {
    // `./docs/guide.txt`, relative to the working directory.
    const deny = await serverFor((req, res) => serveFile(req, res, `.${req.url!}`, { dotfiles: 'deny' }));
    const cwd = process.cwd();
    process.chdir(root);
    try {
      expect((await get(deny, '/docs/guide.txt')).body.toString()).toBe('guide\n');
      expect((await get(deny, '/./hello.txt')).status).toBe(200); // `../hello.txt` would be a climb; `./.` is not
      expect((await get(deny, '/.env')).status).toBe(403);
      expect((await get(deny, '/.git/config')).status).toBe(403);
    } finally {
      process.chdir(cwd);
    }
  });
});
