// The installed package's own folder, found by walking up from this file
// (dist/cjs/ or dist/esm/ in the package) to the package.json named zerocopy:
// where the addon's builds and prebuilds are, and what the command reads its
// version from and runs the benchmarks of.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function find(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'zerocopy') return dir;
    if (dirname(dir) === dir) throw new Error(`zerocopy: no package.json above ${__dirname}`);
  }
}

export const packageRoot = find();
