import { defineConfig } from 'vitest/config';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { variants, addonPath } = require('./scripts/build-test-addons.js') as {
  variants: Record<string, string[]>;
  addonPath: (name: string) => string;
};

// The conformance suite runs once per native build: the default (Linux)
// build with every other test, then each shimmed system's build, plain and
// with injected faults, and the fallback build.
const conformance = Object.keys(variants).flatMap((name) => {
  const shimmed = variants[name].some((flag) => flag.includes('ZEROCOPY_SHIM=ON'));
  return (shimmed ? [undefined, '7', '1234'] : [undefined]).map((seed) => ({
    extends: true as const,
    test: {
      name: seed ? `${name}+faults(${seed})` : name,
      include: ['test/conformance.test.ts'],
      env: {
        ZEROCOPY_ADDON: addonPath(name),
        ZEROCOPY_TEST_BUILD: name,
        ...(seed ? { ZEROCOPY_SHIM_FAULTS: seed } : {}),
      },
    },
  }));
});

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Transfers measure the machine's own behaviour (segments, descriptors,
    // timers); running files one at a time keeps them from skewing each other.
    fileParallelism: false,
    pool: 'forks',
    projects: [{ extends: true, test: { name: 'linux', include: ['test/**/*.test.ts'] } }, ...conformance],
  },
});
