import { defineConfig } from 'vitest/config';

// The tests that pin the mutated files (stryker.config.json): the learning math in agents/ and the
// wire validation. Stryker runs, per mutant, only those of them that cover it.
export default defineConfig({
  test: {
    include: ['test/agents/**/*.test.ts', 'test/src/runtime/wire.test.ts', 'test/src/transport/codec.test.ts'],
    exclude: ['test/**/*.learning.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
