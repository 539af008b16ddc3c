// The installed package this command belongs to: `--version` and `info`
// read its package.json, `bench` runs its bench/run.js.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../package-root.js';

export { packageRoot };

function manifest(): { version?: string; devDependencies?: Record<string, string> } {
  try {
    return JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8'));
  } catch {
    return {};
  }
}

export function version(): string {
  return manifest().version ?? 'unknown';
}

/** The command that builds the addon where no prebuild loads, with the build tools' versions as the package names them (as scripts/build-addon.js prints it). */
export function buildCommand(): string {
  const tools = ['cmake-js', 'node-addon-api'].map((name) => `${name}@${manifest().devDependencies?.[name] ?? 'latest'}`);
  return `npm install --save-dev ${tools.join(' ')} && npx zerocopy build`;
}
