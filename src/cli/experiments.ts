import path from 'node:path';
import { Option, type Command } from 'commander';
import { BACKEND_CHOICES } from '../config.js';
import { PER_RUN_KEYS, searchConfigOf, SearchConfigSchema } from '../experiments/study.js';
import type { SlurmOptions } from '../experiments/slurm.js';
import { addConfigOptions, configFromOptions, kebab } from './configOptions.js';

/** `cpc-lab search`, `plot` and `eval`: the experiment commands (issue 6). Heavy modules load on use. */

const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);
const int = (v: string): number => (v.trim() === '' ? Number.NaN : Number(v));

/** First Ctrl-C stops gracefully (checkpoints); the second exits at once. */
function stopOnCtrlC(what: string): AbortSignal {
  const stop = new AbortController();
  process.once('SIGINT', () => {
    console.error(`\ncpc-lab: stopping ${what} after the current updates, with checkpoints (Ctrl-C again to abort)`);
    stop.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  return stop.signal;
}

/** Slurm's resource flags and --print-only, shared by `search` and `train` (each run / each task). */
export function addSlurmOptions(command: Command, scriptFile: string): Command {
  const group = 'Slurm options:';
  return command
    .addOption(new Option('--partition <name>', 'Slurm partition').helpGroup(group))
    .addOption(new Option('--time <limit>', 'time limit, e.g. 4:00:00 (a run stopped by it resumes when resubmitted)').helpGroup(group))
    .addOption(new Option('--cpus-per-task <n>', 'cores per task').argParser(int).helpGroup(group))
    .addOption(new Option('--mem <size>', 'memory per node, e.g. 8G').helpGroup(group))
    .addOption(new Option('--gres <spec>', 'generic resources, e.g. gpu:1').helpGroup(group))
    .addOption(new Option('--sbatch-arg <option>', 'one more sbatch option, e.g. --sbatch-arg=--account=rl (repeatable)').argParser((v: string, prev: string[] = []) => [...prev, v]).helpGroup(group))
    .addOption(new Option('--print-only', `write ${scriptFile} without submitting it`).helpGroup(group));
}

/** The Slurm options given; throws when one is given without --launcher slurm. */
export function slurmOptionsOf(opts: Record<string, unknown>, extra: string[] = []): SlurmOptions {
  const given = ['partition', 'time', 'cpusPerTask', 'mem', 'gres', 'sbatchArg', 'printOnly', ...extra].filter((k) => opts[k] !== undefined);
  if (opts.launcher !== 'slurm' && given.length) throw new Error(`${given.map((k) => `--${kebab(k)}`).join(', ')}: only with --launcher slurm`);
  return { partition: opts.partition, time: opts.time, cpusPerTask: opts.cpusPerTask, mem: opts.mem, gres: opts.gres, maxConcurrent: opts.maxConcurrent, sbatchArgs: opts.sbatchArg } as SlurmOptions;
}

export function addSearchCommand(program: Command): void {
  addConfigOptions(
    addSlurmOptions(program
      .command('search')
      .description(
        'paired random search (IMPALA D.1): N sampled (entropy cost, learning rate, RMSProp eps) configurations, each trained for every agent on every ' +
          'level with the same seed, each run in its own process; a restarted search skips finished runs and resumes the others. Train settings below are shared by every run',
      )
      .option('--levels <specs>', 'comma-separated environments, e.g. builtin:rooms_watermaze,builtin:seekavoid_arena_01', list)
      .option('--agents <list>', 'comma-separated agents (default baseline,cpc)', list)
      .option('--trials <n>', 'N, sampled configurations (default 24, as in the paper)', int)
      .option('--seed <n>', 'seeds the list of configurations (default 1)', int)
      .option('--parallel <n>', 'runs at once, each in its own process (default 1; each run uses about one core)', int)
      .option('--out <dir>', 'study folder')
      .option('--resume <dir>', 'continue the study in <dir> with its stored settings (--parallel may change)')
      .option('--no-report', 'skip the report (figures, tables, HTML) written to <out>/report at the end')
      .option('--status <dir>', "each run's state in the study <dir> (and its Slurm array task's, from squeue)")
      .addOption(new Option('--launcher <launcher>', 'where runs train: here (--parallel at a time), or on a Slurm cluster as one sbatch array job').choices(['local', 'slurm']).default('local').helpGroup('Slurm options:'))
      .addOption(new Option('--max-concurrent <n>', 'runs at once (sbatch --array=...%n)').argParser(int).helpGroup('Slurm options:'))
      .addOption(new Option('--array-task <dir>', 'train run $SLURM_ARRAY_TASK_ID of the study <dir> (what the sbatch script runs)').hideHelp()), '<out>/slurm/search.sbatch'),
    PER_RUN_KEYS,
  ).action(async (opts: Record<string, unknown>) => {
    if (typeof opts.status === 'string') {
      const { formatStatus, studyStatus } = await import('../experiments/slurm.js');
      console.log(formatStatus(studyStatus(opts.status)));
      return;
    }
    if (typeof opts.arrayTask === 'string') {
      const { runArrayTask } = await import('../experiments/slurm.js');
      const index = process.env.SLURM_ARRAY_TASK_ID;
      if (index === undefined) throw new Error('--array-task runs inside a Slurm array job: SLURM_ARRAY_TASK_ID is not set');
      const o = await runArrayTask(opts.arrayTask, Number(index));
      if (o.status === 'stopped') console.log(`stopped before its target frames, with a checkpoint; a requeued task resumes it, else resubmit: cpc-lab search --resume ${opts.arrayTask} --launcher slurm`);
      if (o.status === 'failed' || o.status === 'stopped') process.exitCode = 1;
      return;
    }
    const slurmOptions = slurmOptionsOf(opts, ['maxConcurrent']);
    if (opts.launcher === 'slurm' && opts.parallel !== undefined) throw new Error('--parallel is for the local launcher; on Slurm, --max-concurrent limits the runs at once');
    const { runSearch } = await import('../experiments/search.js');
    const parallel = opts.parallel as number | undefined;
    let input: unknown;
    if (typeof opts.resume === 'string') input = searchConfigOf(opts.resume, parallel);
    else {
      const train = configFromOptions(opts);
      for (const k of PER_RUN_KEYS) delete train[k]; // --seed is the search's own
      input = { levels: opts.levels, agents: opts.agents, trials: opts.trials, seed: opts.seed, parallel, out: opts.out, train };
    }
    const parsed = SearchConfigSchema.safeParse(input);
    if (!parsed.success) {
      console.error(`cpc-lab search: invalid settings:\n  ${parsed.error.issues.map((i) => `${i.path.join('.') || '(search)'}: ${i.message}`).join('\n  ')}`);
      process.exitCode = 2;
      return;
    }
    if (opts.launcher === 'slurm') {
      const { submitSearch } = await import('../experiments/slurm.js');
      const sub = submitSearch(parsed.data, slurmOptions, { printOnly: opts.printOnly === true });
      const out = parsed.data.out;
      if (sub.queued.size) {
        const jobs = [...new Set([...sub.queued.values()].map((q) => q.jobId))].join(', ');
        console.log(`search ${out}: ${sub.queued.size} unfinished runs are still queued or running in job ${jobs}; left out (resubmit once they have ended to continue any that stop unfinished)`);
      }
      if (!sub.indices.length) console.log(`search ${out}: ${sub.queued.size ? 'no other unfinished run' : `all ${sub.runs} runs finished`}; nothing to submit`);
      else if (!sub.jobId) console.log(`wrote ${sub.script} (${sub.indices.length} of ${sub.runs} runs); submit it with: sbatch ${sub.script}`);
      else console.log(`submitted job ${sub.jobId}: ${sub.indices.length} of ${sub.runs} runs as array tasks (${sub.script}); follow with: cpc-lab search --status ${out}`);
      return;
    }
    const s = await runSearch(parsed.data, { signal: stopOnCtrlC('the search') });
    console.log(
      `search ${parsed.data.out}: ${s.skipped.length + s.finished.length}/${s.runs.length} runs finished (${s.finished.length} now, ${s.resumed.length} resumed), ` +
        `${s.failed.length} failed, ${s.unfinished.length} unfinished, ${Math.round(s.seconds)} s`,
    );
    for (const f of s.failed) console.log(`  failed ${f.key}: ${f.error}`);
    if (s.failed.length || s.unfinished.length) {
      console.log(`continue with: cpc-lab search --resume ${parsed.data.out}`);
      process.exitCode = 1;
    }
    if (opts.report !== false && s.skipped.length + s.finished.length > 0) {
      const { writeReport } = await import('../plots/report.js');
      const r = await writeReport({ paths: [parsed.data.out], out: path.join(parsed.data.out, 'report') });
      console.log(`report: ${r.html} (${r.runs} runs)`);
    }
  });
}

export function addPlotCommand(program: Command): void {
  program
    .command('plot')
    .description("the CPC paper's figure 6 (return vs frames, baseline black, CPC red, mean of the best 3 with a band), CPC accuracy vs k, results tables and an HTML report")
    .argument('<folders...>', 'run folders, or folders holding runs (a study)')
    .option('--out <dir>', 'where figures, tables and index.html go (default <first folder>/report)')
    .option('--best <n>', 'runs averaged per level and agent (default 3)', int)
    .option('--last-episodes <n>', 'episodes averaged into a final return (default: each run\'s --return-window)', int)
    .action(async (folders: string[], opts: { out?: string; best?: number; lastEpisodes?: number }) => {
      const { writeReport } = await import('../plots/report.js');
      const r = await writeReport({ paths: folders, out: opts.out ?? path.join(folders[0]!, 'report'), best: opts.best, lastEpisodes: opts.lastEpisodes });
      console.log(`${r.runs} runs; wrote ${[...r.figures.flatMap((f) => [f.png, f.svg]), ...r.tables, r.html].join(', ')}`);
    });
}

export function addEvalCommand(program: Command): void {
  program
    .command('eval')
    .description("run a trained policy without learning and report its episode returns (scalable_agent's test mode); stores eval.json in the run folder")
    .requiredOption('--checkpoint <runDir>', 'run folder whose newest checkpoint is evaluated')
    .option('--env <spec>', "environment (default: the run's)")
    .option('--episodes <n>', 'episodes to play', int, 10)
    .option('--greedy', 'take the most probable action instead of sampling')
    .option('--seed <n>', 'seeds the environments and the action sampling', int, 0)
    .option('--parallel <n>', 'environments played at once (default min(episodes, 8))', int)
    .option('--video <file>', "write what the agent saw in the first episode as an animated GIF")
    .addOption(new Option('--backend <choice>', 'tensor backend').choices(BACKEND_CHOICES).default('auto'))
    .option('--no-save', 'do not store eval.json in the run folder')
    .action(async (opts: { checkpoint: string; env?: string; episodes: number; greedy?: boolean; seed: number; parallel?: number; video?: string; backend: (typeof BACKEND_CHOICES)[number]; save: boolean }) => {
      const { evaluate, formatEval } = await import('../eval.js');
      const r = await evaluate({ runDir: opts.checkpoint, ...opts });
      console.log(formatEval(r));
    });
}
