/**
 * cpc-lab's public API. The learning math (agents/), environments (envs/) and runtime (src/).
 */
export { vtrace, type VTraceInputs, type VTraceReturns } from '../agents/vtrace.js';
export { infoNCE, infoNCETerms, type InfoNCEInputs, type CpcNegatives } from '../agents/infonce.js';
export { actionLogProbs, baselineLoss, entropyLoss, policyGradientLoss } from '../agents/losses.js';
export { rmsprop, RMSProp, annealedLearningRate, clipByGlobalNorm, type RMSPropOptions } from '../agents/rmsprop.js';
export {
  createAgent,
  trainStep,
  Agent,
  type AgentKind,
  type AgentOptions,
  type LossHyperparameters,
  type TrainStepMetrics,
  type Unroll,
} from '../agents/agent.js';
export { IMPALA_SHALLOW, type NetworkSpec } from '../agents/network.js';
export { ACTION_SET, ACTION_REPEAT, NUM_ACTIONS } from '../envs/actions.js';
export { makeEnv } from '../envs/index.js';
export type { Environment, EnvSpec, StepResult, EnvOptions } from '../envs/types.js';
export { encode, decode, toWire, fromWire, type DecodeResult, type WireArray } from './transport/codec.js';
export { PROTOCOL_VERSION, type Message } from './transport/messages.js';
export { ConfigSchema, verifyConfig, resolveConfig, type Config, type ConfigInput } from './config.js';
export { train, type TrainSummary, type TrainHooks } from './train.js';
export { initBackend, type BackendName } from './backend/index.js';
export { SearchConfigSchema, sampleTrials, SEARCH_SPACE, type SearchConfig, type SearchConfigInput, type Trial } from './experiments/study.js';
export { runSearch, type SearchSummary, type SearchHooks } from './experiments/search.js';
export { findRunDirs, loadRun, finalReturn, bestRuns, summaryRows, runRows, writeResults } from './experiments/results.js';
export { writeReport, type ReportOptions } from './plots/report.js';
export { evaluate, type EvalOptions, type EvalResult } from './eval.js';
