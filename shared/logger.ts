// The process's one Powertools logger: JSON lines, one per business event.
//
// Every invocation logs through its own child of that logger (`withInvocationLogger`), found through
// AsyncLocalStorage, so each line carries the function name and request id of the invocation that wrote it even
// when one process runs concurrent invocations of several functions (the local runtime: `npm start`, the tests).
// On Lambda (one invocation at a time per process) the lines are the same as with one shared logger.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions } from '@aws-lambda-powertools/logger/types';
import type { Context } from 'aws-lambda';

/** An invocation's logger: `cold_start` is the process's, decided once for the invocation. */
class InvocationLogger extends Logger {
  #coldStart: boolean | undefined;

  constructor(
    options: ConstructorOptions,
    private readonly processLogger: ProcessLogger,
  ) {
    super(options);
  }

  protected override getColdStart(): boolean {
    this.#coldStart ??= this.processLogger.takeColdStart();
    return this.#coldStart;
  }
}

class ProcessLogger extends Logger {
  /** True for the process's first invocation only (on-demand Lambda), whichever logger asks. */
  takeColdStart(): boolean {
    return this.getColdStart();
  }

  protected override createLogger(options: ConstructorOptions = {}): Logger {
    return new InvocationLogger(options, this);
  }
}

const processLogger = new ProcessLogger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'flash-sale-checkout',
});

const invocations = new AsyncLocalStorage<Logger>();

/** The current invocation's logger, or the process's outside any invocation. */
const current = (): Logger => invocations.getStore() ?? processLogger;

/**
 * The logger the app imports: every call goes to the current invocation's logger (see `withInvocationLogger`),
 * including the calls `injectLambdaContext(logger)` makes (context, key reset), or to the process's logger
 * outside an invocation.
 */
export const logger: Logger = new Proxy(processLogger, {
  get(_target, key) {
    const target = current();
    const value: unknown = Reflect.get(target, key, target);
    return typeof value === 'function' ? value.bind(target) : value;
  },
  set(_target, key, value) {
    return Reflect.set(current(), key, value);
  },
});

/** Runs `run` with its own child logger carrying `context` (function name, request id, cold start). */
export function runInInvocation<T>(context: Context, run: () => T): T {
  const child = processLogger.createChild();
  child.addContext(context);
  return invocations.run(child, run);
}

/** Wraps a Lambda handler so each invocation logs through its own child logger (see `runInInvocation`). */
export function withInvocationLogger<E, R>(
  handler: (event: E, context: Context) => Promise<R>,
): (event: E, context: Context) => Promise<R> {
  return (event, context) => runInInvocation(context, () => handler(event, context));
}
