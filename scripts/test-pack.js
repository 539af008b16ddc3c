// What users get from npm: packs the package, checks the tarball's contents,
// installs it into fresh projects in a temporary folder the ways people
// install packages, and measures each install beside two addons people
// install without thinking (@parcel/watcher, classic-level):
//
//   A. the tarball, with this platform's prebuild, on a PATH with node, npm
//      and sh only (no C/C++ compiler, no cmake, no make): the install uses
//      the prebuild, pulls no build tooling, and the package loads it
//      (CommonJS and ES module), sends a file over loopback byte for byte
//      with its native backend, and its command runs (info, and a short
//      `zerocopy bench`, whose C helpers are compiled on demand);
//   B. the tarball without prebuilds, on that same PATH: the install
//      succeeds with the `stream` backend and prints the command that builds
//      the addon; that command, run as printed on the normal PATH, builds it
//      from source and the package uses it;
//   C. a git URL (git+file:// of this repository at HEAD: committed work
//      only): npm prepares the checkout (`prepare` builds dist/) and packs
//      it; no prebuilds in git, so `stream`, as B;
//   D. a folder: `npm install --install-links <this folder>` (npm packs it,
//      running `prepare`; the prebuild made for A is in it), and
//      `npm install <this folder>` (a symbolic link to this checkout).
//
// Dependencies come from the npm registry (or npm's cache). --keep keeps
// the temporary folder; --no-rebuild tests prebuilds/ as it is (a release).
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const { basename, delimiter, join } = require('node:path');
const { currentPrebuild } = require('./prebuild.js');

const root = join(__dirname, '..');
const platformArch = `${os.platform()}-${os.arch()}`;
const work = mkdtempSync(join(os.tmpdir(), 'zerocopy-pack-'));
const keep = process.argv.includes('--keep');
const BUILD_TOOLING = ['cmake-js', 'node-addon-api', 'node-api-headers', 'typescript'];
const PEERS = ['@parcel/watcher', 'classic-level'];
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
    if (/^npm_/i.test(k) || /^(ZEROCOPY_|PREBUILDS_ONLY$|INIT_CWD$|_PACOTE_)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, PATH: path, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };
}

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  return { status: r.status, stdout: r.stdout || '', out: `${r.stdout || ''}${r.stderr || ''}`, error: r.error };
}

/** Runs a command that must succeed; resolves with its stdout. */
function mustRun(cmd, args, opts) {
  const r = run(cmd, args, opts);
  if (r.status !== 0) {
    console.error(r.out);
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.error?.message})`);
  }
  return r.stdout;
}

// The program each fresh project runs: loads zerocopy with require() and
// import, checks capabilities(), and sends a file over loopback.
const checkLib = `'use strict';
const assert = require('node:assert/strict');
const { randomBytes } = require('node:crypto');
const { mkdtempSync, realpathSync, rmSync, writeFileSync } = require('node:fs');
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
    const pkg = realpathSync(dirname(require.resolve('zerocopy/package.json')));
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

/**
 * What an install put in `project`/node_modules: every package folder
 * (nested ones too, as npm's "added N packages" counts them) and the bytes of
 * the files in them (apparent sizes; symbolic links not followed).
 */
function measure(project) {
  const names = [];
  let bytes = 0;
  const sizeOf = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === 'node_modules') modules(path);
        else sizeOf(path);
      } else if (entry.isFile()) {
        bytes += lstatSync(path).size;
      }
    }
  };
  const modules = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue; // .bin, npm's .package-lock.json
      const path = join(dir, entry.name);
      if (entry.name.startsWith('@') && entry.isDirectory()) {
        for (const scoped of readdirSync(path)) packageAt(join(path, scoped), `${entry.name}/${scoped}`);
      } else {
        packageAt(path, entry.name);
      }
    }
  };
  const packageAt = (path, name) => {
    if (!lstatSync(path).isDirectory() || !existsSync(join(path, 'package.json'))) return; // a link is not measured
    names.push(name);
    sizeOf(path);
  };
  modules(join(project, 'node_modules'));
  return { packages: names.length, bytes, names };
}

const sizes = [];
function recordSize(label, project) {
  const size = measure(project);
  sizes.push({ label, ...size });
  console.log(`  installed: ${size.packages} packages, ${(size.bytes / 1e6).toFixed(2)} MB (${size.names.sort().join(', ')})`);
  return size;
}

function npmInstall(dir, args, env) {
  return run('npm', ['install', '--foreground-scripts', '--no-package-lock', ...args], { cwd: dir, env });
}

/** The lines zerocopy's install script printed. */
const installSaid = (out) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('zerocopy:'))
    .join(' / ');

/** Loads the installed package both ways and sends a file; then runs its command. */
function checkInstalled(dir, env, expect) {
  for (const prog of ['check.cjs', 'check.mjs']) {
    const c = run(process.execPath, [prog, JSON.stringify(expect)], { cwd: dir, env });
    process.stdout.write(c.out);
    check(c.status === 0, `${prog} (${expect.native ? 'native' : 'stream'})`);
  }
  const info = run(join(dir, 'node_modules', '.bin', 'zerocopy'), ['info', '--json'], { cwd: dir, env });
  let caps;
  try {
    caps = JSON.parse(info.out);
  } catch {}
  check(info.status === 0 && caps?.native === expect.native, `node_modules/.bin/zerocopy info --json says native: ${caps?.native} (${info.status})`);
}

function checkNoBuildTooling(dir) {
  const { names } = measure(dir);
  const tooling = names.filter((name) => BUILD_TOOLING.includes(name));
  check(tooling.length === 0, `no build tooling installed (${BUILD_TOOLING.join(', ')})${tooling.length ? `: ${tooling.join(', ')}` : ''}`);
}

try {
  // The prebuild for this machine (made again when missing or older than
  // the native sources, unless --no-rebuild: then the prebuilds are tested
  // as they are, as in a release).
  const noRebuild = process.argv.includes('--no-rebuild');
  if (!currentPrebuild({ anyAge: noRebuild })) {
    if (noRebuild) throw new Error(`no prebuild in prebuilds/${platformArch}/`);
    mustRun(process.execPath, [join(__dirname, 'prebuild.js')], { cwd: root, stdio: 'inherit' });
  }
  const prebuild = basename(currentPrebuild({ anyAge: noRebuild }));
  const fullPath = process.env.PATH;

  // 1. The tarball (npm pack runs `prepare`, which builds dist/).
  console.log('npm pack');
  const [info] = JSON.parse(mustRun('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, env: cleanEnv(fullPath) }));
  const tarball = join(work, info.filename);
  const files = info.files.map((f) => f.path);
  console.log(`  ${info.filename}: ${files.length} files, ${info.size} bytes packed, ${info.unpackedSize} unpacked`);
  console.log(`  prebuilds: ${files.filter((f) => f.startsWith('prebuilds/')).join(', ')}`);
  for (const f of [
    'package.json',
    'README.md',
    'LICENSE',
    'scripts/install.js',
    'CMakeLists.txt',
    'native/zerocopy.h',
    'dist/cjs/index.js',
    'dist/cjs/index.d.ts',
    'dist/cjs/cli/main.js',
    'dist/esm/index.mjs',
    'dist/esm/index.d.mts',
    'bin/zerocopy.js',
    'bench/run.js',
    'bench/c/sink.c',
    `prebuilds/${platformArch}/${prebuild}`,
  ]) {
    check(files.includes(f), `has ${f}`);
  }
  for (const dir of ['test/', 'build/', 'build-test/', 'build-prebuild/', 'node_modules/', '.cache/', '.bench/', '.github/', 'src/', 'demo/', 'bench/results/']) {
    const found = files.filter((f) => f.startsWith(dir));
    check(found.length === 0, `has nothing in ${dir}${found.length ? `: ${found.slice(0, 3).join(', ')}` : ''}`);
  }
  const otherScripts = files.filter((f) => f.startsWith('scripts/') && f !== 'scripts/install.js');
  check(otherScripts.length === 0, `has no scripts but scripts/install.js${otherScripts.length ? `: ${otherScripts.join(', ')}` : ''}`);
  // Source maps would point at src/, which does not ship.
  const maps = files.filter((f) => f.endsWith('.map'));
  const mapComments = files.filter((f) => f.endsWith('.js') && f.startsWith('dist/')).filter((f) => /sourceMappingURL/.test(readFileSync(join(root, f), 'utf8')));
  check(maps.length === 0 && mapComments.length === 0, `no source maps, and no .js refers to one${maps.length || mapComments.length ? `: ${[...maps, ...mapComments].slice(0, 3).join(', ')}` : ''}`);
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const toolingDeps = Object.keys(manifest.dependencies ?? {}).filter((name) => BUILD_TOOLING.includes(name));
  check(toolingDeps.length === 0, `no build tooling in dependencies${toolingDeps.length ? `: ${toolingDeps.join(', ')}` : ''}`);

  // 2. The same package without prebuilds, as for a platform without one.
  const unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  mustRun('tar', ['-xzf', tarball, '-C', unpacked]);
  rmSync(join(unpacked, 'package', 'prebuilds'), { recursive: true, force: true });
  const bare = join(work, 'bare');
  mkdirSync(bare);
  const [bareInfo] = JSON.parse(
    mustRun('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', bare], { cwd: join(unpacked, 'package'), env: cleanEnv(fullPath) }),
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
  const canBuild = which('cmake', fullPath) && (which('c++', fullPath) || which('g++', fullPath));

  // A. The tarball with its prebuild.
  {
    console.log('\nA. the tarball: the prebuild, no compiler, no cmake');
    const dir = freshProject('a-tarball');
    const env = cleanEnv(bin);
    const r = npmInstall(dir, [tarball], env);
    if (check(r.status === 0, `npm install <tarball> exits 0 (${r.status})`)) {
      check(/using the native addon found for this platform/.test(r.out), `the install script uses the prebuild: ${JSON.stringify(installSaid(r.out))}`);
      recordSize('zerocopy: tarball (with prebuild)', dir);
      checkNoBuildTooling(dir);
      checkInstalled(dir, env, { native: true, addon: `prebuilds/${platformArch}/${prebuild}` });
      // The benchmarks from the installed package: its C helpers are compiled on demand.
      if (which('cc', fullPath) || which('gcc', fullPath)) {
        const bench = run(join(dir, 'node_modules', '.bin', 'zerocopy'), ['bench', '--only', 'tcp', '--size', '8M', '--rounds', '1', '--no-install'], {
          cwd: dir,
          env: cleanEnv(fullPath),
        });
        const ok = bench.status === 0 && /C sendfile\(2\) loop/.test(bench.out) && existsSync(join(dir, 'zerocopy-bench', 'latest.json'));
        if (!check(ok, `zerocopy bench --only tcp --size 8M from the installed package (${bench.status}), results in ./zerocopy-bench/`)) console.log(bench.out);
        const said = bench.out.split('\n').filter((l) => /chart|zerocopy-bench/.test(l));
        console.log(`  bench said: ${said.map((l) => l.trim()).join(' / ')}`);
      } else {
        console.log('  zerocopy bench: skipped, no C compiler on PATH');
      }
    }
  }

  // B. Without a prebuild: the install says how to build, and that works.
  {
    console.log('\nB. the tarball without prebuilds: no compiler, no cmake; then the build command it prints');
    const dir = freshProject('b-no-prebuild');
    const env = cleanEnv(bin);
    const r = npmInstall(dir, [bareTarball], env);
    if (check(r.status === 0, `npm install <tarball without prebuilds> exits 0 (${r.status})`)) {
      console.log(`  the install script said: ${JSON.stringify(installSaid(r.out))}`);
      const command = /^zerocopy: {3}(npm install .*)$/m.exec(r.out)?.[1];
      check(command !== undefined && /cmake-js/.test(command), `it prints the command that builds the addon: ${command}`);
      recordSize('zerocopy: tarball, no prebuild (stream)', dir);
      checkNoBuildTooling(dir);
      checkInstalled(dir, env, { native: false, backend: 'stream' });
      if (command && canBuild) {
        // npm shows a dependency's install script output only with --foreground-scripts.
        const build = run('sh', ['-c', command], { cwd: dir, env: { ...cleanEnv(fullPath), npm_config_foreground_scripts: 'true' } });
        if (!check(build.status === 0 && /built the native addon from source/.test(build.out), `\`${command}\` with cmake and a compiler builds the addon (${build.status})`)) {
          console.log(build.out);
        }
        checkInstalled(dir, cleanEnv(fullPath), { native: true, addon: 'build/Release/zerocopy.node' });
      } else if (command) {
        console.log('  the build command: skipped, no cmake or C++ compiler on PATH');
      }
    }
  }

  // C. A git URL: this repository's HEAD, cloned, prepared and packed by npm.
  {
    const head = mustRun('git', ['rev-parse', 'HEAD'], { cwd: root }).trim();
    const dirty = mustRun('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root }).trim() !== '';
    console.log(`\nC. git+file://${root}#${head.slice(0, 12)}${dirty ? ' (committed work only: this checkout has uncommitted changes)' : ''}`);
    const dir = freshProject('c-git');
    const env = cleanEnv(fullPath);
    const r = npmInstall(dir, [`git+file://${root}#${head}`], env);
    if (check(r.status === 0, `npm install git+file://… exits 0 (${r.status})`)) {
      check(/zerocopy: {3}npm install/.test(r.out), `no prebuilds in git: the install prints how to build: ${JSON.stringify(installSaid(r.out))}`);
      check(existsSync(join(dir, 'node_modules', 'zerocopy', 'dist', 'cjs', 'index.js')), '`prepare` built dist/ in the checkout npm packed');
      recordSize('zerocopy: git URL (stream)', dir);
      checkNoBuildTooling(dir);
      checkInstalled(dir, env, { native: false, backend: 'stream' });
    } else {
      console.log(r.out);
    }
  }

  // D. A folder, packed (--install-links) and linked.
  {
    console.log(`\nD. a folder: npm install --install-links ${root}`);
    const dir = freshProject('d-folder');
    const env = cleanEnv(bin);
    const r = npmInstall(dir, ['--install-links', root], env);
    if (check(r.status === 0, `npm install --install-links <folder> exits 0 (${r.status})`)) {
      check(/using the native addon found for this platform/.test(r.out), `the install script uses the prebuild: ${JSON.stringify(installSaid(r.out))}`);
      recordSize('zerocopy: folder, --install-links (with prebuild)', dir);
      checkNoBuildTooling(dir);
      checkInstalled(dir, env, { native: true, addon: `prebuilds/${platformArch}/${prebuild}` });
    } else {
      console.log(r.out);
    }
    console.log(`\nD. a folder: npm install ${root} (a link to this checkout, which has its own build)`);
    const linked = freshProject('d-linked');
    const l = npmInstall(linked, [root], cleanEnv(fullPath));
    if (check(l.status === 0 && lstatSync(join(linked, 'node_modules', 'zerocopy')).isSymbolicLink(), `npm install <folder> links it (${l.status})`)) {
      const addon = existsSync(join(root, 'build', 'Release', 'zerocopy.node')) ? 'build/Release/zerocopy.node' : `prebuilds/${platformArch}/${prebuild}`;
      checkInstalled(linked, cleanEnv(fullPath), { native: true, addon });
    }
  }

  // The peers, installed and measured the same way.
  for (const peer of PEERS) {
    console.log(`\n${peer} (from the npm registry, for comparison)`);
    const dir = freshProject(`peer-${peer.replace(/\W/g, '-')}`);
    const r = npmInstall(dir, [peer], cleanEnv(fullPath));
    if (check(r.status === 0, `npm install ${peer} exits 0 (${r.status})`)) {
      const { version } = JSON.parse(readFileSync(join(dir, 'node_modules', ...peer.split('/'), 'package.json'), 'utf8'));
      recordSize(`${peer}@${version}`, dir);
    } else {
      console.log(r.out);
    }
  }

  console.log('\nInstall sizes (a fresh project; every package folder in node_modules, and MB = 10^6 bytes of their files):');
  const width = Math.max(...sizes.map((s) => s.label.length)) + 2;
  for (const s of sizes) console.log(`  ${s.label.padEnd(width)}${String(s.packages).padStart(3)} packages  ${(s.bytes / 1e6).toFixed(2).padStart(6)} MB`);
} catch (error) {
  console.error(error);
  failures++;
} finally {
  if (keep) console.log(`\nkept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

console.log(`\ntest-pack: ${failures ? `FAIL (${failures} check${failures > 1 ? 's' : ''} failed)` : 'PASS'}`);
process.exitCode = failures ? 1 : 0;
