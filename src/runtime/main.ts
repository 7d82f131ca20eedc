/**
 * Entry point of the processes the supervisor forks: `learner` or `actor`, with their settings in
 * the CPC_LAB_CHILD environment variable (JSON, validated). The supervisor reads their output.
 */
import { z } from 'zod';
import { ConfigSchema } from '../config.js';
import { readRunForResume } from '../train.js';
import { runActor } from './actorProcess.js';
import { onStopOrder, report, surviveLostOutput } from './ipc.js';
import { runLearner } from './learnerProcess.js';

export const childSpec = z.discriminatedUnion('role', [
  z.strictObject({ role: z.literal('learner'), config: ConfigSchema, resumeDir: z.string().optional() }),
  z.strictObject({ role: z.literal('actor'), config: ConfigSchema, learner: z.string(), actorId: z.string(), token: z.string(), seed: z.number().int().nonnegative() }),
]);
export type ChildSpec = z.input<typeof childSpec>;

async function main(): Promise<void> {
  const spec = childSpec.parse(JSON.parse(process.env.CPC_LAB_CHILD ?? 'null'));
  // what ps and top show: `cpc-lab learner`, `cpc-lab actor-0` (actor ids are <slot>.<incarnation>.<random>)
  process.title = `cpc-lab ${spec.role === 'learner' ? 'learner' : spec.actorId.split('.')[0]}`;
  const stop = new AbortController();
  surviveLostOutput();
  onStopOrder(() => stop.abort());
  // an orphan (the supervisor was killed) stops too: the learner still writes its checkpoint
  process.once('disconnect', () => stop.abort());
  // liveness for the supervisor: a process whose event loop is stuck stops reporting
  const alive = setInterval(() => report({ type: 'alive' }), 1000);
  if (spec.role === 'learner') {
    const resume = spec.resumeDir ? readRunForResume(spec.resumeDir).checkpoint : undefined;
    await runLearner(spec.config, { resume, signal: stop.signal, log: (l) => console.log(l) });
  } else {
    const { config, learner, actorId, token, seed } = spec;
    await runActor(config, { learner, actorId, token, seed, signal: stop.signal, log: (l) => console.log(l) });
  }
  clearInterval(alive);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    // the message says what to do; a stack trace only where it helps (CPC_LAB_DEBUG=1)
    console.error(`cpc-lab ${process.env.CPC_LAB_CHILD ? JSON.parse(process.env.CPC_LAB_CHILD).role : 'child'}: ${process.env.CPC_LAB_DEBUG && err instanceof Error ? err.stack : message}`);
    if ((err as { fatal?: boolean }).fatal) report({ type: 'fatal', error: message });
    // exit once the report is out (or there is no supervisor to read it)
    setImmediate(() => process.exit(1));
  },
);
