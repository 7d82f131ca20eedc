// Mutation testing of the learning math (`npm run test:mutation` runs this, then stryker.wire.config.mjs).
import os from 'node:os';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  mutate: ['agents/**/*.ts'],
  coverageAnalysis: 'perTest',
  // module-level constants would need every test per mutant; the reference values pin them
  ignoreStatic: true,
  // one test process per core (each holds tfjs and the test modules, ~0.5 GB)
  concurrency: os.availableParallelism(),
  // reuse the last run's results (kept in reports/, not committed) for mutants whose code and covering tests did not change
  incremental: true,
  timeoutMS: 10_000,
  // TypeScript 7 has no JavaScript API, which Stryker's rewriting of tsconfig paths for its sandbox
  // needs; tsconfig.json has no `extends` or `references` to rewrite, so that step is skipped.
  tsconfigFile: 'no-such-tsconfig.json',
  reporters: ['clear-text', 'progress-append-only', 'json'],
  jsonReporter: { fileName: 'reports/mutation/agents.json' },
  incrementalFile: 'reports/mutation/agents.incremental.json',
  thresholds: { high: 95, low: 90, break: 90 },
};
