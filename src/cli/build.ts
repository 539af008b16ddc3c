// `zerocopy build`: compiles the addon from source where no prebuild loads.
// The work is scripts/build-addon.js (plain JavaScript, shipped in the
// package), run in a child process so this process never loads the addon
// it replaces.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parse, wantsHelp } from './args.js';
import { print } from './output.js';
import { packageRoot } from './package.js';

export const buildHelp = `usage: zerocopy build [--force]

Builds the native addon from source into the package's build/Release, which
is loaded before any prebuild. Needs CMake 3.15+, a C/C++ compiler, and the
packages cmake-js and node-addon-api in your project. Does nothing when an
addon already loads, unless --force.

Options:
  --force      build even when a prebuild or an earlier build loads
  -h, --help   this help
`;

export async function buildCommand(args: string[]): Promise<number> {
  if (wantsHelp(args)) return print(buildHelp);
  const { values } = parse('build', args, { force: { type: 'boolean' } }, { min: 0, max: 0, names: [] });
  const script = join(packageRoot, 'scripts', 'build-addon.js');
  const run = spawnSync(process.execPath, [script, ...(values.force ? ['--force'] : [])], { stdio: 'inherit' });
  return run.status ?? 1;
}
