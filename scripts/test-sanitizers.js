// The addon under sanitizers (npm run test:sanitizers; one of them with
// `node scripts/test-sanitizers.js address|thread|valgrind`):
//
// - address: the addon built with ASan and UBSan (-DZEROCOPY_SANITIZE=address)
//   into build-sanitize/address, then the transfer, socket, hostile-input,
//   conformance, soak and load suites against it (ZEROCOPY_ADDON), with the
//   sanitizer runtimes preloaded into a stock Node. Leak detection is off:
//   Node itself does not free everything at exit. Any report fails the run.
//   The EMFILE tests' child, which fills its descriptor table, loads
//   build-sanitize/address-no-vptr instead (ZEROCOPY_ADDON_NO_VPTR): UBSan's
//   vptr check reads the vtable through a pipe(2), and with no descriptor
//   left it reports any object as invalid. Nor can a report from that child
//   reach the logs: UBSan reads UBSAN_OPTIONS at its first report, and there
//   cannot open /proc/self/environ, so it writes to stderr; ASan cannot open
//   its log file, and dies saying so. Either fails the test by the child's
//   exit status, not by the count of reports below.
// - thread: Node cannot run under TSan, so test/sanitize/driver_harness.cc
//   runs the real driver thread (native/node/driver.cc) and the shared loop
//   over a fake Node-API, built with -fsanitize=thread.
// - valgrind: memcheck over a representative subset (every backend, sockets,
//   pipes and files, aborts), reporting only errors whose stack passes
//   through the addon: V8's own tricks are not ours to judge.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const { mkdirSync, readdirSync, readFileSync, rmSync } = require('node:fs');
const { basename, join } = require('node:path');

const root = join(__dirname, '..');
const out = join(root, 'build-sanitize');
const cmakeJs = join(require.resolve('cmake-js/package.json'), '..', 'bin', 'cmake-js');

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function gccFile(name) {
  return execFileSync('gcc', [`-print-file-name=${name}`], { encoding: 'utf8' }).trim();
}

function address() {
  const dir = join(out, 'address');
  if (run(process.execPath, [cmakeJs, 'compile', '--out', dir, '--CDZEROCOPY_SANITIZE=address']) !== 0) return 1;
  // For the EMFILE child only: UBSan's vptr check needs a pipe(2), so with the table full it reports every object.
  const noVptr = join(out, 'address-no-vptr');
  if (run(process.execPath, [cmakeJs, 'compile', '--out', noVptr, '--CDZEROCOPY_SANITIZE=address', '--CDZEROCOPY_SANITIZE_VPTR=OFF']) !== 0) return 1;
  const logs = join(dir, 'logs');
  rmSync(logs, { recursive: true, force: true });
  mkdirSync(logs, { recursive: true });
  const files = process.argv.slice(3);
  const suites = files.length
    ? files
    : // Not socket.test.ts's idle-timeout timings nor serve.test.ts's curl:
      // the sanitized build is several times slower, and curl does not run
      // with the ASan runtime preloaded.
      ['test/transfer.test.ts', 'test/wrong-receiver.test.ts', 'test/hostile-inputs.test.ts', 'test/conformance.test.ts', 'test/cork.test.ts', 'test/soak.test.ts', 'test/load.test.ts', 'test/http-hostile.test.ts', 'test/properties.test.ts'];
  const env = {
    ...process.env,
    ZEROCOPY_ADDON: join(dir, 'Release', 'zerocopy.node'),
    ZEROCOPY_ADDON_NO_VPTR: join(noVptr, 'Release', 'zerocopy.node'),
    // The soak's RSS bound does not hold with ASan's quarantine.
    ZEROCOPY_SANITIZED: 'address',
    LD_PRELOAD: [gccFile('libasan.so'), gccFile('libubsan.so')].join(':'),
    ASAN_OPTIONS: `detect_leaks=0:abort_on_error=1:log_path=${join(logs, 'asan')}`,
    UBSAN_OPTIONS: `print_stacktrace=1:halt_on_error=1:log_path=${join(logs, 'ubsan')}`,
  };
  const status = run(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--project', 'linux', ...suites], { env });
  const reports = readdirSync(logs);
  for (const report of reports) process.stderr.write(`--- ${report}\n${readFileSync(join(logs, report), 'utf8')}\n`);
  console.log(`test:sanitizers address: suites ${status === 0 ? 'passed' : 'FAILED'}, ${reports.length} sanitizer report(s)`);
  return status !== 0 || reports.length > 0 ? 1 : 0;
}

/** Compiles the driver, the shared loop and the Linux backends with `flags` into `dir`, linked with the harness. */
function buildHarness(dir, flags) {
  mkdirSync(dir, { recursive: true });
  const napi = require('node-api-headers').include_dir;
  const addonApi = require('node-addon-api').include_dir;
  const c = [
    'native/shared/send_loop.c', 'native/shared/backends.c', 'native/shared/classify.c', 'native/fallback/mmap.c', 'native/fallback/readwrite.c', 'native/linux/sendfile_linux.c', 'native/linux/wait_epoll.c', 'native/linux/lease_linux.c',
    // The driver runs flows too (receive, relay).
    'native/shared/relay_loop.c', 'native/shared/movers.c', 'native/fallback/readwrite_flow.c', 'native/linux/splice_linux.c',
  ];
  const objects = c.map((source) => {
    const object = join(dir, `${basename(source)}.o`);
    execFileSync('gcc', ['-std=gnu11', '-D_FILE_OFFSET_BITS=64', '-DZC_SYSTEM_BACKEND=zc_linux_sendfile', '-DZC_SYSTEM_MOVER=zc_linux_splice', ...flags, '-c', source, '-o', object], { cwd: root, stdio: 'inherit' });
    return object;
  });
  const binary = join(dir, 'driver_harness');
  execFileSync(
    'g++',
    [
      '-std=c++17', ...flags, `-I${napi}`, `-I${join(root, addonApi)}`,
      '-DNAPI_VERSION=8', '-DNAPI_DISABLE_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED', '-DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS',
      'native/node/driver.cc', 'test/sanitize/fake_napi.cc', 'test/sanitize/driver_harness.cc', ...objects, '-o', binary, '-lpthread',
    ],
    { cwd: root, stdio: 'inherit' },
  );
  return binary;
}

function thread() {
  const binary = buildHarness(join(out, 'thread'), ['-fsanitize=thread', '-g', '-O1']);
  const status = run(binary, [process.env.ZEROCOPY_HARNESS_TRANSFERS ?? '400', String(Date.now() % 100000)], {
    env: { ...process.env, TSAN_OPTIONS: 'halt_on_error=1:second_deadlock_stack=1' },
  });
  console.log(`test:sanitizers thread: ${status === 0 ? 'no data race, every transfer exact' : 'FAILED'}`);
  return status;
}

// What memcheck runs: each backend to a socket, a pipe and a file, with
// headers and trailers, an abort and a destroyed socket.
const VALGRIND_SCRIPT = `
const { sendFile, capabilities } = require(process.argv[1]);
const fs = require('node:fs'), net = require('node:net'), os = require('node:os'), path = require('node:path');
(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zc-valgrind-'));
  const file = path.join(dir, 'data.bin');
  fs.writeFileSync(file, require('node:crypto').randomBytes(3 << 20));
  const server = net.createServer((s) => s.resume()).listen(0, '127.0.0.1');
  await new Promise((r) => server.on('listening', r));
  let n = 0;
  for (const backend of capabilities().backends) {
    const socket = net.connect(server.address().port, '127.0.0.1');
    await new Promise((r) => socket.on('connect', r));
    await sendFile(socket, file, { backend, headers: ['a', 'bc'], trailers: 'z', offset: 7 }); n++;
    const controller = new AbortController();
    const aborted = sendFile(socket, file, { backend, signal: controller.signal }).catch(() => {});
    controller.abort(); await aborted; n++;
    const doomed = sendFile(socket, file, { backend }).catch(() => {});
    socket.destroy(); await doomed; n++;
    const out = fs.openSync(path.join(dir, 'out-' + backend), 'w');
    await sendFile(out, file, { backend, count: 100000, headers: 'h' }); n++;
    fs.closeSync(out);
  }
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log('valgrind subset: ' + n + ' transfers');
})().catch((e) => { console.error(e); process.exit(1); });
`;

function valgrind() {
  if (spawnSync('valgrind', ['--version']).status !== 0) {
    console.log('test:sanitizers valgrind: valgrind is not installed (apt-get install valgrind)');
    return 1;
  }
  const r = spawnSync(
    'valgrind',
    ['--tool=memcheck', '--error-limit=no', '--num-callers=30', '--leak-check=no', '--undef-value-errors=yes', process.execPath, '-e', VALGRIND_SCRIPT, join(root, 'dist', 'cjs', 'index.js')],
    { cwd: root, encoding: 'utf8', maxBuffer: 256 << 20 },
  );
  process.stdout.write(r.stdout);
  // One error is a block from "==pid== <what>" to the blank "==pid== " line.
  const blocks = r.stderr.split(/\n==\d+== \n/).filter((b) => /==\d+== (Invalid|Conditional|Use of|Syscall param|Mismatched|Source and destination)/.test(b));
  const ours = blocks.filter((b) => /zerocopy\.node/.test(b));
  for (const block of ours) process.stderr.write(`${block}\n\n`);
  console.log(`test:sanitizers valgrind: exit ${r.status}, ${blocks.length} memcheck error report(s) in all, ${ours.length} with the addon on the stack`);
  return r.status !== 0 || ours.length > 0 ? 1 : 0;
}

const which = process.argv[2];
const steps = { address, thread, valgrind };
let status = 0;
for (const [name, step] of Object.entries(steps)) {
  if (which && which !== name) continue;
  status |= step();
}
process.exitCode = status;
