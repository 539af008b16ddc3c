// Makes the prebuilt binary for this platform (or, with --arch, a cross build
// for another architecture) with prebuildify, which drives cmake-js through
// scripts/prebuild-builder.js instead of node-gyp:
//
//   node scripts/prebuild.js                 -> prebuilds/linux-x64/zerocopy.napi.glibc.node
//   node scripts/prebuild.js --arch arm64    -> prebuilds/linux-arm64/zerocopy.napi.glibc.node
//
// It is `prebuildify --napi --strip` (plus --tag-libc on Linux, so glibc and
// musl builds can sit side by side in prebuilds/linux-<arch>/). The build
// happens in build-prebuild/<platform>-<arch>/, so a development build in
// build/ is left alone: node-gyp-build prefers build/Release when it exists.
'use strict';
const { spawnSync } = require('node:child_process');
const { chmodSync, existsSync, openSync, readSync, closeSync, mkdirSync, readdirSync, statSync } = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const prebuildify = require('prebuildify');

const root = join(__dirname, '..');
const builder = join(__dirname, 'prebuild-builder.js');

function arg(name) {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  return eq && eq.slice(name.length + 3);
}

const platform = os.platform();
const libc = platform === 'linux' && existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
// e_machine of an ELF file, to check a cross build is what it claims to be.
const elfMachine = { x64: 62, arm64: 183, arm: 40, ia32: 3 };
const crossStrip = { arm64: 'aarch64-linux-gnu-strip' };

/**
 * The prebuild in prebuilds/<platform>-<arch>/ for this machine's libc, or
 * null when there is none or (unless anyAge) it is older than a native
 * source: the test scripts build it again then, and otherwise test the one
 * that is there.
 */
function currentPrebuild({ anyAge = false } = {}) {
  const dir = join(root, 'prebuilds', `${os.platform()}-${os.arch()}`);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
  const file = files.find((f) => f.includes(`.${libc}.`)) || files.find((f) => !/\.(glibc|musl)\./.test(f));
  if (!file) return null;
  if (anyAge) return join(dir, file);
  const newest = (path) => {
    const st = statSync(path);
    if (!st.isDirectory()) return st.mtimeMs;
    return Math.max(st.mtimeMs, ...readdirSync(path).map((f) => newest(join(path, f))));
  };
  const sources = Math.max(newest(join(root, 'native')), newest(join(root, 'CMakeLists.txt')));
  return statSync(join(dir, file)).mtimeMs >= sources ? join(dir, file) : null;
}

module.exports = { currentPrebuild };
if (require.main === module) main();

function main() {
  const arch = arg('arch') || process.env.PREBUILD_ARCH || os.arch();
  const cross = arch !== os.arch();
  const staging = join(root, 'build-prebuild', `${platform}-${arch}`);
  mkdirSync(staging, { recursive: true });

  let nodeGyp = builder;
  let shell;
  if (platform === 'win32') {
    // prebuildify spawns the builder through cmd.exe on Windows.
    shell = true;
    nodeGyp = `"${process.execPath}" "${builder}"`;
  } else {
    chmodSync(builder, 0o755); // prebuildify spawns it directly
  }

  const opts = {
    name: require(join(root, 'package.json')).name,
    cwd: staging, // the builder runs here; the addon lands in staging/build/Release
    out: root, // prebuilds/<platform>-<arch>/ goes here
    arch,
    platform,
    napi: true,
    strip: true,
    tagLibc: platform === 'linux',
    nodeGyp,
    shell,
  };
  if (platform === 'linux' && cross) {
    if (!crossStrip[arch]) {
      console.error(`prebuild: no cross toolchain known for linux-${arch}`);
      process.exit(1);
    }
    opts.stripBin = crossStrip[arch];
  }

  console.log(`prebuild: prebuildify --napi --strip${opts.tagLibc ? ' --tag-libc' : ''} --arch ${arch} (cmake-js via scripts/prebuild-builder.js)`);
  prebuildify(opts, (err) => {
    if (err) {
      console.error(`prebuild: ${err.message || err}`);
      process.exit(1);
    }
    const dir = join(root, 'prebuilds', `${platform}-${arch}`);
    const files = readdirSync(dir).filter((f) => f.endsWith('.node'));
    if (!files.length) {
      console.error(`prebuild: nothing in ${dir}`);
      process.exit(1);
    }
    for (const f of files) console.log(`prebuild: ${join('prebuilds', `${platform}-${arch}`, f)}`);

    if (!cross) {
      // The binary this machine can run must load and report its backends.
      const file = join(dir, files.find((f) => f.includes(`.${libc}.`)) || files[0]);
      const probe = spawnSync(process.execPath, ['-p', `JSON.stringify(require(${JSON.stringify(file)}).capabilities().backends.map((b) => b.name))`], {
        encoding: 'utf8',
      });
      if (probe.status !== 0) {
        process.stderr.write(probe.stderr);
        console.error('prebuild: the prebuild does not load');
        process.exit(1);
      }
      console.log(`prebuild: loads; native backends ${probe.stdout.trim()}`);
    } else if (platform === 'linux') {
      for (const f of files) {
        const header = Buffer.alloc(20);
        const fd = openSync(join(dir, f), 'r');
        readSync(fd, header, 0, 20, 0);
        closeSync(fd);
        const machine = header.readUInt16LE(18);
        if (header.toString('latin1', 1, 4) !== 'ELF' || machine !== elfMachine[arch]) {
          console.error(`prebuild: ${f} is not an ELF file for ${arch} (e_machine ${machine})`);
          process.exit(1);
        }
      }
      console.log(`prebuild: ELF e_machine matches ${arch}`);
    }
  });
}
