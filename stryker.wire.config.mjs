// Mutation testing of the wire validation: what actors send is checked before it reaches a batch.
import base from './stryker.config.mjs';

process.env.MUTATE_TESTS = 'wire'; // vitest.mutation.config.ts: the wire tests

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...base,
  mutate: ['src/runtime/wire.ts', 'src/transport/messages.ts'],
  jsonReporter: { fileName: 'reports/mutation/wire.json' },
  incrementalFile: 'reports/mutation/wire.incremental.json',
  thresholds: { high: 95, low: 80, break: null },
};
