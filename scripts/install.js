// npm install: use a prebuilt binary when one matches this platform, build
// from source with cmake-js when none does, and never fail the install: a
// package without its addon still works through the `stream` backend, and
// capabilities() says why.
'use strict';
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

const root = join(__dirname, '..');

function loads() {
  const probe = spawnSync(process.execPath, ['-e', `require('node-gyp-build')(${JSON.stringify(root)})`], {
    cwd: root,
    encoding: 'utf8',
  });
  return probe.status === 0;
}

if (process.env.ZEROCOPY_SKIP_BUILD) {
  console.log('zerocopy: ZEROCOPY_SKIP_BUILD is set, not building the addon');
} else if (loads()) {
  console.log('zerocopy: using the native addon found for this platform');
} else {
  let built = false;
  try {
    const cmakeJs = join(require.resolve('cmake-js/package.json'), '..', 'bin', 'cmake-js');
    const build = spawnSync(process.execPath, [cmakeJs, 'compile'], { cwd: root, stdio: 'inherit' });
    built = build.status === 0 && loads();
  } catch (error) {
    console.warn(`zerocopy: ${error instanceof Error ? error.message : error}`);
  }
  if (built) {
    console.log('zerocopy: built the native addon from source');
  } else {
    console.warn(
      'zerocopy: no prebuilt addon for this platform and the source build failed;\n' +
        "zerocopy will use its 'stream' backend (capabilities().native === false).",
    );
  }
}
