// The one-process mode (LOCAL_RUNTIME=one-process): every handler imported into this process and called directly,
// for attaching a debugger to one process. Not faithful to Lambda: concurrent invocations share module instances
// (one DynamoDB client and its sockets, one stock view, one logger), there is no cap and no timeout is enforced.

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import type { FunctionDefinition, FunctionStats, Invocation, Runtime } from './environments.ts';
import { FUNCTION_TIMEOUT_MS, type LambdaHandler, lambdaContext } from './lambda-context.ts';

const log = new Logger({ serviceName: 'local-runtime' });
const modules = new Map<string, Promise<LambdaHandler>>();

/** Imports an entry (path relative to the repository root) once; a failed import is retried on the next call. */
export function loadHandler(entry: string): Promise<LambdaHandler> {
  let loaded = modules.get(entry);
  if (!loaded) {
    loaded = import(new URL(`../../${entry}`, import.meta.url).href).then((module: { handler?: unknown }) => {
      if (typeof module.handler !== 'function')
        throw new Error(`${entry} does not export a handler function`);
      return module.handler as LambdaHandler;
    });
    loaded.catch(() => modules.delete(entry));
    modules.set(entry, loaded);
  }
  return loaded;
}

/** Runs a handler in this process, warning (not failing) on overrun: one process shares what Lambdas would not. */
export async function invokeInProcess(
  functionName: string,
  handler: LambdaHandler,
  event: unknown,
  timeoutMs = FUNCTION_TIMEOUT_MS,
  requestId: string = randomUUID(),
): Promise<unknown> {
  const context = lambdaContext(functionName, timeoutMs, requestId);
  const started = performance.now();
  const result = await handler(event, context);
  const elapsed = Math.round(performance.now() - started);
  if (elapsed > timeoutMs) {
    log.warn('function_exceeded_timeout', {
      function_name: functionName,
      elapsed_ms: elapsed,
      timeout_ms: timeoutMs,
    });
  }
  return result;
}

const serialize = (error: unknown) =>
  error instanceof Error
    ? { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) }
    : { name: 'Error', message: String(error) };

/** The Runtime interface over handlers in this process (`load` may inject them, as tests do). */
export function startOneProcessRuntime(
  functions: readonly FunctionDefinition[],
  load: (entry: string) => Promise<LambdaHandler> = loadHandler,
): Runtime {
  const byId = new Map(functions.map((fn) => [fn.id, fn]));
  const counts = new Map(functions.map((fn) => [fn.id, { invocations: 0, errors: 0 }]));
  return {
    mode: 'one-process',
    invoke: async (functionId, event, { requestId = randomUUID() } = {}): Promise<Invocation> => {
      const fn = byId.get(functionId);
      const count = counts.get(functionId);
      if (!fn || !count) throw new Error(`No function ${functionId} in this runtime`);
      count.invocations += 1;
      let handler: LambdaHandler;
      try {
        handler = await load(fn.entry);
      } catch (error) {
        count.errors += 1;
        return { outcome: 'error', requestId, phase: 'init', error: serialize(error), coldStart: true };
      }
      try {
        const result = await invokeInProcess(functionId, handler, event, fn.timeoutMs, requestId);
        return { outcome: 'success', requestId, result, coldStart: false, environment: 'this process' };
      } catch (error) {
        count.errors += 1;
        return { outcome: 'error', requestId, phase: 'invoke', error: serialize(error), coldStart: false };
      }
    },
    stats: () =>
      Object.fromEntries(
        [...counts].map(([id, { invocations, errors }]): [string, FunctionStats] => [
          id,
          {
            cap: Number.POSITIVE_INFINITY,
            environments: 1,
            peakEnvironments: 1,
            busy: 0,
            waiting: 0,
            coldStarts: 0,
            invocations,
            throttles: 0,
            timeouts: 0,
            errors,
          },
        ]),
      ),
    close: async () => {},
  };
}
