#!/usr/bin/env node
// The builder prebuildify runs in node-gyp's place (its `nodeGyp` option):
// it takes node-gyp's arguments (`rebuild --target=<node> --arch=<arch>
// --devdir=<dir> --release`) and runs `cmake-js rebuild` on this package,
// so cmake-js stays the one build system. The addon lands in
// <cwd>/build/Release/zerocopy.node, where prebuildify looks for it.
//
// --target and --devdir are ignored: the addon is a Node-API build (package.json
// declares binary.napi_versions), so cmake-js uses node-api-headers and one
// binary serves every Node version. A build for another architecture than the
// machine's is a cross build: on Linux it uses the CMake toolchain file in
// scripts/toolchains/ for that architecture (or CMAKE_TOOLCHAIN_FILE).
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const os = require('node:os');
const { join, resolve } = require('node:path');

const root = join(__dirname, '..');
const cmakeJs = join(require.resolve('cmake-js/package.json', { paths: [root] }), '..', 'bin', 'cmake-js');

// Linux cross toolchains, by Node's name for the target architecture.
const toolchains = { arm64: 'aarch64-linux-gnu.cmake' };

function parse(argv) {
  const opts = { command: 'rebuild', debug: false, arch: os.arch() };
  for (const arg of argv) {
    if (!arg.startsWith('-')) opts.command = arg;
    else if (arg.startsWith('--arch=')) opts.arch = arg.slice('--arch='.length);
    else if (arg === '--debug') opts.debug = true;
    else if (arg === '--release') opts.debug = false;
    // --target=, --devdir=, --runtime=, --dist-url=, --build_v8_with_gn=: not
    // needed for a Node-API build.
  }
  return opts;
}

function main() {
  const opts = parse(process.argv.slice(2));
  if (opts.command !== 'rebuild' && opts.command !== 'build') {
    console.error(`prebuild-builder: unsupported command ${opts.command}`);
    return 1;
  }
  const args = [cmakeJs, opts.command, '--directory', root, '--out', resolve('build'), '--arch', opts.arch];
  if (opts.debug) args.push('--debug');

  let toolchain = process.env.CMAKE_TOOLCHAIN_FILE;
  if (!toolchain && opts.arch !== os.arch() && os.platform() === 'linux') {
    if (!toolchains[opts.arch]) {
      console.error(`prebuild-builder: no cross toolchain for linux-${opts.arch} (set CMAKE_TOOLCHAIN_FILE)`);
      return 1;
    }
    toolchain = join(__dirname, 'toolchains', toolchains[opts.arch]);
  }
  if (toolchain) {
    if (!existsSync(toolchain)) {
      console.error(`prebuild-builder: toolchain file ${toolchain} not found`);
      return 1;
    }
    args.push(`--CDCMAKE_TOOLCHAIN_FILE=${resolve(toolchain)}`);
  }

  console.log(`prebuild-builder: cmake-js ${args.slice(1).join(' ')}`);
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (r.error) console.error(r.error.message);
  return r.status ?? 1;
}

process.exitCode = main();
