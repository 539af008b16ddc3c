// npm install: use the prebuilt addon when one loads on this machine, and
// build it from source only when none does and the build tools are here.
// The tools (cmake-js, node-addon-api) are development dependencies, not
// runtime ones: a user on a platform with a prebuild never downloads them.
// A user without one gets the `stream` backend and one command that builds
// the addon (see printHowToBuild). The install never fails: a package
// without its addon still works, and capabilities() says why.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { delimiter, join } = require('node:path');

const root = join(__dirname, '..');
const say = (line) => console.log(`zerocopy: ${line}`);
const warn = (line) => console.warn(`zerocopy: ${line}`);

/** Loads the addon as the package will (node-gyp-build: build/Release first, then prebuilds/) in a child process; the error's first line when it cannot. */
function loadError() {
  const probe = spawnSync(process.execPath, ['-e', `require('node-gyp-build')(${JSON.stringify(root)})`], { cwd: root, encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  const message = /^Error: (.*)$/m.exec(probe.stderr)?.[1];
  return message ?? `exit status ${probe.status}`;
}

/** Where `name` resolves from the package (its own node_modules, or the project's above it), or undefined. */
function resolvePackage(name) {
  try {
    return require.resolve(`${name}/package.json`, { paths: [root] });
  } catch {
    return undefined;
  }
}

function onPath(command) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, command)));
}

/** The build tools as the package's devDependencies name them, e.g. `cmake-js@^8.0.0`. */
function toolSpecs() {
  const { devDependencies = {} } = require(join(root, 'package.json'));
  return ['cmake-js', 'node-addon-api'].map((name) => ({ name, spec: `${name}@${devDependencies[name] ?? 'latest'}` }));
}

function printHowToBuild(missing) {
  warn(`using the 'stream' backend (capabilities().native === false). To build the addon here, missing: ${missing.join(', ')}.`);
  warn('it needs CMake 3.15+ and a C/C++ compiler on PATH, then, in your project:');
  warn(`  npm install --save-dev ${toolSpecs().map((t) => t.spec).join(' ')} && npm rebuild zerocopy`);
}

function main() {
  if (process.env.ZEROCOPY_SKIP_BUILD) return say('ZEROCOPY_SKIP_BUILD is set, not building the addon');
  const error = loadError();
  if (error === undefined) return say('using the native addon found for this platform');
  say(`no native addon loads here: ${error}`);
  // npm installs a git dependency's development dependencies in a checkout
  // of its own and packs it; a build there would not be packed. The addon
  // is built (or not) where the packed package is installed.
  if (process.env._PACOTE_NO_PREPARE_) return say('preparing a git checkout for packing: not building the addon in it');

  const missing = toolSpecs()
    .filter((tool) => !resolvePackage(tool.name))
    .map((tool) => tool.name);
  if (!onPath('cmake')) missing.push('cmake (on PATH)');
  if (missing.length > 0) return printHowToBuild(missing);

  const cmakeJs = join(resolvePackage('cmake-js'), '..', 'bin', 'cmake-js');
  const build = spawnSync(process.execPath, [cmakeJs, 'compile'], { cwd: root, stdio: 'inherit' });
  const after = build.status === 0 ? loadError() : `cmake-js exited with status ${build.status ?? build.signal}`;
  if (after === undefined) return say('built the native addon from source');
  warn(`the source build failed (${after}); using the 'stream' backend (capabilities().native === false).`);
  warn('fix what the build said above (a C/C++ compiler? CMake 3.15+?), then: npm rebuild zerocopy');
}

main();
