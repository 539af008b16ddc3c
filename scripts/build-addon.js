// `zerocopy build`: builds the addon from source into build/Release, where
// node-gyp-build looks before prebuilds/. The package has no install script:
// a prebuild loads without one, and npm (11.16+ warns, 12 blocks) no longer
// runs a dependency's install script unless the project allows it. So the
// source build is a command the user runs, on a platform with no prebuild.
// The tools (cmake-js, node-addon-api) are development dependencies, not
// runtime ones: a user on a platform with a prebuild never downloads them.
//
//   node scripts/build-addon.js [--force] [--prepare]
//
// --force builds even when an addon loads. --prepare is npm's `prepare` in a
// checkout of the repository: it builds when it can where the folder is used
// as it is (a developer's `npm install`, a link to it), not where npm packs
// it (npm pack, a git dependency), and never fails the install.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { delimiter, join } = require('node:path');

const root = join(__dirname, '..');
const force = process.argv.includes('--force');
const prepare = process.argv.includes('--prepare');
// As `prepare`, nothing goes to stdout: there `npm pack --json` and
// `npm publish --json` print their JSON.
const say = (line) => (prepare ? console.error : console.log)(`zerocopy: ${line}`);
const warn = (line) => console.error(`zerocopy: ${line}`);

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

/**
 * As `prepare`: whether npm is preparing this folder to pack it (npm pack or
 * publish, a git dependency, `npm install --install-links <folder>`), whose
 * build/ the packed package would not have. Not so for npm's install of this
 * checkout itself, or of a link to it: those use the folder as it is.
 */
function packing() {
  // pacote's `npm install` in a git dependency's checkout, before it packs it.
  if (process.env._PACOTE_NO_PREPARE_) return true;
  // pacote names the folder it packs; a checkout's own install names none, a link 'null'.
  const resolved = process.env.npm_package_resolved;
  return resolved !== undefined && resolved !== '' && resolved !== 'null';
}

function main() {
  if (prepare && packing()) {
    say('npm is packing this folder, and a build here would not be packed: not building the addon (where no prebuild loads, `npx zerocopy build` builds it)');
    return 0;
  }
  const before = loadError();
  if (before === undefined && !force) {
    say('the native addon already loads here (a prebuild or an earlier build); --force builds it anyway');
    return 0;
  }
  if (before !== undefined) say(`no native addon loads here: ${before}`);

  const missing = toolSpecs()
    .filter((tool) => !resolvePackage(tool.name))
    .map((tool) => tool.name);
  if (!onPath('cmake')) missing.push('cmake (on PATH)');
  if (missing.length > 0) {
    warn(`cannot build the addon, missing: ${missing.join(', ')}.`);
    warn('it needs CMake 3.15+ and a C/C++ compiler on PATH, then, in your project:');
    warn(`  npm install --save-dev ${toolSpecs().map((t) => t.spec).join(' ')} && npx zerocopy build`);
    return prepare ? 0 : 1;
  }

  const cmakeJs = join(resolvePackage('cmake-js'), '..', 'bin', 'cmake-js');
  const build = spawnSync(process.execPath, [cmakeJs, 'compile'], { cwd: root, stdio: prepare ? ['inherit', 2, 2] : 'inherit' });
  const after = build.status === 0 ? loadError() : `cmake-js exited with status ${build.status ?? build.signal}`;
  if (after === undefined) {
    say('built the native addon from source');
    return 0;
  }
  warn(`the source build failed (${after}); the package stays on the 'stream' backend (capabilities().native === false).`);
  warn('fix what the build said above (a C/C++ compiler? CMake 3.15+?), then: npx zerocopy build');
  return prepare ? 0 : 1;
}

process.exitCode = main();
