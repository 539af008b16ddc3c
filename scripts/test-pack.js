// What users get from npm: packs the package, checks the tarball's contents,
// installs it into fresh projects in a temporary folder the ways people
// install packages, and measures each install beside two addons people
// install without thinking (@parcel/watcher, classic-level). The package has
// no install script: its addon loads from a prebuild when it is required.
//
//   A. `npm install zerocopy` from a registry (scripts/pack-registry.js, a
//      local one serving the tarball, with this platform's prebuild), on a
//      PATH with node, npm and sh only (no C/C++ compiler, no cmake, no
//      make): npm (11.16+) prints no allowScripts advisory and runs nothing
//      of zerocopy's, `npm ci --strict-allow-scripts` succeeds, no build
//      tooling is pulled, and the package loads the prebuild (CommonJS and
//      ES module), sends a file over loopback byte for byte with its native
//      backend, and its command runs (info, and a short `zerocopy bench`,
//      whose C helpers are compiled on demand). Then `npm install <the
//      tarball file>`: npm names `prepare` there (it counts prepare for any
//      source but a registry), and nothing else, and runs nothing;
//   B. the same from a registry without prebuilds, on that same PATH: no
//      advisory, the `stream` backend with a loadError; `npx zerocopy build`
//      without the tools fails and prints the command that builds the addon;
//      that command, run as printed on the normal PATH, builds it from
//      source and the package uses it;
//   C. a git URL (git+file:// of this repository at HEAD: committed work
//      only): npm prepares the checkout (`prepare` builds dist/) and packs
//      it; no prebuilds in git, so `stream`, as B;
//   D. a folder: `npm install --install-links <this folder>` (npm packs it,
//      running `prepare`; the prebuild made for A is in it), and
//      `npm install <this folder>` (a symbolic link to this checkout);
//   E. TypeScript (strict, module nodenext, the package's own .d.ts checked
//      too): an app importing zerocopy type-checks without Fastify
//      installed; with Fastify, one registering fastifyServeStatic and
//      calling reply.sendFile() and reply.download() type-checks, as
//      CommonJS and as an ES module, and one passing them a number does not;
//   F. Express: serveFile(..., { refusals: 'reject' }).catch(next) hands a
//      missing file to the app's own 404 handler and serves one that exists
//      byte for byte.
//
// Dependencies come from the npm registry (or npm's cache). --keep keeps
// the temporary folder; --no-rebuild tests prebuilds/ as it is (a release).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
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

/** `npm install` in `dir`; a package-lock.json only with `lock` (for a later `npm ci`). */
function npmInstall(dir, args, env, { lock = false } = {}) {
  return run('npm', ['install', '--foreground-scripts', ...(lock ? [] : ['--no-package-lock']), ...args], { cwd: dir, env });
}

/**
 * What npm said of install scripts: the lines of its allowScripts advisory
 * ("npm warn install-scripts   zerocopy@0.1.0 (prepare: …)"), the events it
 * names for the package `name`, and the lines of any script of zerocopy's it
 * ran (with --foreground-scripts npm prints "> zerocopy@0.1.0 <event>"
 * before one, and scripts/build-addon.js prints "zerocopy: …").
 */
function scriptsSaid(out, name = 'zerocopy') {
  const lines = out.split('\n').filter((l) => /install-scripts|allowScripts|allow-scripts/i.test(l));
  const entry = new RegExp(`\\s${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}@\\S+ \\((.*)\\)\\s*$`);
  const listed = lines.map((l) => entry.exec(l)?.[1]).find((l) => l !== undefined);
  const events = listed === undefined ? [] : listed.split(/; (?=[a-z]+: )/).map((s) => s.slice(0, s.indexOf(':')));
  const ran = out.split('\n').filter((l) => /^> zerocopy@|^zerocopy: /.test(l));
  return { lines, events, ran };
}

/** For a registry install: npm warns of no install script, and runs none of zerocopy's. */
function checkNoScripts(out, what) {
  const said = scriptsSaid(out);
  if (!check(said.lines.length === 0, `${what}: npm prints no install-scripts/allowScripts warning`)) console.log(said.lines.join('\n'));
  check(said.ran.length === 0, `${what}: npm runs no script of zerocopy's${said.ran.length ? `: ${said.ran.join(' / ')}` : ''}`);
}

/**
 * For a git or folder source: npm's advisory may name zerocopy's `prepare`
 * (npm runs it there, to build dist/), and nothing else.
 */
function checkOnlyPrepare(out, what) {
  const { events } = scriptsSaid(out);
  const others = events.filter((e) => e !== 'prepare');
  check(others.length === 0, `${what}: npm's allowScripts advisory names ${events.length ? events.join(', ') : 'nothing'} of zerocopy's${others.length ? '' : ' (no install script)'}`);
}

const registries = [];
/** Starts scripts/pack-registry.js serving `tarball` (everything else from `upstream`); resolves with its address. */
async function startRegistry(tarball, upstream) {
  const child = spawn(process.execPath, [join(__dirname, 'pack-registry.js'), upstream, tarball], { stdio: ['ignore', 'pipe', 'inherit'] });
  registries.push(child);
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', (line) => resolve(Number(String(line).trim())));
    child.once('exit', (code, signal) => reject(new Error(`scripts/pack-registry.js exited (${code ?? signal})`)));
  });
  return `http://127.0.0.1:${port}/`;
}

/** A fresh project whose npm installs come from `registry` (its own .npmrc). */
function registryProject(name, registry) {
  const dir = freshProject(name);
  writeFileSync(join(dir, '.npmrc'), `registry=${registry}\n`);
  return dir;
}

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

// E. TypeScript apps, checked with `tsc --noEmit` (strict, module nodenext;
// skipLibCheck off, so the package's own .d.ts files are checked too).
const tsconfig = (files) =>
  JSON.stringify({ compilerOptions: { target: 'es2022', module: 'nodenext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] }, files }, null, 2);
// Every export, in a project without Fastify: the Fastify declarations must not break it.
const appPlain = `import { createServer } from 'node:http';
import zerocopy, { capabilities, sendFile, serveFile, serveStatic, fastifyServeStatic, koaServeStatic, AbortError, type ServeFileOptions } from 'zerocopy';
const options: ServeFileOptions = { root: __dirname, refusals: 'reject' };
const statics = serveStatic(__dirname);
createServer((req, res) => {
  if (req.url === '/x') serveFile(req, res, 'x.txt', options).catch(() => res.destroy());
  else statics(req, res, () => res.end());
});
const native: boolean = capabilities().native;
void [native, zerocopy.sendFile === sendFile, fastifyServeStatic, koaServeStatic, AbortError];
`;
const appFastify = (esm) => `import Fastify${esm ? ', { type FastifyReply }' : ''} from 'fastify';
${esm ? `import { fileURLToPath } from 'node:url';` : `import { join } from 'node:path';`}
import { fastifyServeStatic } from 'zerocopy';
const root = ${esm ? `fileURLToPath(new URL('./public/', import.meta.url))` : `join(__dirname, 'public')`};
const app = Fastify();
${esm ? 'await ' : ''}app.register(fastifyServeStatic, { root, prefix: '/static/' });
app.get('/file', (_request, reply)${esm ? ': FastifyReply' : ''} => reply.sendFile('x.txt'));
app.get('/download', async (_request, reply) => reply.download('x.txt', 'y.txt'));
app.get('/options', (_request, reply) => reply.sendFile('x.txt', { root, maxAge: '1h' }));
`;
// The control: were the decorators untyped (any), this would type-check too.
const appFastifyWrong = `import Fastify from 'fastify';
import { fastifyServeStatic } from 'zerocopy';
const app = Fastify();
app.register(fastifyServeStatic, { root: __dirname });
app.get('/file', (_request, reply) => reply.sendFile(42));
`;

// F. An Express app: refusals go to the app's own handlers, files are served.
const expressApp = `'use strict';
const assert = require('node:assert/strict');
const { randomBytes } = require('node:crypto');
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const express = require('express');
const { serveFile } = require('zerocopy');

(async () => {
  const root = mkdtempSync(join(tmpdir(), 'zc-pack-express-'));
  const data = randomBytes((1 << 20) + 777);
  writeFileSync(join(root, 'data.bin'), data);
  const app = express();
  app.get('/f/:name', (req, res, next) => serveFile(req, res, req.params.name, { root, refusals: 'reject' }).catch(next));
  const seen = [];
  app.use((err, req, res, next) => {
    seen.push({ status: err.status, statusCode: err.statusCode, expose: err.expose, code: err.code });
    if (err.status !== 404) return next(err);
    res.status(404).set('x-handler', 'custom-404').type('text/plain').send('custom 404: ' + req.path);
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = 'http://127.0.0.1:' + server.address().port;
  try {
    const missing = await fetch(base + '/f/nothing-here.bin');
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('x-handler'), 'custom-404', 'the app\\'s own 404 handler answered');
    assert.equal(await missing.text(), 'custom 404: /f/nothing-here.bin');
    assert.deepEqual(seen, [{ status: 404, statusCode: 404, expose: true, code: 'ENOENT' }]);
    console.log('  express: GET /f/nothing-here.bin -> 404 from the app\\'s error handler, err ' + JSON.stringify(seen[0]));

    const found = await fetch(base + '/f/data.bin');
    assert.equal(found.status, 200);
    const body = Buffer.from(await found.arrayBuffer());
    assert.equal(Number(found.headers.get('content-length')), data.length);
    assert.ok(body.equals(data), 'received ' + body.length + ' bytes, not the file\\'s ' + data.length);
    assert.equal(seen.length, 1, 'the error handler saw the served file');
    console.log('  express: GET /f/data.bin -> 200, ' + body.length + ' bytes, byte for byte');
  } finally {
    server.close();
    rmSync(root, { recursive: true, force: true });
  }
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

async function main() {
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
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const devVersion = (name) => `${name}@${manifest.devDependencies[name]}`;

  // npm 11.16 brought the allowScripts advisory this script checks npm is silent about.
  const npmVersion = mustRun('npm', ['--version'], { env: cleanEnv(fullPath) }).trim();
  const [major, minor] = npmVersion.split('.').map(Number);
  check(major > 11 || (major === 11 && minor >= 16), `npm ${npmVersion} has allowScripts (11.16 or later)`);

  // 1. The tarball (npm pack runs `prepare`, which builds dist/).
  console.log('\nnpm pack');
  const packJson = mustRun('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, env: cleanEnv(fullPath) });
  let info;
  try {
    [info] = JSON.parse(packJson);
  } catch {}
  // prepare's output goes to stderr: stdout is the JSON's.
  if (!check(info !== undefined, 'npm pack --json prints nothing but its JSON on stdout')) throw new Error(`npm pack --json printed: ${packJson.slice(0, 300)}`);
  const tarball = join(work, info.filename);
  const files = info.files.map((f) => f.path);
  console.log(`  ${info.filename}: ${files.length} files, ${info.size} bytes packed, ${info.unpackedSize} unpacked`);
  console.log(`  prebuilds: ${files.filter((f) => f.startsWith('prebuilds/')).join(', ')}`);
  for (const f of [
    'package.json',
    'README.md',
    'LICENSE',
    'scripts/build-addon.js',
    'CMakeLists.txt',
    'native/zerocopy.h',
    'dist/cjs/index.js',
    'dist/cjs/index.d.ts',
    'dist/cjs/cli/main.js',
    'dist/cjs/cli/build.js',
    'dist/esm/index.mjs',
    'dist/esm/index.d.mts',
    'bin/zerocopy.js',
    'bench/run.js',
    'bench/c/sink.c',
    // The README links to these by absolute URLs into the package.
    'bench/results/chart.svg',
    'docs/benchmarks.md',
    'ARCHITECTURE.md',
    `prebuilds/${platformArch}/${prebuild}`,
  ]) {
    check(files.includes(f), `has ${f}`);
  }
  for (const dir of ['test/', 'build/', 'build-test/', 'build-prebuild/', 'node_modules/', '.cache/', '.bench/', '.github/', 'src/', 'demo/', 'bench/results/']) {
    const found = files.filter((f) => f.startsWith(dir) && f !== 'bench/results/chart.svg');
    check(found.length === 0, `has nothing in ${dir}${found.length ? `: ${found.slice(0, 3).join(', ')}` : ''}`);
  }
  const otherScripts = files.filter((f) => f.startsWith('scripts/') && f !== 'scripts/build-addon.js');
  check(otherScripts.length === 0, `has no scripts but scripts/build-addon.js${otherScripts.length ? `: ${otherScripts.join(', ')}` : ''}`);
  // What npm counts as install scripts: these three, and binding.gyp (an implicit `node-gyp rebuild`).
  const packedManifest = JSON.parse(mustRun('tar', ['-xzOf', tarball, 'package/package.json']));
  const installScripts = ['preinstall', 'install', 'postinstall'].filter((s) => packedManifest.scripts?.[s]);
  check(installScripts.length === 0, `its package.json has no preinstall, install or postinstall script${installScripts.length ? `: ${installScripts.join(', ')}` : ''}`);
  check(!files.includes('binding.gyp'), 'has no binding.gyp (npm would run node-gyp rebuild for it)');
  // Source maps would point at src/, which does not ship.
  const maps = files.filter((f) => f.endsWith('.map'));
  const mapComments = files.filter((f) => f.endsWith('.js') && f.startsWith('dist/')).filter((f) => /sourceMappingURL/.test(readFileSync(join(root, f), 'utf8')));
  check(maps.length === 0 && mapComments.length === 0, `no source maps, and no .js refers to one${maps.length || mapComments.length ? `: ${[...maps, ...mapComments].slice(0, 3).join(', ')}` : ''}`);
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

  // 3. A PATH with node, npm and sh (npm runs scripts with it) only.
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

  // 4. Registries, one per tarball, as registry.npmjs.org would serve it once published.
  const upstream = mustRun('npm', ['config', 'get', 'registry'], { cwd: work, env: cleanEnv(fullPath) }).trim();
  const registry = await startRegistry(tarball, upstream);
  const bareRegistry = await startRegistry(bareTarball, upstream);

  // A. From a registry, with the prebuild.
  {
    console.log(`\nA. npm install zerocopy from a registry (${registry}: the tarball, with its prebuild): no compiler, no cmake`);
    const dir = registryProject('a-registry', registry);
    const env = cleanEnv(bin);
    const r = npmInstall(dir, ['zerocopy'], env, { lock: true });
    if (check(r.status === 0, `npm install zerocopy exits 0 (${r.status})`)) {
      checkNoScripts(r.out, 'npm install zerocopy');
      recordSize('zerocopy: registry (with prebuild)', dir);
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
      // The lockfile's install again, refusing any install script allowScripts does not cover.
      rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
      const ci = run('npm', ['ci', '--strict-allow-scripts', '--foreground-scripts'], { cwd: dir, env });
      if (!check(ci.status === 0, `npm ci --strict-allow-scripts exits 0 (${ci.status})`)) console.log(ci.out);
      checkNoScripts(ci.out, 'npm ci --strict-allow-scripts');
      const loads = run(process.execPath, ['check.cjs', JSON.stringify({ native: true, addon: `prebuilds/${platformArch}/${prebuild}` })], { cwd: dir, env });
      if (!check(loads.status === 0, 'check.cjs after npm ci (native)')) console.log(loads.out);
    } else {
      console.log(r.out);
    }
  }

  // A. The same tarball as a file: npm's advisory names `prepare` there, a
  // script npm runs for git and folder sources only, never for a tarball.
  {
    console.log('\nA. npm install <the tarball file>: no compiler, no cmake');
    const dir = freshProject('a-tarball');
    const env = cleanEnv(bin);
    const r = npmInstall(dir, [tarball], env, { lock: true });
    if (check(r.status === 0, `npm install <tarball> exits 0 (${r.status})`)) {
      const said = scriptsSaid(r.out);
      console.log(`  npm said: ${said.lines.length ? said.lines.map((l) => l.replace(/^npm warn install-scripts\s*/, '')).filter(Boolean).join(' / ') : '(nothing of install scripts)'}`);
      const others = said.events.filter((e) => e !== 'prepare');
      check(others.length === 0, `npm's advisory names ${said.events.join(', ') || 'nothing'} of zerocopy's, and nothing else (npm counts prepare for any source but a registry; the registry install above names nothing)`);
      check(said.ran.length === 0, `npm runs no script of zerocopy's${said.ran.length ? `: ${said.ran.join(' / ')}` : ''}`);
      checkInstalled(dir, env, { native: true, addon: `prebuilds/${platformArch}/${prebuild}` });
      rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
      const ci = run('npm', ['ci', '--strict-allow-scripts'], { cwd: dir, env });
      console.log(`  npm ci --strict-allow-scripts from its lockfile: exit ${ci.status}${ci.status ? `: ${ci.out.trim().split('\n').slice(0, 3).join(' / ')}` : ''}`);
    } else {
      console.log(r.out);
    }
  }

  // B. From a registry, without a prebuild: the stream backend, and a build command that works.
  {
    console.log(`\nB. npm install zerocopy from a registry (${bareRegistry}: the tarball without prebuilds): no compiler, no cmake; then \`npx zerocopy build\``);
    const dir = registryProject('b-no-prebuild', bareRegistry);
    const env = cleanEnv(bin);
    const r = npmInstall(dir, ['zerocopy'], env);
    if (check(r.status === 0, `npm install zerocopy (no prebuild) exits 0 (${r.status})`)) {
      checkNoScripts(r.out, 'npm install zerocopy (no prebuild)');
      recordSize('zerocopy: registry, no prebuild (stream)', dir);
      checkNoBuildTooling(dir);
      checkInstalled(dir, env, { native: false, backend: 'stream' });

      const command = `npm install --save-dev ${devVersion('cmake-js')} ${devVersion('node-addon-api')} && npx zerocopy build`;
      const without = run('npx', ['zerocopy', 'build'], { cwd: dir, env });
      const printed = without.out.includes(command);
      if (!check(without.status !== 0 && without.status !== null && printed, `npx zerocopy build without the tools exits ${without.status} and prints \`${command}\``)) {
        console.log(without.out);
      }
      if (canBuild) {
        const build = run('sh', ['-c', command], { cwd: dir, env: cleanEnv(fullPath) });
        if (!check(build.status === 0 && /built the native addon from source/.test(build.out), `\`${command}\` with cmake and a compiler builds the addon (${build.status})`)) {
          console.log(build.out);
        }
        checkInstalled(dir, cleanEnv(fullPath), { native: true, addon: 'build/Release/zerocopy.node' });
      } else {
        console.log('  the build command: skipped, no cmake or C++ compiler on PATH');
      }
    } else {
      console.log(r.out);
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
      checkOnlyPrepare(r.out, 'npm install git+file://…');
      // npm runs prepare in its checkout twice (its npm install there, then to pack it): neither builds an addon that is not packed.
      const said = scriptsSaid(r.out).ran.filter((l) => l.startsWith('zerocopy:'));
      const claims = said.filter((l) => /already loads|built the native addon/.test(l));
      check(said.length > 0 && claims.length === 0, `zerocopy's prepare builds no addon in the checkout npm packs: ${said.length ? said.join(' / ') : '(it said nothing)'}`);
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
      checkOnlyPrepare(r.out, 'npm install --install-links <folder>');
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

  // E and F. A TypeScript project, then Fastify and Express in it.
  {
    console.log(`\nE. TypeScript: the tarball with ${devVersion('typescript')} ${devVersion('@types/node')}, no Fastify`);
    const dir = freshProject('e-typescript');
    const env = cleanEnv(fullPath);
    const tsc = (config) => {
      writeFileSync(join(dir, 'tsconfig.json'), tsconfig(config));
      return run(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir, env });
    };
    const r = npmInstall(dir, [tarball, devVersion('typescript'), devVersion('@types/node')], env);
    if (check(r.status === 0, `npm install <tarball> typescript @types/node exits 0 (${r.status})`)) {
      writeFileSync(join(dir, 'app-plain.ts'), appPlain);
      check(!existsSync(join(dir, 'node_modules', 'fastify')), 'fastify is not installed');
      const plain = tsc(['app-plain.ts']);
      if (!check(plain.status === 0, `tsc --noEmit: an app importing every export of zerocopy type-checks without Fastify (${plain.status})`)) console.log(plain.out);

      console.log(`\nE. TypeScript with ${devVersion('fastify')}`);
      const f = npmInstall(dir, [devVersion('fastify'), devVersion('express')], env);
      if (check(f.status === 0, `npm install fastify express exits 0 (${f.status})`)) {
        writeFileSync(join(dir, 'app-fastify.ts'), appFastify(false));
        writeFileSync(join(dir, 'app-fastify.mts'), appFastify(true));
        writeFileSync(join(dir, 'app-fastify-wrong.ts'), appFastifyWrong);
        for (const file of ['app-fastify.ts', 'app-fastify.mts']) {
          const typed = tsc([file]);
          const how = file.endsWith('.mts') ? 'an ES module' : 'CommonJS';
          if (!check(typed.status === 0, `tsc --noEmit: ${file} (${how}) registers fastifyServeStatic and calls reply.sendFile('x.txt') and reply.download('x.txt', 'y.txt') (${typed.status})`)) {
            console.log(typed.out);
          }
        }
        const wrong = tsc(['app-fastify-wrong.ts']);
        const error = /^app-fastify-wrong\.ts\(5,\d+\): error TS2345: .*$/m.exec(wrong.out)?.[0];
        if (!check(wrong.status !== 0 && error !== undefined, `tsc --noEmit: reply.sendFile(42) does not type-check: ${error ?? `(${wrong.status})`}`)) console.log(wrong.out);

        console.log(`\nF. Express (${devVersion('express')}): serveFile(req, res, name, { root, refusals: 'reject' }).catch(next)`);
        writeFileSync(join(dir, 'express-app.cjs'), expressApp);
        const e = run(process.execPath, ['express-app.cjs'], { cwd: dir, env });
        process.stdout.write(e.out);
        check(e.status === 0, `a missing file goes to the app's own 404 handler; an existing one is served byte for byte (${e.status})`);
      } else {
        console.log(f.out);
      }
    } else {
      console.log(r.out);
    }
  }

  // The peers, installed and measured the same way.
  for (const peer of PEERS) {
    console.log(`\n${peer} (from the npm registry, for comparison)`);
    const dir = freshProject(`peer-${peer.replace(/\W/g, '-')}`);
    const r = npmInstall(dir, [peer], cleanEnv(fullPath));
    if (check(r.status === 0, `npm install ${peer} exits 0 (${r.status})`)) {
      const { version } = JSON.parse(readFileSync(join(dir, 'node_modules', ...peer.split('/'), 'package.json'), 'utf8'));
      const { events } = scriptsSaid(r.out, peer);
      console.log(`  npm's allowScripts advisory names ${events.length ? events.join(', ') : 'nothing'} of ${peer}'s`);
      recordSize(`${peer}@${version}`, dir);
    } else {
      console.log(r.out);
    }
  }

  console.log('\nInstall sizes (a fresh project; every package folder in node_modules, and MB = 10^6 bytes of their files):');
  const width = Math.max(...sizes.map((s) => s.label.length)) + 2;
  for (const s of sizes) console.log(`  ${s.label.padEnd(width)}${String(s.packages).padStart(3)} packages  ${(s.bytes / 1e6).toFixed(2).padStart(6)} MB`);
}

main()
  .catch((error) => {
    console.error(error);
    failures++;
  })
  .finally(() => {
    for (const child of registries) child.kill();
    if (keep) console.log(`\nkept ${work}`);
    else rmSync(work, { recursive: true, force: true });
    console.log(`\ntest-pack: ${failures ? `FAIL (${failures} check${failures > 1 ? 's' : ''} failed)` : 'PASS'}`);
    process.exitCode = failures ? 1 : 0;
  });
