import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// The tests that pin the mutated files (stryker.config.mjs): the learning math in agents/ and the
// wire validation. Stryker runs, per mutant, only the tests that cover it and stops at the first
// failure, so the files with slow tests (an actor collecting unrolls, 100 training steps, a
// learner resuming from a checkpoint) run last: most mutants die before them.
const SLOW_LAST = ['test/agents/agent.test.ts', 'test/src/runtime/wire.test.ts'];

class FastFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => SLOW_LAST.findIndex((s) => f.moduleId.endsWith(s));
    return [...files].sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['test/agents/**/*.test.ts', 'test/src/runtime/wire.test.ts', 'test/src/transport/codec.test.ts'],
    exclude: ['test/**/*.learning.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    sequence: { sequencer: FastFirst },
  },
});
