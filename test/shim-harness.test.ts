// The C driver of the shared loop (test/shims/harness.c) against each
// shimmed backend: it reaches what the JS API cannot (up to 40 header and
// trailer buffers, empty ones among them; files already too short before
// the first call; Solaris's file output and its EINVAL end of file; a
// system call that refuses, and the loop's fallback to the next backend).
// This file compiles it per system with the machine's `cc`, runs it with
// and without injected faults, and proves that it can fail, by running it
// against deliberately broken copies of each backend and of the loop.
// Last, the fallback through the addon itself: a shimmed build whose call
// refuses must still deliver, and say which backend did.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';

const { addonPath } = createRequire(__filename)('../scripts/build-test-addons.js') as { addonPath: (name: string) => string };

const root = join(__dirname, '..');
const out = join(root, 'build-test', 'harness');

interface Mode {
  name: string;
  args: string[];
  env: Record<string, string>;
}

// A broken copy the harness must catch: `find` replaced by `replace` in
// the backend (or, with `loop`, in native/shared/send_loop.c), run with
// `args` and `env`, failing with a FAIL line like `shows`.
interface Broken {
  what: string;
  loop?: boolean;
  find: string;
  replace: string;
  args: string[];
  env?: Record<string, string>;
  shows: RegExp;
}

interface System {
  source: string; // the backend, relative to the repository
  symbol: string; // its zc_backend
  // Harness runs beyond plain TCP: extra arguments and environment.
  modes: Mode[];
  broken: Broken[];
}

const tcp = { name: 'tcp', args: [], env: {} };
// Every call of the system's backend refuses with `errno` before sending
// anything (test/shims/shim.h), so the loop must fall back to readwrite.
const refused = (errno: string): Mode => ({ name: `tcp, every call refused with ${errno}`, args: [], env: { ZEROCOPY_SHIM_REFUSE: errno } });

const systems: Record<string, System> = {
  solaris: {
    source: 'native/solaris/sendfilev_solaris.c',
    symbol: 'zc_solaris_sendfilev',
    modes: [
      tcp,
      { name: 'file output', args: ['--output', 'file'], env: {} },
      { name: 'tcp, EINVAL at end of file', args: [], env: { ZEROCOPY_SHIM_SOLARIS_EOF: 'einval' } },
      { name: 'file output, EINVAL at end of file', args: ['--output', 'file'], env: { ZEROCOPY_SHIM_SOLARIS_EOF: 'einval' } },
      // Go reads a Solaris EINVAL with nothing sent as "not handled".
      refused('EINVAL'),
    ],
    broken: [
      {
        what: 'whose backend lacks the EINVAL-after-progress rule, writing to a file',
        find: 'if (err == EINVAL && xferred > 0) err = 0;',
        replace: '',
        // Over TCP with Solaris 11's end of file the rule never comes into play.
        args: ['--output', 'file'],
        shows: /ended with 22 \(Invalid argument\)/,
      },
      {
        what: "whose backend passes the manual's EINVAL at end of file on as a refusal",
        find: 'if (err == EINVAL && xferred == 0 && zc_file_ends_before(t, c->offset, c->file_len)) err = 0;',
        replace: '',
        args: [],
        env: { ZEROCOPY_SHIM_SOLARIS_EOF: 'einval' },
        // The loop falls back to readwrite as if the call had refused.
        shows: /ended on readwrite, yet the backend under test was never refused/,
      },
    ],
  },
  hpux: {
    source: 'native/hpux/sendfile_hpux.c',
    symbol: 'zc_hpux_sendfile',
    modes: [tcp, refused('ENOSYS')],
    broken: [
      {
        what: 'whose backend claims hdtrl carries two header buffers (it has one slot)',
        find: '.max_headers = 1,',
        replace: '.max_headers = 2,',
        args: [],
        shows: /differing from byte \d+ on \(in the (headers|file)\)/,
      },
    ],
  },
  freebsd: {
    source: 'native/bsd/sendfile_freebsd.c',
    symbol: 'zc_freebsd_sendfile',
    modes: [tcp, refused('EOPNOTSUPP')],
    broken: [
      {
        what: 'whose backend sends trailers with headers from an offset past the end of the file (they land where the headers belong)',
        find: 'if (c->nheaders > 0 && c->ntrailers > 0 && zc_file_ends_before(t, c->offset, 1)) {',
        replace: 'if (0) {',
        args: [],
        shows: /received bytes differ from byte \d+ on \(in the headers\)/,
      },
      // The rules every backend once repeated, now the loop's alone.
      {
        what: 'whose loop takes nothing moved for "try again" rather than end of file',
        loop: true,
        find: 'if (c.moved == 0 && c.err == 0) return ZC_ETRUNCATED;',
        replace: '',
        args: [],
        shows: /zc_run would spin/,
      },
      {
        what: 'whose loop trusts a short count from a call that carried trailers',
        loop: true,
        find: 'if (c.ntrailers > 0 && c.moved < asked && zc_file_ends_before(t, c.offset, c.file_len))',
        replace: 'if (0)',
        args: [],
        shows: /file too short: received bytes differ|file too short: ended with 0/,
      },
      {
        what: 'whose loop never falls back from a refused call',
        loop: true,
        find: 'if (is_refusal(c.err) && t->backend_moved == 0 && t->may_fall_back) {',
        replace: 'if (0) {',
        args: [],
        env: { ZEROCOPY_SHIM_REFUSE: 'EOPNOTSUPP' },
        shows: /ended with 95 \(Operation not supported\)/,
      },
    ],
  },
  darwin: {
    source: 'native/bsd/sendfile_darwin.c',
    symbol: 'zc_darwin_sendfile',
    modes: [tcp, refused('EOPNOTSUPP')],
    broken: [
      {
        what: 'whose backend lets trailers ride in sf_hdtr beside the headers (Darwin then drops the file part)',
        find: '.max_trailers = 0,',
        replace: '.max_trailers = ZC_IOV_BATCH,',
        args: [],
        shows: /differing from byte \d+ on \(in the (file|trailers)\)/,
      },
    ],
  },
};

// Fault seeds: none, then 1 to 8. A run's transfers follow --seed, given
// the same number.
const seeds = [undefined, ...Array.from({ length: 8 }, (_, i) => String(i + 1))];
const rounds = 80;
// Seconds the harness gives itself before it reports a hang; the process
// is killed a little later still.
const timeLimit = 30;

// As CMakeLists.txt builds the addon: C11 with GNU extensions, 64-bit
// offsets, hidden symbols.
const cflags = [
  '-std=gnu11', '-O2', '-g', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Wno-missing-field-initializers',
  '-D_FILE_OFFSET_BITS=64', '-fvisibility=hidden',
];

interface Result {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], options: { env?: Record<string, string>; timeout?: number } = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: root, env: options.env ?? process.env, timeout: options.timeout ?? 0, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const e = error as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null;
        if (e && typeof e.code === 'string') {
          resolve({ code: null, signal: null, stdout, stderr: `${stderr}${e.message}` });
        } else {
          resolve({ code: e ? ((e.code as number | undefined) ?? null) : 0, signal: e?.signal ?? null, stdout, stderr });
        }
      },
    );
  });
}

/** Runs tasks with at most `n` at a time, keeping their order. */
async function pool<T>(tasks: (() => Promise<T>)[], n: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, worker));
  return results;
}

const loopSource = 'native/shared/send_loop.c';

/** Compiles the harness for `system` with `backendSource` and `loop` into dir/harness. */
async function compile(system: string, backendSource: string, dir: string, loop = join(root, loopSource)): Promise<string> {
  const { source, symbol } = systems[system];
  mkdirSync(dir, { recursive: true });
  const backendObject = join(dir, 'backend.o');
  const harness = join(dir, 'harness');
  const steps: string[][] = [
    // The backend as CMake compiles it for a shim build. -iquote keeps its
    // `#include "../zerocopy.h"` working from a patched copy elsewhere.
    [...cflags, '-iquote', dirname(join(root, source)), '-include', join(root, 'test/shims', `${system}.h`),
      '-DZEROCOPY_SHIM=1', '-c', backendSource, '-o', backendObject],
    // The loop, perhaps a patched copy, and the fallback it hands refused
    // transfers to.
    [...cflags, `-DHARNESS_SYSTEM=${system}`, `-DHARNESS_BACKEND=${symbol}`, '-iquote', join(root, 'native/shared'),
      'test/shims/harness.c', loop, 'native/fallback/readwrite.c',
      `test/shims/${system}.c`, 'test/shims/faults.c', backendObject, '-pthread', '-o', harness],
  ];
  for (const args of steps) {
    const r = await run('cc', args);
    if (r.code !== 0) throw new Error(`cc ${args.join(' ')}\nfailed (${r.code ?? r.signal}):\n${r.stderr}${r.stdout}`);
  }
  return harness;
}

interface Summary {
  transfers: number;
  failures: number;
}

const summaryLine = /^harness .*: (\d+) rounds, (\d+) transfers, (\d+) failures$/;

function summary(stdout: string): Summary | undefined {
  const last = stdout.trimEnd().split('\n').pop() ?? '';
  const m = summaryLine.exec(last);
  return m ? { transfers: Number(m[2]), failures: Number(m[3]) } : undefined;
}

/** The harness's environment: ours, minus the shims' knobs, plus `env`. */
function harnessEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('ZEROCOPY_SHIM_')) base[k] = v;
  return { ...base, ...env };
}

function replay(harness: string, args: string[], env: Record<string, string>): string {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v} `).join('');
  return `${vars}${relative(root, harness)} ${args.join(' ')}`;
}

const harnesses: Record<string, string> = {};

beforeAll(async () => {
  const cc = spawnSync('cc', ['--version'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) {
    throw new Error(
      'test/shim-harness.test.ts compiles test/shims/harness.c with `cc`, which ' +
        (cc.error ? `could not be run (${cc.error.message})` : `failed: ${cc.stderr}`) +
        ': install a C compiler (gcc or clang) so that `cc` is on PATH.',
    );
  }
  const names = Object.keys(systems);
  const built = await pool(
    names.map((name) => () => compile(name, join(root, systems[name].source), join(out, name))),
    availableParallelism(),
  );
  names.forEach((name, i) => (harnesses[name] = built[i]));
}, 120_000);

describe.each(Object.keys(systems))('shim harness: %s', (name) => {
  const system = systems[name];

  it.each(system.modes.map((mode) => [mode.name, mode] as const))(
    `drives zc_run against the ${name} backend byte for byte (%s), without faults and with seeds 1 to 8`,
    async (_, mode) => {
      const harness = harnesses[name];
      const results = await pool(
        seeds.map((seed) => async () => {
          const env = { ...mode.env, ...(seed ? { ZEROCOPY_SHIM_FAULTS: seed } : {}) };
          const args = ['--rounds', String(rounds), '--seed', seed ?? '0', '--time-limit', String(timeLimit), ...mode.args];
          const r = await run(harness, args, { env: harnessEnv(env), timeout: (timeLimit + 15) * 1000 });
          return { command: replay(harness, args, env), r, s: summary(r.stdout) };
        }),
        availableParallelism(),
      );
      const problems = results
        .filter(({ r, s }) => r.code !== 0 || !s || s.failures !== 0 || s.transfers < rounds)
        .map(({ command, r }) => `${command}\n  exit ${r.code ?? r.signal}\n${r.stdout}${r.stderr}`);
      expect(problems).toEqual([]);
    },
  );

  it.each(system.broken.map((b, i) => [b.what, i] as const))(`fails a ${name} build %s`, async (_, i) => {
    const { loop, find, replace, args, env = {}, shows } = system.broken[i];
    const source = loop ? loopSource : system.source;
    const original = readFileSync(join(root, source), 'utf8');
    // The broken copy must really differ: if the code changed, the
    // mutation below has to follow it.
    expect(original.split(find).length - 1, `"${find}" in ${source}`).toBe(1);
    const dir = join(out, 'broken', name, String(i));
    mkdirSync(dir, { recursive: true });
    const copy = join(dir, basename(source));
    writeFileSync(copy, original.replace(find, replace));

    const harness = loop
      ? await compile(name, join(root, system.source), dir, copy)
      : await compile(name, copy, dir);
    const runArgs = ['--rounds', String(rounds), '--seed', '1', '--time-limit', String(timeLimit), ...args];
    const r = await run(harness, runArgs, { env: harnessEnv(env), timeout: (timeLimit + 15) * 1000 });
    const s = summary(r.stdout);
    const report = `${replay(harness, runArgs, env)}\n  exit ${r.code ?? r.signal}\n${r.stdout}${r.stderr}`;
    expect(r.code, report).toBe(1);
    expect(s?.failures, report).toBeGreaterThan(0);
    expect(r.stdout, report).toMatch(shows);
  });
});

// The fallback through the addon and the JS layer: the FreeBSD shim build,
// whose sendfile refuses every call here as FreeBSD's does on a file system
// without sendfile support, run in a child process so that the addon and
// the shim's variable are its own. A small transfer runs on the JS thread,
// a large one on the driver thread.
const fallbackScript = `
const { randomBytes } = require('node:crypto');
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { sendFile } = require(process.argv[1]);

async function pair() {
  const listener = net.createServer();
  await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise((resolve) => listener.once('connection', resolve));
  const client = net.connect(listener.address().port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  const server = await accepted;
  listener.close();
  const chunks = [];
  server.on('data', (chunk) => chunks.push(chunk));
  const received = new Promise((resolve) => server.on('end', () => resolve(Buffer.concat(chunks))));
  return { client, server, received };
}

(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zc-fallback-'));
  const file = join(dir, 'data.bin');
  const content = randomBytes(3 << 20);
  writeFileSync(file, content);
  const report = {};
  for (const [label, count] of [['small', 1000], ['large', content.length]]) {
    const { client, server, received } = await pair();
    const result = await sendFile(client, file, { count, headers: 'head', trailers: 'tail' });
    client.end();
    const want = Buffer.concat([Buffer.from('head'), content.subarray(0, count), Buffer.from('tail')]);
    report[label] = { ...result, delivered: (await received).equals(want) };
    server.destroy();
  }
  const { client, server } = await pair();
  const error = await sendFile(client, file, { count: 1000, headers: 'head', backend: 'sendfile' }).catch((e) => e);
  report.named = { code: error.code, syscall: error.syscall, bytesSent: error.bytesSent };
  client.destroy();
  server.destroy();
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(JSON.stringify(report));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

describe('fallback through the addon', () => {
  it("'auto' hands a refused transfer to mmap and resolves with its name; a named backend reports the refusal", async () => {
    const addon = addonPath('freebsd');
    if (!existsSync(addon)) throw new Error(`${addon} is missing: node scripts/build-test-addons.js builds it (npm test does)`);
    const env = { ...harnessEnv({ ZEROCOPY_SHIM_REFUSE: 'EOPNOTSUPP' }), ZEROCOPY_ADDON: addon };
    const r = await run(process.execPath, ['-e', fallbackScript, join(root, 'dist/cjs/index.js')], { env, timeout: 60_000 });
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      small: { bytesSent: 1008, backend: 'mmap', delivered: true },
      large: { bytesSent: (3 << 20) + 8, backend: 'mmap', delivered: true },
      // Linux, where the shim runs, names errno 95 ENOTSUP.
      named: { code: expect.stringMatching(/^(EOPNOTSUPP|ENOTSUP)$/), syscall: 'sendfile', bytesSent: 0 },
    });
  });
});
