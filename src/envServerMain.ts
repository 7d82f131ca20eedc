/**
 * One environment in its own process, served over the env protocol:
 *
 *   tsx src/envServerMain.ts --env builtin:rooms_watermaze [--endpoint tcp://127.0.0.1:*] [--episode-length N]
 *
 * Prints the start-up handshake of `transport/envProcess.ts` (`CPC_LAB_READY {...}` with the bound
 * endpoint, or `CPC_LAB_ERROR {...}` and exit status 2), then serves until `env.close`, SIGINT or
 * SIGTERM (with `--exit-on-stdin-close`: until the parent closes stdin or sends SIGTERM; Ctrl-C is
 * the parent's to handle).
 */
import { Command, InvalidArgumentError } from 'commander';
import { makeEnv } from '../envs/index.js';
import { serveEnv } from './transport/envServer.js';
import { ERROR_MARKER, EXIT_ON_STDIN_CLOSE, READY_MARKER, type ReadyLine } from './transport/envProcess.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

async function main(): Promise<void> {
  const opts = new Command('cpc-lab-env-server')
    .description('serve one environment over the cpc-lab env protocol')
    .requiredOption('--env <spec>', 'mock:<name>, builtin:<level> or dmlab:<level>')
    .option('--endpoint <endpoint>', 'ZeroMQ endpoint to bind (loopback TCP or ipc://)', 'tcp://127.0.0.1:*')
    .option('--episode-length <steps>', 'shorter episodes, in agent steps', positiveInt)
    .option(EXIT_ON_STDIN_CLOSE, 'exit when the parent closes our stdin')
    .parse()
    .opts<{ env: string; endpoint: string; episodeLength?: number; exitOnStdinClose?: boolean }>();
  process.title = `cpc-lab env ${opts.env}`; // what ps and top show

  let server;
  try {
    const env = await makeEnv(opts.env, { episodeLength: opts.episodeLength });
    server = await serveEnv(env, opts.endpoint);
  } catch (e) {
    process.stdout.write(`\n${ERROR_MARKER}${JSON.stringify({ code: 'env_init_failed', message: (e as Error).message })}\n`);
    process.exit(2);
  }
  const ready: ReadyLine = { endpoint: server.endpoint, pid: process.pid, spec: server.spec };
  process.stdout.write(`\n${READY_MARKER}${JSON.stringify(ready)}\n`);

  const stop = (): void => void server.close();
  process.once('SIGTERM', stop);
  if (opts.exitOnStdinClose) {
    // Ctrl-C reaches the whole process group: the parent that owns this server decides when it ends
    process.on('SIGINT', () => {});
    process.stdin.on('end', stop).resume();
  } else {
    process.once('SIGINT', stop);
  }
  await server.done;
  process.exit(0);
}

void main();
