// Inside one execution environment (a worker thread): serves the invocations the runtime sends, one at a time.
// Bundled with its function (infra/local/environments.ts), so the handler, its DynamoDB client, its caches and its
// logger are this environment's own module instances.
import { parentPort, workerData } from 'node:worker_threads';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { setClockOffset } from './environment-clock.ts';
import { installFaultInjection, parseFaultSpec, setFaultPlan } from './faults.ts';
import { type LambdaHandler, lambdaContext } from './lambda-context.ts';

/** What the runtime sends an environment. */
export interface InvokeMessage {
  type: 'invoke';
  requestId: string;
  event: unknown;
  timeoutMs: number;
  clockOffsetMs: number;
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

/** What an environment answers: ready once its module is loaded (the init phase), then one answer per invocation. */
export type EnvironmentMessage =
  | { type: 'ready'; initMs: number }
  | { type: 'result'; requestId: string; result: unknown }
  | { type: 'error'; requestId: string; error: SerializedError };

export interface EnvironmentData {
  functionName: string;
  /** When the worker was created (performance.timeOrigin + now() of the runtime): init time includes the thread's. */
  startedAt: number;
}

const serialize = (error: unknown): SerializedError =>
  error instanceof Error
    ? { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) }
    : { name: 'Error', message: String(error) };

/**
 * Called by the bundle's entry once the handler module has loaded: arms fault injection (FAULT_INJECTION, with
 * FAULT_SEED) on this environment's own client, says ready, then serves invocations.
 */
export function serveInvocations(handler: LambdaHandler, dynamo: DynamoDBClient | undefined): void {
  const port = parentPort;
  if (!port) throw new Error('environment-worker runs inside a worker thread of the local runtime');
  const { functionName, startedAt } = workerData as EnvironmentData;
  const faults = process.env.FAULT_INJECTION;
  if (dynamo && faults) {
    installFaultInjection(dynamo);
    const seed = process.env.FAULT_SEED ? Number(process.env.FAULT_SEED) : undefined;
    setFaultPlan(parseFaultSpec(faults, seed));
  }
  port.on('message', (message: InvokeMessage) => {
    setClockOffset(message.clockOffsetMs);
    const context = lambdaContext(functionName, message.timeoutMs, message.requestId);
    handler(message.event, context).then(
      (result) => port.postMessage({ type: 'result', requestId: message.requestId, result }),
      (error: unknown) =>
        port.postMessage({ type: 'error', requestId: message.requestId, error: serialize(error) }),
    );
  });
  const initMs = Math.round(performance.timeOrigin + performance.now() - startedAt);
  port.postMessage({ type: 'ready', initMs } satisfies EnvironmentMessage);
}
