#!/usr/bin/env node
import { Command, Option } from 'commander';
import { addConfigOptions, configFromOptions } from './cli/configOptions.js';
import { addEvalCommand, addPlotCommand, addSearchCommand, addSlurmOptions, slurmOptionsOf } from './cli/experiments.js';
import os from 'node:os';
import path from 'node:path';
import { envOptions, resolveConfig, verifyConfig } from './config.js';
import { superviseTraining } from './runtime/supervisor.js';
import { readRunForResume, train } from './train.js';

const program = new Command();
program.name('cpc-lab').description('Train memory-based RL agents in first-person 3D worlds with CPC as an auxiliary loss');

addConfigOptions(
  addSlurmOptions(program
    .command('train')
    .description('train an agent: a learner and --actors actor processes (each environment in its own process; dmlab: an actor\'s levels in one bridge), or all in this process with --local')
    .option('--local', 'actor and learner in this process (same as --actors 0)')
    .option(
      '--resume <runDir>',
      'continue a run from its last checkpoint (other flags given override its settings); bit-exact in a single process on builtin: and mock: levels; with --actors or on dmlab: levels environments start new episodes and the LSTM state starts at zero',
    )
    .addOption(new Option('--launcher <launcher>', 'here, or on a Slurm cluster: one job, the learner on its first task, one task per actor').choices(['local', 'slurm']).default('local').helpGroup('Slurm options:'))
    .addOption(new Option('--nodes <n>', 'nodes of the Slurm job (the --actors + 1 tasks spread over them)').argParser(Number).helpGroup('Slurm options:'))
    .addOption(new Option('--slurm-task <role>', 'learner or actor: one task of a Slurm training (what its srun runs)').choices(['learner', 'actor']).hideHelp()),
  '<run-dir>/slurm/train.sbatch'),
).action(async (opts: Record<string, unknown>) => {
  if (opts.slurmTask) {
    const runDir = String(opts.runDir);
    const stop = new AbortController();
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => stop.abort());
    const { runActorTask, runLearnerTask } = await import('./runtime/slurmTrain.js');
    if (opts.slurmTask === 'actor') {
      await runActorTask(runDir, stop.signal);
      process.exit(0); // unrolls still queued for a learner that has ended would hold the process (ZeroMQ's linger)
    }
    const s = await runLearnerTask(runDir, stop.signal);
    console.log(`done: ${s.frames} frames, ${s.updates} updates; checkpoint ${s.checkpoint}`);
    return;
  }
  const slurmOptions = slurmOptionsOf(opts, ['nodes']);
  const flags = configFromOptions(opts);
  if (opts.local) flags.actors = 0;
  const resumeDir = typeof opts.resume === 'string' ? opts.resume : undefined;
  const resumed = resumeDir ? readRunForResume(resumeDir) : undefined;
  const verified = verifyConfig(resumed ? { ...resumed.config, ...flags, runDir: resumeDir } : flags);
  if (!verified.ok) {
    console.error(`cpc-lab train: invalid settings:\n  ${verified.errors.join('\n  ')}`);
    process.exitCode = 2;
    return;
  }
  const config = verified.config;
  if (opts.launcher === 'slurm') {
    if (resumeDir) throw new Error('--resume with --launcher slurm: resubmit the run\'s sbatch script (<run-dir>/slurm/train.sbatch); its learner resumes from the checkpoint');
    const { submitTraining } = await import('./runtime/slurmTrain.js');
    const sub = submitTraining(config, (opts.nodes as number | undefined) ?? 1, slurmOptions, { printOnly: opts.printOnly === true });
    console.log(sub.jobId ? `submitted job ${sub.jobId}: learner + ${config.actors} actors (${sub.script}); its output: ${path.dirname(sub.script)}/${sub.jobId}.out` : `wrote ${sub.script}; submit it with: sbatch ${sub.script}`);
    return;
  }
  const stop = new AbortController();
  process.once('SIGINT', () => {
    console.error('\ncpc-lab: stopping after the current update, with a checkpoint (Ctrl-C again to abort)');
    stop.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  process.once('SIGTERM', () => stop.abort());
  const s =
    config.actors > 0
      ? await superviseTraining(config, { resumeDir, signal: stop.signal })
      : await train(config, { signal: stop.signal, resumeFrom: resumed?.checkpoint });
  console.log(`done: ${s.frames} frames, ${s.updates} updates, ${s.episodes} episodes, mean return ${(s.meanReturn ?? Number.NaN).toFixed(3)}; checkpoint ${s.checkpoint}`);
});

addConfigOptions(
  program
    .command('actor')
    .description('an actor for a learner on another machine (give the same settings as the learner\'s run)')
    .requiredOption('--learner <endpoint>', 'the learner, e.g. tcp://10.0.0.5:5555')
    .option('--actor-id <id>', 'unique name of this actor', `actor-${os.hostname()}-${process.pid}`)
    .option('--actor-seed <n>', 'seed of this actor', (v) => Number(v), process.pid)
    .option('--run-token <file>', "the learner's run token (its run folder's run-token file); not needed with --curve-keys"),
).action(async (opts: Record<string, unknown>) => {
  const config = resolveConfig(configFromOptions(opts));
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  const { runActor } = await import('./runtime/actorProcess.js');
  const { readRunToken } = await import('./runtime/runToken.js');
  if (!config.curveKeys && typeof opts.runToken !== 'string') throw new Error('cpc-lab actor needs --run-token <runDir>/run-token (or --curve-keys)');
  const token = config.curveKeys ? '' : readRunToken(String(opts.runToken));
  process.title = `cpc-lab ${String(opts.actorId)}`;
  await runActor(config, { learner: String(opts.learner), actorId: String(opts.actorId), token, seed: Number(opts.actorSeed), signal: stop.signal, log: (l) => console.log(l) });
});

program
  .command('keygen')
  .description('write ZeroMQ CURVE keys for a learner that actors on other machines reach (pass them with --curve-keys on both sides)')
  .requiredOption('--out <file>', 'key file to write (created mode 0600, never overwritten; keep it secret)')
  .option('--add-client <learnerKeys>', "write a key file for one more actor machine to --out and allow its key in the learner's file")
  .action(async (opts: { out: string; addClient?: string }) => {
    const { addCurveClient, writeCurveKeys } = await import('./runtime/curve.js');
    if (opts.addClient) {
      addCurveClient(opts.addClient, opts.out);
      console.log(`wrote ${opts.out} for an actor machine (cpc-lab actor --curve-keys ${opts.out}) and allowed its key in ${opts.addClient}; restart the learner to admit it`);
      return;
    }
    writeCurveKeys(opts.out);
    console.log(`wrote ${opts.out}; bind the learner beyond 127.0.0.1 with --learner-endpoint tcp://0.0.0.0:5555 --curve-keys ${opts.out}`);
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
  .option('--renderer <renderer>', 'DeepMind Lab renderer to try a level with: software or hardware', 'software')
  .action(async (opts: { python?: string; dmlabPath?: string; renderer: string }) => {
    if (opts.renderer !== 'software' && opts.renderer !== 'hardware') throw new Error(`--renderer must be software or hardware, got '${opts.renderer}'`);
    const { doctor } = await import('./doctor.js');
    const report = await doctor({ python: opts.python, dmlabPath: opts.dmlabPath, renderer: opts.renderer });
    console.log(report.summary);
    if (!report.ok) process.exitCode = 1;
  });

const dmlab = program.command('dmlab').description('DeepMind Lab tools');
addConfigOptions(
  dmlab
    .command('warm-cache')
    .description(
      "compile the maps of a run's first episodes into the level cache ($CPC_LAB_LEVEL_CACHE, default ~/.cache/cpc-lab/dmlab-levels) ahead of it: give the run's --seed, --batch, --actors and --envs-per-actor, which decide its environments' seeds",
    )
    .requiredOption('--level <level>', 'DeepMind Lab level, e.g. explore_goal_locations_small')
    .requiredOption('--episodes <n>', 'episodes per environment', (v) => Number(v)),
  ['env'],
).action(async (opts: Record<string, unknown>) => {
  const level = String(opts.level).replace(/^dmlab:/, '');
  const verified = verifyConfig({ ...configFromOptions(opts), env: `dmlab:${level}` });
  if (!verified.ok) {
    console.error(`cpc-lab dmlab warm-cache: invalid settings:\n  ${verified.errors.join('\n  ')}`);
    process.exitCode = 2;
    return;
  }
  const { runEnvSeeds } = await import('./actor.js');
  const { warmDmlabCache } = await import('../envs/dmlab/index.js');
  const seeds = runEnvSeeds(verified.config);
  const episodes = Number(opts.episodes);
  console.log(`warm-cache dmlab:${level}: ${seeds.length} environments x ${episodes} episodes`);
  const r = await warmDmlabCache(level, seeds, episodes, { ...envOptions(verified.config).dmlab, log: (l) => console.log(l) });
  console.log(`done: ${r.episodes} episodes, ${r.compiled} maps compiled (the others were cached) in ${r.seconds.toFixed(1)} s`);
});

addSearchCommand(program);
addPlotCommand(program);
addEvalCommand(program);

program.parseAsync().catch((err: unknown) => {
  console.error(`cpc-lab: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
