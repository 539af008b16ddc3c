// The installed package this command belongs to, found from this file's own
// place (dist/cjs/cli/ in the package): `--version` and `info` read its
// package.json, `bench` runs its bench/run.js.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const packageRoot = join(__dirname, '..', '..', '..');

export function version(): string {
  try {
    return JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).version as string;
  } catch {
    return 'unknown';
  }
}
