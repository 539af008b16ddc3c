// Builds the addon variants the conformance suite runs against: each other
// system's backend compiled against its syscall shim (test/shims), and a
// build whose best backend is the portable fallback. They live in
// build-test/<name>/ and never ship.
'use strict';
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

const root = join(__dirname, '..');
const cmakeJs = join(require.resolve('cmake-js/package.json'), '..', 'bin', 'cmake-js');

const variants = {
  solaris: ['--CDZEROCOPY_PLATFORM=solaris', '--CDZEROCOPY_SHIM=ON'],
  hpux: ['--CDZEROCOPY_PLATFORM=hpux', '--CDZEROCOPY_SHIM=ON'],
  freebsd: ['--CDZEROCOPY_PLATFORM=freebsd', '--CDZEROCOPY_SHIM=ON'],
  darwin: ['--CDZEROCOPY_PLATFORM=darwin', '--CDZEROCOPY_SHIM=ON'],
  fallback: ['--CDZEROCOPY_PLATFORM=fallback'],
};

module.exports = { variants, addonPath: (name) => join(root, 'build-test', name, 'Release', 'zerocopy.node') };

if (require.main === module) {
  for (const [name, flags] of Object.entries(variants)) {
    const out = join('build-test', name);
    const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', out, ...flags], {
      cwd: root,
      encoding: 'utf8',
    });
    if (r.status !== 0) {
      process.stderr.write(r.stdout + r.stderr);
      console.error(`build-test-addons: the ${name} build failed`);
      process.exit(1);
    }
    console.log(`build-test-addons: ${name} -> ${out}`);
  }
}
