import type { LossHyperparameters } from '../../agents/agent.js';

/** A network small enough for exact gradient checks in a fast test. */
export const TINY = { conv1Filters: 2, conv2Filters: 3, latentSize: 5, lstmSize: 4 };

/** Loss settings of the agent tests (the paper's defaults, batch negatives, no stop-gradient). */
export const HP: LossHyperparameters = {
  discount: 0.99,
  entropyCost: 0.01,
  baselineCost: 0.5,
  cpcCost: 1,
  rewardClipping: 'abs_one',
  cpcNegatives: 'batch',
  cpcStopGradient: false,
};
