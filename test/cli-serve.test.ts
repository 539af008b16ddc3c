// `zerocopy serve` as a server people run: the real command in child
// processes, spoken to over real sockets. The log line per request, --quiet,
// --cors, the caching flags, precompressed files, HTTPS, a port in use, and
// worker processes that share a port, replace one that dies and stop
// together on Ctrl-C.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectBytes } from './support/bytes.js';
import { killLeftovers, runZerocopy, zerocopy, type Child } from './support/cli.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { rawExchange, rawRequest, request } from './support/http.js';
import { makeSelfSignedCertificate } from './support/tls.js';
import { eventually } from './support/waiting.js';

let tmp: TempDir;
let www: string;
const data = randomBytes(300_000); // www/sub/data.bin
const script = 'console.log("precompressed");\n'.repeat(50);

beforeAll(() => {
  tmp = makeTempDir('zerocopy-cli-serve-');
  www = join(tmp.path, 'www');
  mkdirSync(join(www, 'sub'), { recursive: true });
  writeFileSync(join(www, 'sub', 'data.bin'), data);
  // 32 MiB (sparse): more than loopback's buffers hold, for a response cut short.
  writeFileSync(join(www, 'big.bin'), '');
  truncateSync(join(www, 'big.bin'), 32 << 20);
  writeFileSync(join(www, 'index.html'), '<h1>hello</h1>\n');
  writeFileSync(join(www, 'app.js'), script);
  writeFileSync(join(www, 'app.js.gz'), gzipSync(script));
  writeFileSync(join(www, 'app.js.br'), brotliCompressSync(script));
  writeFileSync(join(www, 'about.htm'), '<h1>about</h1>\n');
  mkdirSync(join(www, 'docs'));
  writeFileSync(join(www, 'docs', 'guide.txt'), 'read me\n');
});
afterAll(() => tmp.remove());

const listeners: Server[] = [];
afterEach(() => {
  killLeftovers();
  for (const server of listeners.splice(0)) server.close();
});

const SERVING = /^serving (\S+) at (https?:\/\/127\.0\.0\.1:(\d+)\/)(?: \(([^)]*)\))?\n/;

/** Starts `zerocopy serve www --port 0 ...args` and waits for its startup line. */
async function serve(args: string[] = [], options: { detached?: boolean } = {}): Promise<{ server: Child; url: string; port: number; notes?: string }> {
  const server = zerocopy(['serve', www, '--port', '0', ...args], options);
  const [, dir, url, port, notes] = await server.waitFor('stdout', SERVING);
  expect(dir).toBe(www);
  return { server, url, port: Number(port), notes };
}

/** Stops a server with SIGINT and checks that it exited 0 and printed nothing on stderr. */
async function stop(server: Child): Promise<string> {
  server.proc.kill('SIGINT');
  const result = await server.exited;
  expect(result).toMatchObject({ code: 0, signal: null, stderr: '' });
  return result.stdout;
}

/** A port something else listens on. */
async function portInUse(): Promise<number> {
  const server = createServer();
  listeners.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** The processes whose parent is `pid` (Linux: from /proc). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The command name, in parentheses, may hold spaces: the fields after it are fixed.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === pid && state !== 'Z') children.push(Number(name));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return children;
}

const isAlive = (pid: number) => existsSync(`/proc/${pid}`);

/** Whether process `pid` has mapped the addon: it loaded its own. */
const hasAddon = (pid: number) => /zerocopy[^/\n]*\.node$/m.test(readFileSync(`/proc/${pid}/maps`, 'utf8'));

describe('the log line per request', () => {
  it('says method, path, status, body bytes and milliseconds, on stdout, once each response is done', async () => {
    const { server, url, port } = await serve();
    const got = await request(`${url}sub/data.bin`);
    expectBytes(got.body, data);
    await request(`${url}sub/data.bin`, { method: 'HEAD' });
    await request(`${url}sub/data.bin?x=1`, { headers: { Range: 'bytes=100-199' } });
    await request(`${url}sub/data.bin`, { headers: { 'If-None-Match': got.headers.etag! } });
    await request(`${url}nothing-here`);
    await request(`${url}sub/data.bin`, { method: 'DELETE' });
    // A client that stops reading a large body and leaves: the response never completes.
    await rawExchange(port, rawRequest('/big.bin'), 0).catch(() => {});

    await server.waitFor('stdout', /big\.bin.*\n/);
    const lines = (await stop(server)).split('\n').slice(1, -1);
    const ms = String.raw`\d+\.\dms`;
    expect(lines).toHaveLength(7);
    const expected = [
      `GET /sub/data.bin 200 300000 ${ms}`,
      `HEAD /sub/data.bin 200 0 ${ms}`,
      `GET /sub/data.bin\\?x=1 206 100 ${ms}`,
      `GET /sub/data.bin 304 0 ${ms}`,
      `GET /nothing-here 404 10 ${ms}`, // "Not Found\n"
      `DELETE /sub/data.bin 405 19 ${ms}`, // "Method Not Allowed\n"
      `GET /big.bin 200 - ${ms} incomplete`,
    ];
    lines.forEach((line, i) => expect(line).toMatch(new RegExp(`^${expected[i]}$`)));
  });

  it('a reader of the log that goes away (`zerocopy serve | head -1`) ends the log, not the server', async () => {
    const { server, url } = await serve();
    server.proc.stdout!.destroy();
    for (let i = 0; i < 3; i++) expect((await request(`${url}index.html`)).status).toBe(200);
    server.proc.kill('SIGINT');
    expect(await server.exited).toMatchObject({ code: 0, signal: null, stderr: '' });
  });

  it('--quiet prints the startup line only', async () => {
    const { server, url } = await serve(['--quiet']);
    expect((await request(`${url}sub/data.bin`)).status).toBe(200);
    expect((await request(`${url}nothing-here`)).status).toBe(404);
    expect(await stop(server)).toMatch(new RegExp(`^${SERVING.source.slice(1)}$`));
  });
});

describe('--cors', () => {
  it('allows every origin on every response and answers preflight requests; without it, neither', async () => {
    const [cors, plain] = await Promise.all([serve(['--cors']), serve()]);
    const origin = { Origin: 'https://elsewhere.example' };

    const file = await request(`${cors.url}sub/data.bin`, { headers: origin });
    expect(file.status).toBe(200);
    expect(file.headers['access-control-allow-origin']).toBe('*');
    expect(file.headers['access-control-expose-headers']).toBe('Accept-Ranges, Content-Encoding, Content-Range, ETag');
    expect((await request(`${cors.url}nothing-here`, { headers: origin })).headers['access-control-allow-origin']).toBe('*');

    const preflight = { ...origin, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range, x-trace' };
    const answer = await request(`${cors.url}sub/data.bin`, { method: 'OPTIONS', headers: preflight });
    expect(answer.status).toBe(204);
    expect(answer.headers).toMatchObject({
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET, HEAD',
      'access-control-allow-headers': 'range, x-trace',
      'access-control-max-age': '86400',
    });
    expect(answer.body.length).toBe(0);

    expect((await request(`${plain.url}sub/data.bin`, { headers: origin })).headers['access-control-allow-origin']).toBeUndefined();
    expect((await request(`${plain.url}sub/data.bin`, { method: 'OPTIONS', headers: preflight })).status).toBe(405);
    await Promise.all([stop(cors.server), stop(plain.server)]);
  });
});

describe('--max-age and --immutable', () => {
  it('set Cache-Control: seconds, or a number with a unit, capped at a year', async () => {
    const cases: [string[], string][] = [
      [[], 'public, max-age=0'],
      [['--max-age', '90'], 'public, max-age=90'],
      [['--max-age', '2h', '--immutable'], 'public, max-age=7200, immutable'],
      [['--max-age', '1500ms'], 'public, max-age=1'],
      [['--max-age', '2y'], 'public, max-age=31536000'],
    ];
    const servers = await Promise.all(cases.map(([args]) => serve(['--quiet', ...args])));
    for (const [i, { url }] of servers.entries()) {
      const { headers } = await request(`${url}index.html`);
      expect({ args: cases[i][0], cacheControl: headers['cache-control'] }).toEqual({ args: cases[i][0], cacheControl: cases[i][1] });
    }
    await Promise.all(servers.map(({ server }) => stop(server)));
  });
});

describe('--precompressed', () => {
  it('serves FILE.br or FILE.gz to clients that accept them, and FILE itself otherwise; without it, always FILE', async () => {
    const [precompressed, plain] = await Promise.all([serve(['--quiet', '--precompressed']), serve(['--quiet'])]);
    const cases: [string, string | undefined, string | undefined, string][] = [
      [precompressed.url, 'gzip', 'gzip', 'app.js.gz'],
      [precompressed.url, 'gzip, br', 'br', 'app.js.br'],
      [precompressed.url, undefined, undefined, 'app.js'],
      [plain.url, 'gzip, br', undefined, 'app.js'],
    ];
    for (const [url, accept, encoding, file] of cases) {
      const got = await request(`${url}app.js`, { headers: accept ? { 'Accept-Encoding': accept } : {} });
      expect({ accept, encoding: got.headers['content-encoding'], type: got.headers['content-type'] }).toEqual({
        accept,
        encoding,
        type: 'text/javascript; charset=utf-8',
      });
      expectBytes(got.body, readFileSync(join(www, file)));
    }
    await Promise.all([stop(precompressed.server), stop(plain.server)]);
  });
});

describe('--extensions, --single and --listing', () => {
  it('look a URL up with the extensions given, answer what names nothing with index.html, and list a folder without one; without them, 404', async () => {
    const [extensions, single, listing, plain] = await Promise.all([
      serve(['--quiet', '--extensions', 'html,.htm']),
      serve(['--quiet', '--single']),
      serve(['--quiet', '--listing']),
      serve(['--quiet']),
    ]);
    const about = await request(`${extensions.url}about`);
    expect([about.status, about.headers['content-type'], about.body.toString()]).toEqual([200, 'text/html; charset=utf-8', '<h1>about</h1>\n']);

    const route = await request(`${single.url}app/settings`);
    expect([route.status, route.body.toString()]).toEqual([200, '<h1>hello</h1>\n']);
    expect((await request(`${single.url}missing.js`)).status).toBe(404);

    const html = await request(`${listing.url}docs/`);
    expect(html.status).toBe(200);
    expect(html.headers['content-type']).toMatch(/^text\/html/);
    expect(html.body.toString()).toContain('guide.txt');
    const json = await request(`${listing.url}docs/`, { headers: { Accept: 'application/json' } });
    expect(JSON.parse(json.body.toString())).toEqual([expect.objectContaining({ name: 'guide.txt', type: 'file', size: 8 })]);

    for (const path of ['about', 'app/settings', 'docs/']) expect({ path, status: (await request(`${plain.url}${path}`)).status }).toEqual({ path, status: 404 });
    await Promise.all([extensions, single, listing, plain].map(({ server }) => stop(server)));
  });
});

describe('HTTPS with --tls-cert and --tls-key', () => {
  it("serves the exact bytes over TLS and says in its startup line that bodies are encrypted in this process", async () => {
    const certs = join(tmp.path, 'certs');
    mkdirSync(certs);
    const { cert } = await makeSelfSignedCertificate(certs);
    const { server, url, notes } = await serve(['--tls-cert', join(certs, 'tls.crt'), '--tls-key', join(certs, 'tls.key')]);
    expect(url).toMatch(/^https:/);
    expect(notes).toBe('HTTPS: file bodies come from memory or go through the stream backend, encrypted in this process');
    const got = await request(`${url}sub/data.bin`, { ca: cert });
    expect(got.status).toBe(200);
    expectBytes(got.body, data);
    const ranged = await request(`${url}sub/data.bin`, { ca: cert, headers: { Range: 'bytes=1000-' } });
    expectBytes(ranged.body, data.subarray(1000));
    const lines = (await stop(server)).split('\n');
    expect(lines[1]).toMatch(/^GET \/sub\/data\.bin 200 300000 /);

    // A key that is no key: one line, exit 1, before listening.
    const bad = await runZerocopy(['serve', www, '--port', '0', '--tls-cert', join(certs, 'tls.crt'), '--tls-key', join(certs, 'tls.crt')]);
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toMatch(/^zerocopy: ERR_OSSL_\w+: --tls-cert \S+ --tls-key \S+: [^\n]+\n$/);
  });
});

describe('a port in use', () => {
  it('is one clear line and exit 1, for serve, serve --workers and recv, naming the port as each takes it', async () => {
    const port = await portInUse();
    const line = (name: string) => new RegExp(`^zerocopy: EADDRINUSE: 127\\.0\\.0\\.1:${port} is already in use by another program; choose another ${name} \\(0 picks a free one\\)\\n$`);
    const runs = await Promise.all([
      runZerocopy(['serve', www, '--port', String(port)]),
      runZerocopy(['serve', www, '--port', String(port), '--workers', '3']),
      runZerocopy(['recv', String(port)]),
    ]);
    for (const [i, result] of runs.entries()) {
      expect(result).toMatchObject({ code: 1, stdout: '' });
      expect(result.stderr).toMatch(line(i < 2 ? '--port' : 'PORT'));
    }
  });
});

describe('the address it prints', () => {
  it("with --host 0.0.0.0, lists the machine's own addresses, loopback first, not 0.0.0.0", async () => {
    const { server, port, notes } = await serve(['--host', '0.0.0.0', '--quiet']);
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((i) => i?.family === 'IPv4' && !i.internal)
      .map((i) => `http://${i!.address}:${port}/`);
    expect(notes ?? '').toBe(others.length ? `also ${others.join(', ')}` : '');
    expect((await fetch(`http://127.0.0.1:${port}/docs/guide.txt`)).status).toBe(200);
    await stop(server);
  });

  it('with no --port, gives way to the next free port when 8080 is taken, and says so', async () => {
    // Whoever has 8080 now (this test, when it is free): serve must not fail on it.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.once('error', () => resolve()).listen(8080, '127.0.0.1', resolve));
    listeners.push(holder);
    const server = zerocopy(['serve', www, '--quiet']);
    const [, , , port, notes] = await server.waitFor('stdout', SERVING);
    expect(Number(port)).toBeGreaterThan(8080);
    expect(notes).toBe('8080 is in use by another program');
    expect((await fetch(`http://127.0.0.1:${port}/docs/guide.txt`)).status).toBe(200);
    await stop(server);
  });
});

describe('--workers', () => {
  it('N processes, each with its own addon, share the port; one that dies is replaced; Ctrl-C stops them all and exits 0', async () => {
    // Its own process group, as a shell's foreground job: Ctrl-C signals the whole group.
    const { server, url, notes } = await serve(['--workers', '2'], { detached: true });
    expect(notes).toBe('2 workers');
    const primary = server.proc.pid!;
    const workers = childrenOf(primary);
    expect(workers).toHaveLength(2);
    for (const pid of workers) expect(hasAddon(pid), `worker ${pid} has the addon mapped`).toBe(true);
    for (let i = 0; i < 4; i++) expectBytes((await request(`${url}sub/data.bin`)).body, data);
    // A response is logged on its 'close', which may come after the client
    // has every byte: killed before, a worker would take its line with it.
    await server.waitFor('stdout', /(?:^GET \/sub\/data\.bin 200 300000 .*\n(?:.*\n)*?){4}/m);

    process.kill(workers[0], 'SIGKILL');
    await server.waitFor('stderr', new RegExp(`^zerocopy: worker ${workers[0]} was killed by SIGKILL; starting another\\n`));
    await eventually(() => childrenOf(primary).length === 2 && !childrenOf(primary).includes(workers[0]), 'a replacement worker');
    const replacement = childrenOf(primary).find((pid) => pid !== workers[1])!;
    await eventually(() => hasAddon(replacement), 'the replacement worker to load the addon');
    for (let i = 0; i < 4; i++) expectBytes((await request(`${url}sub/data.bin`)).body, data);
    // The same for these four lines before Ctrl-C: all eight logged.
    await server.waitFor('stdout', /(?:^GET \/sub\/data\.bin 200 300000 .*\n(?:.*\n)*?){8}/m);

    const alive = childrenOf(primary);
    process.kill(-primary, 'SIGINT');
    const result = await server.exited;
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(result.stderr).toBe(`zerocopy: worker ${workers[0]} was killed by SIGKILL; starting another\n`);
    expect(result.stdout.match(/^GET \/sub\/data\.bin 200 300000 /gm)).toHaveLength(8);
    for (const pid of alive) expect(isAlive(pid), `worker ${pid} is gone`).toBe(false);
  });

  it('SIGTERM to the primary alone (as a service manager sends it) stops every worker and exits 0', async () => {
    const { server, url } = await serve(['--workers', '2', '--quiet']);
    const workers = childrenOf(server.proc.pid!);
    expect(workers).toHaveLength(2);
    expect((await request(`${url}index.html`)).status).toBe(200);
    server.proc.kill('SIGTERM');
    expect(await server.exited).toMatchObject({ code: 0, signal: null, stderr: '' });
    for (const pid of workers) expect(isAlive(pid), `worker ${pid} is gone`).toBe(false);
  });
});
