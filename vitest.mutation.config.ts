import { defineConfig } from 'vitest/config';

// The tests Stryker runs against mutants (stryker.config.mjs: agents/; stryker.wire.config.mjs, with
// MUTATE_TESTS=wire: the wire validation). Per mutant it reruns the tests that cover it, so the
// set leaves out test/agents/agent.test.ts, whose actor-driven tests (unroll collection, finite
// differences, 100 training steps) take 40 s and more per mutant on 2 cores; loss.test.ts pins the
// same code through the float64 reference (every term, trainStep, the stop-gradients).
// wire.test.ts's slow learner-resume test covers no wire code, so Stryker runs it only once.
const TESTS = {
  agents: ['test/agents/**/*.test.ts'],
  wire: ['test/src/runtime/wire.test.ts', 'test/src/transport/codec.test.ts'],
};

export default defineConfig({
  test: {
    include: TESTS[process.env.MUTATE_TESTS === 'wire' ? 'wire' : 'agents'],
    exclude: ['test/agents/agent.test.ts'],
    // one worker keeps tfjs and the test modules loaded from one mutant's run to the next (Stryker
    // switches mutants at run time, so reloading gains nothing and costs seconds per mutant)
    isolate: false,
    testTimeout: 300_000,
    hookTimeout: 60_000,
  },
});
