import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// The tests Stryker runs against mutants (stryker.config.mjs, stryker.wire.config.mjs). Per mutant it
// runs only the tests that cover it and stops at the first failure, so the slow file (an actor
// collecting unrolls, 100 training steps) runs last: most mutants die before it. MUTATE_TESTS=wire
// selects the wire tests, whose slow learner-resume test covers no wire code and so runs only once.
const SLOW_LAST = ['test/agents/agent.test.ts'];

class FastFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => SLOW_LAST.findIndex((s) => f.moduleId.endsWith(s));
    return [...files].sort((a, b) => rank(a) - rank(b));
  }
}

const TESTS = {
  agents: ['test/agents/**/*.test.ts'],
  wire: ['test/src/runtime/wire.test.ts', 'test/src/transport/codec.test.ts'],
};

export default defineConfig({
  test: {
    include: TESTS[process.env.MUTATE_TESTS === 'wire' ? 'wire' : 'agents'],
    testTimeout: 300_000,
    hookTimeout: 60_000,
    sequence: { sequencer: FastFirst },
  },
});
