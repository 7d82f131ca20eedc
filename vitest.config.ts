import { defineConfig } from 'vitest/config';

// Two suites: `fast` (default, `npm test`) and `learning` (agents must learn; slower, CI runs it too).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'fast',
          setupFiles: ['test/setup.ts'],
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.learning.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'learning',
          setupFiles: ['test/setup.ts'],
          include: ['test/**/*.learning.test.ts'],
          testTimeout: 900_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
