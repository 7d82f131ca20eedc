import { z } from 'zod';

/**
 * Messages between the supervisor (`cpc-lab train`) and the processes it forks, over Node's IPC
 * channel: children report readiness, liveness, and their end; the supervisor asks
 * them to stop. Validated on receipt like every wire message.
 */
export const childReport = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ready'), endpoint: z.string().optional() }),
  /** `busyMs`: an actor's environments' busy time so far (`VectorEnv.busyMs`, map compiles), summed. */
  z.strictObject({ type: z.literal('alive'), busyMs: z.number().nonnegative().optional() }),
  /** The learner finished an update (the supervisor notices a run where everyone is alive but nothing trains). */
  z.strictObject({ type: z.literal('updated'), updates: z.number().int().nonnegative() }),
  z.strictObject({
    type: z.literal('finished'),
    frames: z.number(),
    updates: z.number(),
    episodes: z.number(),
    meanReturn: z.number().nullable(),
    checkpoint: z.string(),
    cpcAccuracy: z.array(z.number().nullable()).optional(),
  }),
  // the run cannot go on (training diverged): the supervisor stops it instead of restarting the child
  z.strictObject({ type: z.literal('fatal'), error: z.string() }),
]);
export type ChildReport = z.infer<typeof childReport>;

export const supervisorOrder = z.discriminatedUnion('type', [z.strictObject({ type: z.literal('stop') })]);
export type SupervisorOrder = z.infer<typeof supervisorOrder>;

/**
 * Sends a report to the supervisor, when this process has one (children print their logs
 * themselves). An orphan (its supervisor was killed) sends nothing: a failed send is dropped, never
 * an `error` event that would kill the process before its final checkpoint.
 */
export function report(r: ChildReport): void {
  if (process.connected) process.send?.(r, undefined, undefined, () => {});
}

/**
 * Makes writes to a closed stdout/stderr (the supervisor that read them is gone) harmless, so an
 * orphan still finishes its work (the learner's final checkpoint) instead of dying on EPIPE.
 */
export function surviveLostOutput(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
}

/** Calls `onStop` when the supervisor orders a stop or the process gets SIGINT/SIGTERM. */
export function onStopOrder(onStop: () => void): void {
  process.on('message', (m: unknown) => {
    const order = supervisorOrder.safeParse(m);
    if (order.success) onStop();
  });
  process.once('SIGINT', onStop);
  process.once('SIGTERM', onStop);
}
