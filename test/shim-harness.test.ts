// The C driver of the shared loop (test/shims/harness.c) against each
// shimmed backend: it reaches what the JS API cannot (up to 40 header and
// trailer buffers, empty ones among them; files already too short before
// the first call; Solaris's file output and its EINVAL end of file). This
// file compiles it per system with the machine's `cc`, runs it with and
// without injected faults, and proves per system that it can fail, by
// running it against a deliberately broken copy of the backend.
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(__dirname, '..');
const out = join(root, 'build-test', 'harness');

interface System {
  source: string; // the backend, relative to the repository
  symbol: string; // its zc_backend
  // Harness runs beyond plain TCP: extra arguments and environment.
  modes: { name: string; args: string[]; env: Record<string, string> }[];
  // A broken copy of the backend the harness must catch: `find` replaced
  // by `replace`, run with `args`, failing with a FAIL line like `shows`.
  broken: { what: string; find: string; replace: string; args: string[]; shows: RegExp };
}

const tcp = { name: 'tcp', args: [], env: {} };

const systems: Record<string, System> = {
  solaris: {
    source: 'native/solaris/sendfilev_solaris.c',
    symbol: 'zc_solaris_sendfilev',
    modes: [
      tcp,
      { name: 'file output', args: ['--output', 'file'], env: {} },
      { name: 'tcp, EINVAL at end of file', args: [], env: { ZEROCOPY_SHIM_SOLARIS_EOF: 'einval' } },
      { name: 'file output, EINVAL at end of file', args: ['--output', 'file'], env: { ZEROCOPY_SHIM_SOLARIS_EOF: 'einval' } },
    ],
    broken: {
      what: 'without the EINVAL-after-progress rule, writing to a file',
      find: 'if (err == EINVAL && xferred > 0) err = 0;',
      replace: '',
      // Over TCP with Solaris 11's end of file the rule never comes into play.
      args: ['--output', 'file'],
      shows: /ended with 22 \(Invalid argument\)/,
    },
  },
  hpux: {
    source: 'native/hpux/sendfile_hpux.c',
    symbol: 'zc_hpux_sendfile',
    modes: [tcp],
    broken: {
      what: 'calling sendfile with nbytes 0 ("to the end of the file") when no file bytes are due',
      find: 'if (t->remaining == 0 || t->nheaders > 1) return zc_write_buffers(t, moved);',
      replace: 'if (t->nheaders > 1) return zc_write_buffers(t, moved);',
      args: [],
      shows: /reported \d+ bytes moved, with only \d+ due/,
    },
  },
  freebsd: {
    source: 'native/bsd/sendfile_freebsd.c',
    symbol: 'zc_freebsd_sendfile',
    modes: [tcp],
    broken: {
      what: 'calling sendfile with nbytes 0 ("to the end of the file") when no file bytes are due',
      find: 'if (t->remaining == 0 || t->nheaders > ZC_IOV_BATCH) return zc_write_buffers(t, moved);',
      replace: 'if (t->nheaders > ZC_IOV_BATCH) return zc_write_buffers(t, moved);',
      args: [],
      shows: /reported \d+ bytes moved, with only \d+ due/,
    },
  },
  darwin: {
    source: 'native/bsd/sendfile_darwin.c',
    symbol: 'zc_darwin_sendfile',
    modes: [tcp],
    broken: {
      what: 'putting the trailers in sf_hdtr beside the headers (Darwin then drops the file part)',
      find: 'struct sf_hdtr hdtr = {t->headers, t->nheaders, NULL, 0};',
      replace:
        'struct sf_hdtr hdtr = {t->headers, t->nheaders, file_len == t->remaining && t->ntrailers ? t->trailers : NULL,' +
        ' file_len == t->remaining ? t->ntrailers : 0};',
      args: [],
      shows: /differing from byte \d+ on \(in the (file|trailers)\)/,
    },
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

/** Compiles the harness for `system` with `backendSource` into dir/harness. */
async function compile(system: string, backendSource: string, dir: string): Promise<string> {
  const { source, symbol } = systems[system];
  mkdirSync(dir, { recursive: true });
  const backendObject = join(dir, 'backend.o');
  const harness = join(dir, 'harness');
  const steps: string[][] = [
    // The backend as CMake compiles it for a shim build. -iquote keeps its
    // `#include "../zerocopy.h"` working from a patched copy elsewhere.
    [...cflags, '-iquote', dirname(join(root, source)), '-include', join(root, 'test/shims', `${system}.h`),
      '-DZEROCOPY_SHIM=1', '-c', backendSource, '-o', backendObject],
    [...cflags, `-DHARNESS_SYSTEM=${system}`, `-DHARNESS_BACKEND=${symbol}`,
      'test/shims/harness.c', 'native/shared/send_loop.c', `test/shims/${system}.c`, 'test/shims/faults.c',
      backendObject, '-pthread', '-o', harness],
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

  it(`fails a ${name} backend ${system.broken.what}`, async () => {
    const { find, replace, args, shows } = system.broken;
    const original = readFileSync(join(root, system.source), 'utf8');
    // The broken copy must really differ: if the backend changed, the
    // mutation below has to follow it.
    expect(original.split(find).length - 1, `"${find}" in ${system.source}`).toBe(1);
    const dir = join(out, 'broken', name);
    mkdirSync(dir, { recursive: true });
    const copy = join(dir, basename(system.source));
    writeFileSync(copy, original.replace(find, replace));

    const harness = await compile(name, copy, dir);
    const runArgs = ['--rounds', String(rounds), '--seed', '1', '--time-limit', String(timeLimit), ...args];
    const r = await run(harness, runArgs, { env: harnessEnv({}), timeout: (timeLimit + 15) * 1000 });
    const s = summary(r.stdout);
    const report = `${replay(harness, runArgs, {})}\n  exit ${r.code ?? r.signal}\n${r.stdout}${r.stderr}`;
    expect(r.code, report).toBe(1);
    expect(s?.failures, report).toBeGreaterThan(0);
    expect(r.stdout, report).toMatch(shows);
  });
});
