// Compiles src to CommonJS in dist/cjs, then adds the ES module entry: a
// thin wrapper over the same code, so a process that loads zerocopy both
// ways still has one copy of its state.
'use strict';
const { execFileSync } = require('node:child_process');
const { mkdirSync, writeFileSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], {
  stdio: 'inherit',
});

const esm = join(root, 'dist', 'esm');
mkdirSync(esm, { recursive: true });
const names = ['sendFile', 'capabilities', 'AbortError', 'serveFile', 'serveStatic', 'fastifyServeStatic', 'koaServeStatic'];
writeFileSync(
  join(esm, 'index.mjs'),
  `import zerocopy from '../cjs/index.js';\nexport const { ${names.join(', ')} } = zerocopy;\nexport default zerocopy;\n`,
);
writeFileSync(
  join(esm, 'index.d.mts'),
  `export * from '../cjs/index.js';\nimport * as zerocopy from '../cjs/index.js';\nexport default zerocopy;\n`,
);
