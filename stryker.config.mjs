// Mutation testing (`npm run test:mutation`): the learning math in agents/ and the wire validation.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  mutate: ['agents/**/*.ts', 'src/runtime/wire.ts', 'src/transport/messages.ts'],
  coverageAnalysis: 'perTest',
  // module-level constants would need every test per mutant; they are pinned by the reference values
  ignoreStatic: true,
  concurrency: 1,
  timeoutMS: 60_000,
  // TypeScript 7 has no JavaScript API, which Stryker's rewriting of tsconfig paths for its sandbox
  // needs; tsconfig.json has no `extends` or `references` to rewrite, so that step is skipped.
  tsconfigFile: 'no-such-tsconfig.json',
  reporters: ['clear-text', 'progress-append-only', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 95, low: 90, break: null },
};
