// The local stand-in for the EventBridge schedule: runs the sweeper every N seconds, one run at a time.
import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { ScheduledEvent } from 'aws-lambda';
import { sweeper } from '../routes.ts';
import type { Runtime } from './environments.ts';
import { SWEEPER_TIMEOUT_MS } from './lambda-context.ts';
import { invokeInProcess, loadHandler } from './one-process.ts';

const log = new Logger({ serviceName: 'local-sweeper' });

/** The event EventBridge's schedule sends. */
function scheduledEvent(): ScheduledEvent {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  return {
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
}

/**
 * Invokes the sweeper once with a scheduled event, as EventBridge would: through `runtime` (an environment of the
 * sweeper), or without one in this process. Resolves to the handler's result; rejects when the run fails.
 */
export async function runSweepOnce(runtime?: Runtime): Promise<unknown> {
  if (!runtime)
    return invokeInProcess(
      sweeper.id,
      await loadHandler(sweeper.entry),
      scheduledEvent(),
      SWEEPER_TIMEOUT_MS,
    );
  const invocation = await runtime.invoke(sweeper.id, scheduledEvent());
  switch (invocation.outcome) {
    case 'success':
      return invocation.result;
    case 'error':
      throw Object.assign(new Error(invocation.error.message), { name: invocation.error.name });
    case 'throttled':
      throw new Error(`The sweeper was throttled (waited ${invocation.waitedMs} ms)`);
    case 'timed-out':
      throw new Error(`The sweeper timed out after ${invocation.timeoutMs} ms`);
  }
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
