import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Transfers measure the machine's own behaviour (segments, descriptors,
    // timers); running files one at a time keeps them from skewing each other.
    fileParallelism: false,
    pool: 'forks',
  },
});
