// The local stand-in for the EventBridge schedule: runs the sweeper entry every N seconds, one run at a time.
import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { ScheduledEvent } from 'aws-lambda';
import { sweeper } from '../routes.ts';
import { invoke, loadHandler } from './gateway.ts';

const log = new Logger({ serviceName: 'local-sweeper' });

/** Invokes the sweeper entry once with a scheduled event, as EventBridge would; resolves to the handler's result. */
export async function runSweepOnce(): Promise<unknown> {
  const handler = await loadHandler(sweeper.entry);
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const event: ScheduledEvent = {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:events:${region}:000000000000:rule/local-${sweeper.id}`],
    detail: {},
  };
  return invoke(sweeper.id, handler, event);
}

/**
 * Runs `run` every `intervalSeconds` (0 = never). The next run is scheduled only after the previous one settles,
 * so runs never overlap. The returned stop function cancels the timer and waits for a run in progress.
 */
export function startSweeper(
  intervalSeconds: number,
  run: () => Promise<unknown> = runSweepOnce,
): () => Promise<void> {
  if (intervalSeconds <= 0) return async () => {};
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const tick = () => {
    running = run()
      .then(
        (report) => log.debug('sweep_run', { report }),
        (error: unknown) => log.error('sweep_run_failed', { error }),
      )
      .finally(() => {
        if (!stopped) schedule();
      });
  };
  const schedule = () => {
    timer = setTimeout(tick, intervalSeconds * 1000);
    // The timer alone must not keep the process alive.
    timer.unref();
  };

  schedule();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}
