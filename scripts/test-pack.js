// What users get from npm: packs the package, checks the tarball's contents,
// and installs it into fresh projects in a temporary folder:
//
//   A. with this platform's prebuild, on a PATH with node, npm and sh only (no C/C++
//      compiler, no cmake, no make): the install uses the prebuild, and the
//      package loads it (CommonJS and ES module) and sends a file over
//      loopback, byte for byte, with its native backend;
//   B. without prebuilds, on that same PATH: the source build fails, the
//      install still succeeds, and the package works through its `stream`
//      backend with capabilities().native === false and a loadError;
//   C. without prebuilds, on the normal PATH: the install builds the addon
//      from source with cmake-js, and the package uses it.
//
// The package's dependencies (cmake-js, node-addon-api, node-api-headers,
// node-gyp-build) come from the npm registry (or npm's cache). --keep keeps
// the temporary folder; --no-rebuild tests prebuilds/ as it is (a release).
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const { basename, delimiter, join } = require('node:path');
const { currentPrebuild } = require('./prebuild.js');

const root = join(__dirname, '..');
const platformArch = `${os.platform()}-${os.arch()}`;
const work = mkdtempSync(join(os.tmpdir(), 'zerocopy-pack-'));
const keep = process.argv.includes('--keep');
let failures = 0;

function check(ok, what) {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
  return ok;
}

function which(cmd, path = process.env.PATH) {
  for (const dir of (path || '').split(delimiter)) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return null;
}

// npm and node see only a clean environment: no npm_* variables of the npm
// run that started this script, no zerocopy overrides.
function cleanEnv(path) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || /^(ZEROCOPY_|PREBUILDS_ONLY$|INIT_CWD$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, PATH: path, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };
}

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return { status: r.status, out: `${r.stdout || ''}${r.stderr || ''}`, error: r.error };
}

function mustRun(cmd, args, opts) {
  const r = run(cmd, args, opts);
  if (r.status !== 0) {
    console.error(r.out);
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.error?.message})`);
  }
  return r.out;
}

// The program each fresh project runs: loads zerocopy with require() and
// import, checks capabilities(), and sends a file over loopback.
const checkLib = `'use strict';
const assert = require('node:assert/strict');
const { randomBytes } = require('node:crypto');
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { dirname, join } = require('node:path');

exports.run = async function run(zc, how, expect) {
  const caps = zc.capabilities();
  assert.equal(caps.native, expect.native, 'capabilities().native ' + JSON.stringify(caps));
  if (expect.native) {
    assert.equal(caps.loadError, undefined);
    assert.notEqual(caps.backends[0], 'stream');
    expect.backend ??= caps.backends[0];
    const pkg = dirname(require.resolve('zerocopy/package.json'));
    const addon = require(require.resolve('node-gyp-build', { paths: [pkg] })).path(pkg);
    assert.ok(addon.endsWith(expect.addon), 'addon ' + addon + ' is not ' + expect.addon);
    console.log('  ' + how + ': addon ' + addon.slice(pkg.length + 1));
  } else {
    assert.deepEqual(caps.backends, ['stream']);
    assert.equal(typeof caps.loadError, 'string');
    assert.ok(caps.loadError.length > 0);
    console.log('  ' + how + ': loadError ' + JSON.stringify(caps.loadError.split('\\n')[0]));
  }

  const dir = mkdtempSync(join(tmpdir(), 'zc-pack-send-'));
  const file = join(dir, 'data.bin');
  const data = randomBytes((3 << 20) + 12345);
  writeFileSync(file, data);
  const headers = Buffer.from('HEAD ' + how + '\\r\\n');
  const trailers = Buffer.from('\\r\\nTAIL');
  let result;
  const server = net.createServer(async (socket) => {
    try {
      result = await zc.sendFile(socket, file, { headers, trailers });
      socket.end();
    } catch (error) {
      socket.destroy(error);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const received = await new Promise((resolve, reject) => {
    const chunks = [];
    const client = net.connect(server.address().port, '127.0.0.1');
    client.on('data', (c) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
  });
  server.close();
  rmSync(dir, { recursive: true, force: true });
  const expected = Buffer.concat([headers, data, trailers]);
  assert.ok(received.equals(expected), 'received ' + received.length + ' bytes, not the ' + expected.length + ' expected');
  assert.equal(result.bytesSent, expected.length);
  assert.equal(result.backend, expect.backend);
  console.log('  ' + how + ': sent ' + result.bytesSent + ' bytes over loopback with ' + result.backend + ', byte for byte');
};
`;
const checkCjs = `'use strict';
const expect = JSON.parse(process.argv[2]);
require('./check-lib.cjs').run(require('zerocopy'), 'require', expect).catch((e) => { console.error(e); process.exit(1); });
`;
const checkEsm = `import zerocopy, { sendFile, capabilities } from 'zerocopy';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const expect = JSON.parse(process.argv[2]);
if (zerocopy.sendFile !== sendFile || require('zerocopy').sendFile !== sendFile || typeof capabilities !== 'function') {
  throw new Error('import and require see different copies of zerocopy');
}
await require('./check-lib.cjs').run({ sendFile, capabilities }, 'import', expect);
`;

function freshProject(name) {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `zc-${name}`, version: '1.0.0', private: true }, null, 2));
  writeFileSync(join(dir, 'check-lib.cjs'), checkLib);
  writeFileSync(join(dir, 'check.cjs'), checkCjs);
  writeFileSync(join(dir, 'check.mjs'), checkEsm);
  return dir;
}

function scenario(title, { tarball, path, install, expect }) {
  console.log(`\n${title}`);
  const dir = freshProject(title.slice(0, 1));
  const env = cleanEnv(path);
  const r = run('npm', ['install', '--foreground-scripts', '--no-package-lock', tarball], { cwd: dir, env });
  if (!check(r.status === 0, `npm install exits 0 (${r.status})`)) {
    console.log(r.out);
    return;
  }
  const said = r.out.split('\n').filter((l) => l.startsWith('zerocopy:'));
  check(install.test(r.out), `the install script says ${install}: ${JSON.stringify(said.join(' / '))}`);
  for (const prog of ['check.cjs', 'check.mjs']) {
    const c = run(process.execPath, [prog, JSON.stringify(expect)], { cwd: dir, env });
    process.stdout.write(c.out);
    check(c.status === 0, `${prog} (${expect.native ? 'native' : 'stream'})`);
  }
}

try {
  // The prebuild for this machine and the compiled TypeScript.
  // (made again when missing or older than the native sources, unless
  // --no-rebuild: then the prebuilds are tested as they are, as in a release).
  const noRebuild = process.argv.includes('--no-rebuild');
  if (!currentPrebuild({ anyAge: noRebuild })) {
    if (noRebuild) throw new Error(`no prebuild in prebuilds/${platformArch}/`);
    mustRun(process.execPath, [join(__dirname, 'prebuild.js')], { cwd: root, stdio: 'inherit' });
  }
  const prebuild = basename(currentPrebuild({ anyAge: noRebuild }));
  mustRun(process.execPath, [join(__dirname, 'build-ts.js')], { cwd: root, stdio: 'inherit' });

  // 1. The tarball.
  console.log('npm pack');
  const [info] = JSON.parse(mustRun('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, env: cleanEnv(process.env.PATH) }));
  const tarball = join(work, info.filename);
  const files = info.files.map((f) => f.path);
  console.log(`  ${info.filename}: ${files.length} files, ${info.size} bytes packed, ${info.unpackedSize} unpacked`);
  console.log(`  prebuilds: ${files.filter((f) => f.startsWith('prebuilds/')).join(', ')}`);
  for (const f of [
    'package.json',
    'README.md',
    'scripts/install.js',
    'CMakeLists.txt',
    'native/zerocopy.h',
    'dist/cjs/index.js',
    'dist/cjs/index.d.ts',
    'dist/esm/index.mjs',
    'dist/esm/index.d.mts',
    `prebuilds/${platformArch}/${prebuild}`,
  ]) {
    check(files.includes(f), `has ${f}`);
  }
  for (const dir of ['test/', 'build/', 'build-test/', 'build-prebuild/', 'node_modules/', '.cache/', '.github/', 'src/', 'demo/']) {
    const found = files.filter((f) => f.startsWith(dir));
    check(found.length === 0, `has nothing in ${dir}${found.length ? `: ${found.slice(0, 3).join(', ')}` : ''}`);
  }
  const otherScripts = files.filter((f) => f.startsWith('scripts/') && f !== 'scripts/install.js');
  check(otherScripts.length === 0, `has no scripts but scripts/install.js${otherScripts.length ? `: ${otherScripts.join(', ')}` : ''}`);

  // 2. The same package without prebuilds, as for a platform without one.
  const unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  mustRun('tar', ['-xzf', tarball, '-C', unpacked]);
  rmSync(join(unpacked, 'package', 'prebuilds'), { recursive: true, force: true });
  const bare = join(work, 'bare');
  mkdirSync(bare);
  const [bareInfo] = JSON.parse(
    mustRun('npm', ['pack', '--json', '--pack-destination', bare], { cwd: join(unpacked, 'package'), env: cleanEnv(process.env.PATH) }),
  );
  const bareTarball = join(bare, bareInfo.filename);
  check(!bareInfo.files.some((f) => f.path.startsWith('prebuilds/')), `a copy without prebuilds/ (${bareInfo.files.length} files)`);

  // 3. A PATH with node, npm and sh (npm runs install scripts with it) only.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  for (const cmd of ['node', 'npm', 'npx', 'sh']) {
    const target = cmd === 'node' ? process.execPath : which(cmd);
    if (target) symlinkSync(target, join(bin, cmd));
  }
  const tools = ['cc', 'gcc', 'g++', 'c++', 'clang', 'cmake', 'make', 'ninja'];
  const present = tools.filter((t) => which(t, bin));
  check(present.length === 0, `a PATH without ${tools.join(', ')} (${bin})`);
  const fullPath = process.env.PATH;

  scenario('A. the prebuild, no compiler, no cmake', {
    tarball,
    path: bin,
    install: /using the native addon found for this platform/,
    expect: { native: true, addon: `prebuilds/${platformArch}/${prebuild}` },
  });
  scenario('B. no prebuild, no compiler, no cmake', {
    tarball: bareTarball,
    path: bin,
    install: /source build failed/,
    expect: { native: false, backend: 'stream' },
  });
  if (which('cmake', fullPath) && (which('c++', fullPath) || which('g++', fullPath))) {
    scenario('C. no prebuild, with cmake and a compiler', {
      tarball: bareTarball,
      path: fullPath,
      install: /built the native addon from source/,
      expect: { native: true, addon: 'build/Release/zerocopy.node' },
    });
  } else {
    console.log('\nC. skipped: no cmake or C++ compiler on PATH');
  }
} catch (error) {
  console.error(error);
  failures++;
} finally {
  if (keep) console.log(`\nkept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

console.log(`\ntest-pack: ${failures ? `FAIL (${failures} check${failures > 1 ? 's' : ''} failed)` : 'PASS'}`);
process.exitCode = failures ? 1 : 0;
