// The SO_SPLICE shim (test/shims/sosplice.c) against what the manuals and
// FreeBSD's own tests say SO_SPLICE does: test/shims/sosplice_harness.c,
// compiled with the machine's `cc` as CMake compiles a shim build, checks
// it case by case on loopback TCP (the counts, setsockopt's errors, kqueue
// not reporting a spliced source, sp_max, sp_idle, the end of stream, a
// drain that fails). The FreeBSD build's mover (native/bsd/sosplice.c) runs
// on this model in the conformance suite; what only a real FreeBSD or
// OpenBSD can prove is listed in native/bsd/README.md. The harness must
// also catch broken copies of the shim.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileAsync, exited } from './support/processes.js';

const root = join(__dirname, '..');
const out = join(root, 'build-test', 'sosplice');
const cflags = ['-std=gnu11', '-O1', '-g', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Wno-missing-field-initializers', '-D_FILE_OFFSET_BITS=64'];
const units = ['sosplice_harness', 'sosplice', 'kqueue', 'readiness', 'faults'];

async function build(dir: string, replace?: { file: string; find: string; by: string }): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const objects: string[] = [];
  for (const unit of units) {
    let source = join(root, 'test', 'shims', `${unit}.c`);
    if (replace && replace.file === unit) {
      const original = readFileSync(source, 'utf8');
      expect(original.split(replace.find).length - 1, `"${replace.find}" in ${unit}.c`).toBe(1);
      source = join(dir, `${unit}.c`);
      writeFileSync(source, original.replace(replace.find, replace.by));
    }
    const object = join(dir, `${unit}.o`);
    await execFileAsync('cc', [...cflags, '-iquote', join(root, 'test', 'shims'), '-c', source, '-o', object]);
    objects.push(object);
  }
  const binary = join(dir, 'sosplice_harness');
  await execFileAsync('cc', [...objects, '-pthread', '-o', binary]);
  return binary;
}

async function runHarness(binary: string) {
  const r = await exited(spawn(binary, [], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const m = /^sosplice harness: (\d+) checks, (\d+) failures$/m.exec(r.stdout);
  return { ...r, checks: Number(m?.[1] ?? 0), failures: m ? Number(m[2]) : undefined, report: `exit ${r.code ?? r.signal}\n${r.stdout}${r.stderr}` };
}

let harness: string;
beforeAll(async () => {
  const cc = spawnSync('cc', ['--version']);
  if (cc.error || cc.status !== 0) throw new Error('test/sosplice-shim.test.ts compiles C with `cc`: install gcc or clang.');
  harness = await build(join(out, 'model'));
}, 120_000);

describe('the SO_SPLICE shim', () => {
  it('models what the manuals and FreeBSD tests/sys/kern/socket_splice.c describe', async () => {
    const r = await runHarness(harness);
    expect(r.code, r.report).toBe(0);
    expect(r.failures, r.report).toBe(0);
    expect(r.checks, r.report).toBeGreaterThan(50);
  });

  it.each([
    {
      what: 'whose kqueue reports a spliced source readable',
      replace: { file: 'kqueue', find: 'if (hidden_by_splice(&q->notes[i])) continue;', by: '' },
      shows: /FAIL a spliced source is not readable to kqueue until dissolved: no event while they wait/,
    },
    {
      what: 'that ignores sp_max',
      replace: { file: 'sosplice', find: 'if (r->max && moved >= r->max) break;', by: '' },
      shows: /FAIL sp_max: .*dissolved at the limit/,
    },
    {
      what: 'that keeps no error for SO_ERROR',
      replace: { file: 'sosplice', find: '  r->error = error;\n', by: '  r->error = 0;\n' },
      shows: /FAIL sp_idle: .*SO_ERROR is ETIMEDOUT/,
    },
  ])('catches a copy $what', async ({ replace, shows }) => {
    const dir = join(out, `broken-${replace.file}-${Buffer.from(replace.find).toString('hex').slice(0, 12)}`);
    const r = await runHarness(await build(dir, replace));
    expect(r.code, r.report).toBe(1);
    expect(r.stdout, r.report).toMatch(shows);
  });
});
