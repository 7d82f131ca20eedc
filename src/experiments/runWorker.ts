/**
 * One run of a search, in its own process (forked by `search.ts`), so a crash or an out-of-memory
 * of one run takes no other run down and every run has its own wasm heap. It receives one `job`
 * message, trains (or resumes), reports frames after every update and its summary at the end.
 * A stop file, SIGINT, SIGTERM or losing the parent stops it after the current update, with a
 * checkpoint.
 */
import fs from 'node:fs';
import type { ConfigInput } from '../config.js';
import { resumeRun, train, type TrainSummary } from '../train.js';

/** Parent -> worker. */
export interface RunJob {
  type: 'job';
  /** The run's key in its study (`<level>/<agent>-t<trial>`), its process title. */
  name: string;
  runDir: string;
  config: ConfigInput;
  /** Continue from the run's checkpoint (with `config.frames` as the target). */
  resume: boolean;
  /** The parent asks the run to stop by creating this file. */
  stopFile: string;
  /** The cores this run may use (the search's runs share the machine). */
  cores: number;
}

/** Worker -> parent. */
export type WorkerMessage = { type: 'update'; frames: number } | { type: 'done'; summary: TrainSummary };

const stop = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stop.abort());
process.on('disconnect', () => stop.abort());

// an orphan (the search was killed) sends nothing: a failed send must not kill it before its checkpoint
const send = (m: WorkerMessage) => process.connected && process.send?.(m, undefined, undefined, () => {});
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

const parent = process.ppid;

process.once('message', (job: RunJob) => {
  process.title = `cpc-lab run ${job.name}`; // what ps and top show
  const onUpdate = (u: { frames: number }) => {
    send({ type: 'update', frames: u.frames });
    // Training on in-process environments can keep the event loop from running signal and IPC
    // handlers until the run ends, so the stop request and the parent are also checked here, synchronously.
    if (fs.existsSync(job.stopFile) || process.ppid !== parent) stop.abort();
  };
  const hooks = { signal: stop.signal, onUpdate, cores: job.cores };
  const running = job.resume ? resumeRun(job.runDir, { frames: job.config.frames }, hooks) : train(job.config, hooks);
  running.then(
    (summary) => {
      send({ type: 'done', summary });
      process.disconnect?.();
    },
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exitCode = 1;
      process.disconnect?.();
    },
  );
});
