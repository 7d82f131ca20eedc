#!/usr/bin/env node
import { Command } from 'commander';
import { addConfigOptions, configFromOptions } from './cli/configOptions.js';
import { verifyConfig } from './config.js';
import { resumeRun, train } from './train.js';

const program = new Command();
program.name('cpc-lab').description('Train memory-based RL agents in first-person 3D worlds with CPC as an auxiliary loss');

addConfigOptions(
  program
    .command('train')
    .description('train an agent (actor and learner in this process)')
    .option('--local', 'actor and learner in one process (batched A2C, policy lag 0)')
    .option('--resume <runDir>', 'continue a run from its last checkpoint (other flags given override its settings)'),
).action(async (opts: Record<string, unknown>) => {
  const flags = configFromOptions(opts);
  const resumeDir = typeof opts.resume === 'string' ? opts.resume : undefined;
  const verified = verifyConfig(flags);
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
  const summary = resumeDir ? await resumeRun(resumeDir, flags, { signal: stop.signal }) : await train(verified.config, { signal: stop.signal });
  console.log(
    `done: ${summary.frames} frames, ${summary.updates} updates, ${summary.episodes} episodes, mean return ${summary.meanReturn.toFixed(3)}, ` +
      `${summary.seconds.toFixed(0)} s; results in ${summary.runDir}`,
  );
});

program
  .command('render')
  .description('write what the agent sees on a built-in level (GIF, or PNG contact sheet) and a top-down map')
  .requiredOption('--env <level>', 'builtin:<level>')
  .option('--policy <policy>', 'random or oracle (knows the map)', 'random')
  .option('--steps <n>', 'agent steps', (v) => Number(v), 200)
  .option('--seed <n>', 'level seed', (v) => Number(v), 0)
  .requiredOption('--out <file>', 'output .gif or .png (the map goes next to it)')
  .action(async (opts: { env: string; policy: string; steps: number; seed: number; out: string }) => {
    if (opts.policy !== 'random' && opts.policy !== 'oracle') throw new Error(`--policy must be random or oracle, got '${opts.policy}'`);
    const { renderLevel } = await import('../envs/builtin/render.js');
    const r = await renderLevel({ level: opts.env, policy: opts.policy, steps: opts.steps, seed: opts.seed, out: opts.out });
    console.log(`wrote ${r.out} (${r.frames} frames) and ${r.mapOut}; reward ${r.totalReward}, episodes ended: ${r.episodeReturns.length}`);
  });

program
  .command('doctor')
  .description('say what cpc-lab finds (tensor backends, Python, DeepMind Lab) and how to fix what is missing')
  .option('--python <path>', 'Python 3 to check (default $CPC_LAB_PYTHON, else python3)')
  .option('--dmlab-path <dir>', 'directory holding deepmind_lab (default $CPC_LAB_DMLAB_PATH)')
  .action(async (opts: { python?: string; dmlabPath?: string }) => {
    const { doctor } = await import('./doctor.js');
    const report = await doctor({ python: opts.python, dmlabPath: opts.dmlabPath });
    console.log(report.summary);
    if (!report.ok) process.exitCode = 1;
  });

program.parseAsync().catch((err: unknown) => {
  console.error(`cpc-lab: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
