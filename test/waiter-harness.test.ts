// The C driver of the readiness waiters (test/shims/waiter_harness.c)
// against every waiter this machine can run: epoll and poll(2) natively;
// kqueue, event ports and /dev/poll against their syscall shims
// (test/shims/{kqueue,ports,devpoll}.c), compiled as CMakeLists.txt
// compiles them for a shim build. It checks what native/waiter.h promises
// (one report per arming, wake-ups, arming from another thread, forget
// before close, many descriptors with one ready, sockets and pipes becoming
// writable), and proves that it can fail, against a deliberately broken
// copy of each waiter.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileAsync, exited } from './support/processes.js';

const root = join(__dirname, '..');
const out = join(root, 'build-test', 'waiters');

interface Waiter {
  source: string; // the waiter, relative to the repository
  shim?: string; // its syscall shim in test/shims, for another system's waiter
  // Copies with `find` replaced by `replace` must fail with a FAIL line like `shows`.
  broken: { what: string; find: string; replace: string; shows: RegExp }[];
}

const waiters: Record<string, Waiter> = {
  epoll: {
    source: 'native/linux/wait_epoll.c',
    broken: [
      {
        what: 'whose forget leaves the registration in place (it outlives close while a duplicate is open)',
        find: '(void)epoll_ctl(w->ep, EPOLL_CTL_DEL, fd, NULL);',
        replace: '(void)fd;',
        shows: /FAIL forget before close, a duplicate whose original stays open: .* reported token 0xb/,
      },
      {
        what: 'that waits for writability whatever it is asked',
        find: '(events & ZC_WAIT_READ ? EPOLLIN : 0)',
        replace: 'EPOLLOUT',
        shows: /FAIL armed for reading, nothing to read: nothing to read, though writable: reported token 0x28/,
      },
    ],
  },
  poll: {
    source: 'native/shared/wait_poll.c',
    broken: [
      {
        what: 'whose arm does not wake a poll in progress',
        find: 'if (err == 0) zc_waiter_wake(w);',
        replace: '',
        shows: /FAIL arming from another thread during a wait: time limit reached/,
      },
    ],
  },
  kqueue: {
    source: 'native/bsd/wait_kqueue.c',
    shim: 'kqueue',
    broken: [
      {
        what: 'that arms without EV_ONESHOT',
        find: 'EV_ADD | EV_ONESHOT',
        replace: 'EV_ADD',
        shows: /FAIL one report per arming: after its report, not armed again: reported token 0xfedcba9876543210/,
      },
      {
        what: 'whose forget stops at the first filter that is not there (without EV_RECEIPT)',
        find: 'EV_DELETE | EV_RECEIPT, 0);\n  (void)kevent(w->kq, changes, n, receipts, n, NULL);',
        replace: 'EV_DELETE, 0);\n  (void)receipts;\n  (void)kevent(w->kq, changes, n, NULL, 0, NULL);',
        shows: /FAIL forget drops a registration for reading: forgotten, then a byte to read: reported token 0x29/,
      },
    ],
  },
  ports: {
    source: 'native/solaris/wait_port.c',
    shim: 'ports',
    broken: [
      {
        what: 'that queues every wake-up (they fill the limit associations share)',
        find: 'if (atomic_exchange(&w->wake_queued, 1)) return;',
        replace: '',
        shows: /FAIL a hundred thousand wake-ups in a row: arm after the wake-ups failed/,
      },
    ],
  },
  devpoll: {
    source: 'native/hpux/wait_devpoll.c',
    shim: 'devpoll',
    broken: [
      {
        what: 'that leaves reported descriptors in the set (level-triggered, its waits spin)',
        find: 'if (nremovals > 0) (void)put(w, removals, nremovals);',
        replace: '',
        shows: /FAIL one report per arming: after its report, not armed again: the wait returned 0 tokens before anything woke it/,
      },
      {
        what: 'that ORs new events into those registered (a reader keeps being reported for writability)',
        find: '} else if (s->registered && s->events != mask) {',
        replace: '} else if (0) {',
        shows: /FAIL arming again for other events replaces them/,
      },
    ],
  },
};

// As CMakeLists.txt builds the addon: C11 with GNU extensions, 64-bit
// offsets, hidden symbols.
const cflags = [
  '-std=gnu11', '-O2', '-g', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Wno-missing-field-initializers',
  '-D_FILE_OFFSET_BITS=64', '-fvisibility=hidden',
];

/** Runs cc in the repository's root. */
async function cc(args: string[]): Promise<void> {
  await execFileAsync('cc', args, { cwd: root }).catch((e: { stderr?: string; message: string }) => {
    throw new Error(`cc ${args.join(' ')}\nfailed:\n${e.stderr ?? e.message}`);
  });
}

/** The harness and each shim, compiled once into build-test/waiters/common. */
async function compileCommon(): Promise<Record<string, string>> {
  const dir = join(out, 'common');
  mkdirSync(dir, { recursive: true });
  const objects: Record<string, string> = {};
  for (const unit of ['waiter_harness', 'readiness', 'kqueue', 'ports', 'devpoll']) {
    objects[unit] = join(dir, `${unit}.o`);
    await cc([...cflags, '-c', `test/shims/${unit}.c`, '-o', objects[unit]]);
  }
  return objects;
}

/** Compiles `waiterSource` (the waiter or a broken copy) and links it with the harness into dir/harness. */
async function compile(name: string, waiterSource: string, dir: string): Promise<string> {
  const { source, shim } = waiters[name];
  mkdirSync(dir, { recursive: true });
  const waiterObject = join(dir, 'waiter.o');
  const harness = join(dir, 'harness');
  // The waiter as CMake compiles it: a shimmed one finds its system's
  // headers in test/shims/include. -iquote keeps `#include "../waiter.h"`
  // working from a copy elsewhere.
  const shimFlags = shim ? ['-DZEROCOPY_SHIM=1', '-I', join(root, 'test/shims/include')] : [];
  await cc([...cflags, ...shimFlags, '-iquote', dirname(join(root, source)), '-c', waiterSource, '-o', waiterObject]);
  const shimObjects = shim ? [common[shim], common.readiness] : [];
  await cc([common.waiter_harness, ...shimObjects, waiterObject, '-pthread', '-o', harness]);
  return harness;
}

const summaryLine = /^waiter harness (\S+): (?:(\d+) checks|stopped by the time limit), (\d+) failures$/;

async function runHarness(harness: string, args: string[] = []) {
  const r = await exited(spawn(harness, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }));
  const last = r.stdout.trimEnd().split('\n').pop() ?? '';
  const m = summaryLine.exec(last);
  const report = `${relative(root, harness)} ${args.join(' ')}\n  exit ${r.code ?? r.signal}\n${r.stdout}${r.stderr}`;
  return { ...r, name: m?.[1], checks: Number(m?.[2] ?? 0), failures: m ? Number(m[3]) : undefined, report };
}

let common: Record<string, string>;
const harnesses: Record<string, string> = {};

beforeAll(async () => {
  const cc = spawnSync('cc', ['--version'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) {
    throw new Error('test/waiter-harness.test.ts compiles test/shims/waiter_harness.c with `cc`: install a C compiler (gcc or clang) so that `cc` is on PATH.');
  }
  common = await compileCommon();
  for (const name of Object.keys(waiters)) harnesses[name] = await compile(name, join(root, waiters[name].source), join(out, name));
}, 120_000);

describe.each(Object.keys(waiters))('waiter harness: %s', (name) => {
  it('keeps every promise of native/waiter.h', async () => {
    const r = await runHarness(harnesses[name]);
    expect(r.code, r.report).toBe(0);
    expect({ name: r.name, failures: r.failures }, r.report).toEqual({ name, failures: 0 });
    // Every case ran: well over the 200 armings of the many-descriptors case.
    expect(r.checks, r.report).toBeGreaterThan(300);
  });

  it.each(waiters[name].broken)('catches a copy $what', async (broken) => {
    const original = readFileSync(join(root, waiters[name].source), 'utf8');
    // The broken copy must really differ: if the code changed, the
    // mutation here has to follow it.
    expect(original.split(broken.find).length - 1, `"${broken.find}" in ${waiters[name].source}`).toBe(1);
    const dir = join(out, 'broken', name, String(waiters[name].broken.indexOf(broken)));
    mkdirSync(dir, { recursive: true });
    const copy = join(dir, basename(waiters[name].source));
    writeFileSync(copy, original.replace(broken.find, broken.replace));
    // A lost wake-up shows as a case that never ends: 3 seconds is ample
    // for cases that take milliseconds.
    const r = await runHarness(await compile(name, copy, dir), ['--case-limit', '3']);
    expect(r.code, r.report).toBe(1);
    expect(r.failures, r.report).toBeGreaterThan(0);
    expect(r.stdout, r.report).toMatch(broken.shows);
  });
});
