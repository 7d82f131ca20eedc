#!/usr/bin/env node
import { Command } from 'commander';
import { addConfigOptions, configFromOptions } from './cli/configOptions.js';
import { verifyConfig } from './config.js';
import { train } from './train.js';

const program = new Command();
program.name('cpc-lab').description('Train memory-based RL agents in first-person 3D worlds with CPC as an auxiliary loss');

addConfigOptions(
  program
    .command('train')
    .description('train an agent (actor and learner in this process)')
    .option('--local', 'actor and learner in one process (batched A2C, policy lag 0)'),
).action(async (opts: Record<string, unknown>) => {
  const verified = verifyConfig(configFromOptions(opts));
  if (!verified.ok) {
    console.error(`cpc-lab train: invalid settings:\n  ${verified.errors.join('\n  ')}`);
    process.exitCode = 2;
    return;
  }
  const stop = new AbortController();
  process.once('SIGINT', () => {
    console.error('\ncpc-lab: stopping after the current update (Ctrl-C again to abort)');
    stop.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  const summary = await train(verified.config, { signal: stop.signal });
  console.log(
    `done: ${summary.frames} frames, ${summary.updates} updates, ${summary.episodes} episodes, mean return ${summary.meanReturn.toFixed(3)}, ` +
      `${summary.seconds.toFixed(0)} s; results in ${summary.runDir}`,
  );
});

program.parseAsync().catch((err: unknown) => {
  console.error(`cpc-lab: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
