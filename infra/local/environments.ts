// The local runtime with Lambda's execution model: each function gets its own pool of execution environments (worker
// threads, each loading its function's own bundle), one invocation per environment at a time, a cap per function,
// cold starts, the function timeout, and what API Gateway answers when a function is throttled or times out.
// docs/design/lambda-model.md says how this maps to Lambda and what it does not model.
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Logger } from '@aws-lambda-powertools/logger';
import { z } from 'zod';
import { type RouteDefinition, routes, sweeper } from '../routes.ts';
import { bundleFunctions, type FunctionBundles } from './environment-bundles.ts';
import { clockOffsetOf } from './environment-clock.ts';
import type {
  EnvironmentData,
  EnvironmentMessage,
  InvokeMessage,
  SerializedError,
} from './environment-worker.ts';
import { FUNCTION_TIMEOUT_MS, type LambdaHandler, MEMORY_MB, SWEEPER_TIMEOUT_MS } from './lambda-context.ts';
import { startOneProcessRuntime } from './one-process.ts';

const log = new Logger({ serviceName: 'local-runtime' });

/** A function the runtime serves: a route of infra/routes.ts, the sweeper, or a test's own. */
export interface FunctionDefinition {
  readonly id: string;
  /** Entry file relative to the repository root; it exports `handler`. */
  readonly entry: string;
  /** `none`: the function never touches the table (its environment loads no DynamoDB client, as its bundle has none). */
  readonly access?: RouteDefinition['access'];
  /** The function's timeout (FUNCTION_TIMEOUT_MS unless given). */
  readonly timeoutMs?: number;
}

/** Every function of the stack: the routes (10 s) and the sweeper (60 s), as infra/api-stack.ts deploys them. */
export const stackFunctions: readonly FunctionDefinition[] = [
  ...routes,
  { ...sweeper, timeoutMs: SWEEPER_TIMEOUT_MS },
];

/** `lambda`: execution environments (the default). `one-process`: every handler in this process, for a debugger. */
export type RuntimeMode = 'lambda' | 'one-process';

/** Environments per function unless LOCAL_CONCURRENCY or a per-function setting says otherwise. */
export const DEFAULT_CAP = 8;
/** Functions whose default differs: create-hold takes the bursts (a flash sale is a burst of holds). */
export const DEFAULT_CAPS: Readonly<Record<string, number>> = { 'create-hold': 16 };
/** How long a request past its function's cap waits for a free environment before the throttle answer. */
export const DEFAULT_THROTTLE_WAIT_MS = 10_000;

export interface RuntimeOptions {
  functions?: readonly FunctionDefinition[];
  mode?: RuntimeMode;
  /** The environment variables every function gets (default: this process's, when the runtime starts). */
  env?: NodeJS.ProcessEnv;
  /** Per function id, variables over `env` (as the stack gives each function its own). */
  functionEnv?: Readonly<Record<string, NodeJS.ProcessEnv>>;
  /** Environments per function id (like reserved concurrency); others get `defaultCap`. */
  caps?: Readonly<Record<string, number>>;
  defaultCap?: number;
  throttleWaitMs?: number;
  /** Where the environments' stdout and stderr go (default this process's). */
  logs?: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };
  /** One-process mode only: how an entry becomes a handler (default: import it once). */
  load?: (entry: string) => Promise<LambdaHandler>;
  /** The functions' bundles, when started earlier (bundleFunctions); released when the runtime closes. */
  bundles?: FunctionBundles | Promise<FunctionBundles>;
}

/** What one invocation came to. */
export type Invocation =
  | { outcome: 'success'; requestId: string; result: unknown; coldStart: boolean; environment: string }
  | {
      outcome: 'error';
      requestId: string;
      /** `init`: the module failed to load (the environment is discarded); `invoke`: the handler threw or crashed. */
      phase: 'init' | 'invoke';
      error: SerializedError;
      coldStart: boolean;
      environment?: string;
    }
  /** Past the cap for `waitedMs` with no environment freed: what Lambda throttles. */
  | { outcome: 'throttled'; requestId: string; waitedMs: number }
  /** Ran past the function's timeout: the environment was killed. */
  | { outcome: 'timed-out'; requestId: string; timeoutMs: number; environment: string };

export interface FunctionStats {
  cap: number;
  /** Environments alive now (idle, busy or starting) and the most there ever were at once. */
  environments: number;
  peakEnvironments: number;
  busy: number;
  waiting: number;
  coldStarts: number;
  invocations: number;
  throttles: number;
  timeouts: number;
  errors: number;
}

export interface Runtime {
  readonly mode: RuntimeMode;
  invoke(functionId: string, event: unknown, options?: { requestId?: string }): Promise<Invocation>;
  /** Per function id. The one-process mode counts invocations and errors only. */
  stats(): Record<string, FunctionStats>;
  close(): Promise<void>;
}

const positive = z.coerce.number().int().min(1);

/** LOCAL_RUNTIME, LOCAL_CONCURRENCY, LOCAL_CONCURRENCY_<FUNCTION> (e.g. _CREATE_HOLD), LOCAL_THROTTLE_WAIT_MS. */
export function runtimeSettingsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  functions: readonly FunctionDefinition[] = stackFunctions,
): Required<Pick<RuntimeOptions, 'mode' | 'caps' | 'defaultCap' | 'throttleWaitMs'>> {
  const read = <T>(name: string, schema: z.ZodType<T>, fallback: T): T => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const parsed = schema.safeParse(raw);
    if (!parsed.success)
      throw new Error(`Invalid configuration: ${name}=${raw}: ${z.prettifyError(parsed.error)}`);
    return parsed.data;
  };
  const defaultCap = read('LOCAL_CONCURRENCY', positive, DEFAULT_CAP);
  const caps: Record<string, number> = {};
  for (const { id } of functions) {
    const name = `LOCAL_CONCURRENCY_${id.toUpperCase().replaceAll('-', '_')}`;
    caps[id] = read(name, positive, env.LOCAL_CONCURRENCY ? defaultCap : (DEFAULT_CAPS[id] ?? defaultCap));
  }
  return {
    mode: read('LOCAL_RUNTIME', z.enum(['lambda', 'one-process']), 'lambda'),
    defaultCap,
    caps,
    throttleWaitMs: read('LOCAL_THROTTLE_WAIT_MS', z.coerce.number().int().min(0), DEFAULT_THROTTLE_WAIT_MS),
  };
}

export { bundleFunctions, type FunctionBundles } from './environment-bundles.ts';

/** Starts the runtime: in the Lambda mode, bundles every function first (esbuild, as the stack bundles them). */
export async function startRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const functions = options.functions ?? stackFunctions;
  if (options.mode === 'one-process') return startOneProcessRuntime(functions, options.load);
  if (options.load) throw new Error('`load` replaces handlers in this process: it needs mode one-process');
  const bundles = await (options.bundles ?? bundleFunctions(functions));
  // Released when this runtime closes, or its process exits first.
  process.once('exit', bundles.release);
  const missing = functions.filter((fn) => !bundles.files.has(fn.id)).map((fn) => fn.id);
  if (missing.length > 0)
    throw new Error(`No bundle for ${missing.join(', ')}: bundle every function served`);
  const env = { ...(options.env ?? process.env) };
  const pools = new Map(
    functions.map((fn) => [
      fn.id,
      new FunctionPool(fn, bundles.files.get(fn.id) ?? '', {
        env: { ...env, ...options.functionEnv?.[fn.id] },
        cap: options.caps?.[fn.id] ?? options.defaultCap ?? DEFAULT_CAPS[fn.id] ?? DEFAULT_CAP,
        throttleWaitMs: options.throttleWaitMs ?? DEFAULT_THROTTLE_WAIT_MS,
        logs: options.logs ?? { stdout: process.stdout, stderr: process.stderr },
      }),
    ]),
  );
  return {
    mode: 'lambda',
    invoke: (functionId, event, { requestId = randomUUID() } = {}) => {
      const pool = pools.get(functionId);
      if (!pool) throw new Error(`No function ${functionId} in this runtime`);
      return pool.invoke(event, requestId);
    },
    stats: () => Object.fromEntries([...pools].map(([id, pool]) => [id, pool.stats()])),
    close: async () => {
      await Promise.all([...pools.values()].map((pool) => pool.close()));
      bundles.release();
      process.off('exit', bundles.release);
    },
  };
}

interface PoolSettings {
  env: NodeJS.ProcessEnv;
  cap: number;
  throttleWaitMs: number;
  logs: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };
}

/** What an environment's current invocation is waiting for. */
interface Pending {
  requestId: string;
  settle: (message: EnvironmentMessage | { type: 'crash'; error: SerializedError }) => void;
}

/** One execution environment: a worker thread with its function's module instance. */
class Environment {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  invocations = 0;
  pending: Pending | undefined;
  dead = false;

  constructor(
    readonly name: string,
    bundle: string,
    fn: FunctionDefinition,
    settings: PoolSettings,
    onDeath: (environment: Environment) => void,
  ) {
    const data: EnvironmentData = {
      functionName: fn.id,
      startedAt: performance.timeOrigin + performance.now(),
    };
    this.worker = new Worker(pathToFileURL(bundle), {
      name,
      workerData: data,
      env: environmentVariables(fn, settings.env),
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: MEMORY_MB },
    });
    // Written through, not piped: a pipe per environment would pile listeners on the one stdout.
    const { stdout, stderr } = settings.logs;
    this.worker.stdout.on('data', (chunk: Buffer) => stdout.write(chunk));
    this.worker.stderr.on('data', (chunk: Buffer) => stderr.write(chunk));
    this.ready = new Promise<void>((resolveReady, rejectReady) => {
      const onMessage = (message: EnvironmentMessage) => {
        if (message.type === 'ready') {
          log.debug('environment_started', { function: fn.id, environment: name, init_ms: message.initMs });
          resolveReady();
          return;
        }
        const pending = this.pending;
        if (pending && 'requestId' in message && message.requestId === pending.requestId) {
          this.pending = undefined;
          pending.settle(message);
        }
      };
      this.worker.on('message', onMessage);
      this.worker.on('error', (error) => {
        const serialized = { name: error.name, message: error.message, stack: error.stack };
        rejectReady(serialized);
        this.pending?.settle({ type: 'crash', error: serialized });
        this.pending = undefined;
      });
      this.worker.on('exit', (code) => {
        this.dead = true;
        const error = { name: 'Runtime.ExitError', message: `The environment exited with code ${code}` };
        rejectReady(error);
        this.pending?.settle({ type: 'crash', error });
        this.pending = undefined;
        onDeath(this);
      });
    });
    // Awaited by whoever started it; an init failure is reported there, not as an unhandled rejection.
    this.ready.catch(() => {});
  }

  run(
    event: unknown,
    requestId: string,
    timeoutMs: number,
  ): Promise<EnvironmentMessage | { type: 'crash'; error: SerializedError } | { type: 'timeout' }> {
    this.invocations += 1;
    return new Promise((settle) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        settle({ type: 'timeout' });
        void this.kill();
      }, timeoutMs);
      this.pending = {
        requestId,
        settle: (message) => {
          clearTimeout(timer);
          settle(message);
        },
      };
      const message: InvokeMessage = {
        type: 'invoke',
        requestId,
        event,
        timeoutMs,
        clockOffsetMs: clockOffsetOf(),
      };
      this.worker.postMessage(message);
    });
  }

  async kill(): Promise<void> {
    this.dead = true;
    await this.worker.terminate();
  }
}

/** The function's env as the stack gives it (the local settings), plus what Lambda sets in every environment. */
function environmentVariables(fn: FunctionDefinition, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...env,
    AWS_LAMBDA_FUNCTION_NAME: fn.id,
    // Powertools marks `cold_start: true` on an environment's first invocation only when it says on-demand.
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(MEMORY_MB),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.id}`,
    AWS_REGION: env.AWS_REGION ?? 'us-east-1',
    // EMF lines off as everywhere off Lambda (shared/metrics.ts; it reads AWS_LAMBDA_FUNCTION_NAME to tell).
    POWERTOOLS_METRICS_DISABLED: env.POWERTOOLS_METRICS_DISABLED ?? 'true',
    // The SDK's Node 22+ notice, once per environment otherwise (start.ts says why it is noise here).
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** One function's environments: idle ones are reused, new ones start up to the cap, past it requests wait. */
class FunctionPool {
  readonly #idle: Environment[] = [];
  readonly #alive = new Set<Environment>();
  readonly #waiting: Array<(environment: Environment | undefined) => void> = [];
  #counter = 0;
  #closed = false;
  readonly #stats = {
    peakEnvironments: 0,
    coldStarts: 0,
    invocations: 0,
    throttles: 0,
    timeouts: 0,
    errors: 0,
  };

  constructor(
    readonly fn: FunctionDefinition,
    readonly bundle: string,
    readonly settings: PoolSettings,
  ) {}

  async invoke(event: unknown, requestId: string): Promise<Invocation> {
    if (this.#closed) throw new Error(`The runtime is closed: ${this.fn.id} takes no more invocations`);
    this.#stats.invocations += 1;
    const acquired = await this.#acquire();
    if ('throttled' in acquired) {
      this.#stats.throttles += 1;
      log.warn('function_throttled', {
        function: this.fn.id,
        cap: this.settings.cap,
        waited_ms: acquired.waitedMs,
        request_id: requestId,
      });
      return { outcome: 'throttled', requestId, waitedMs: acquired.waitedMs };
    }
    const { environment, cold } = acquired;
    if (cold) {
      this.#stats.coldStarts += 1;
      try {
        await environment.ready;
      } catch (error) {
        this.#stats.errors += 1;
        void environment.kill();
        return {
          outcome: 'error',
          requestId,
          phase: 'init',
          error: error as SerializedError,
          coldStart: true,
        };
      }
    }
    const timeoutMs = this.fn.timeoutMs ?? FUNCTION_TIMEOUT_MS;
    const answer = await environment.run(event, requestId, timeoutMs);
    const where = { coldStart: cold, environment: environment.name };
    switch (answer.type) {
      case 'result':
        this.#release(environment);
        return { outcome: 'success', requestId, result: answer.result, ...where };
      case 'error':
        this.#stats.errors += 1;
        this.#release(environment);
        return { outcome: 'error', requestId, phase: 'invoke', error: answer.error, ...where };
      case 'crash':
        this.#stats.errors += 1;
        return { outcome: 'error', requestId, phase: 'invoke', error: answer.error, ...where };
      case 'timeout':
        this.#stats.timeouts += 1;
        log.warn('function_timed_out', {
          function: this.fn.id,
          environment: environment.name,
          timeout_ms: timeoutMs,
          request_id: requestId,
        });
        return { outcome: 'timed-out', requestId, timeoutMs, environment: environment.name };
      default:
        throw new Error(`Unexpected answer from ${environment.name}: ${JSON.stringify(answer)}`);
    }
  }

  stats(): FunctionStats {
    const busy = [...this.#alive].filter((environment) => !this.#idle.includes(environment)).length;
    return {
      cap: this.settings.cap,
      environments: this.#alive.size,
      busy,
      waiting: this.#waiting.length,
      ...this.#stats,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) waiter(undefined);
    await Promise.all([...this.#alive].map((environment) => environment.kill()));
  }

  /** An idle environment, else a new one (a cold start) under the cap, else the first one freed within the wait. */
  #acquire(): Promise<{ environment: Environment; cold: boolean } | { throttled: true; waitedMs: number }> {
    const warm = this.#idle.pop();
    if (warm) return Promise.resolve({ environment: warm, cold: false });
    if (this.#alive.size < this.settings.cap)
      return Promise.resolve({ environment: this.#start(), cold: true });
    const started = performance.now();
    return new Promise((resolveAcquired) => {
      const waiter = (environment: Environment | undefined) => {
        clearTimeout(timer);
        if (environment) resolveAcquired({ environment, cold: environment.invocations === 0 });
        else resolveAcquired({ throttled: true, waitedMs: Math.round(performance.now() - started) });
      };
      const timer = setTimeout(() => {
        const at = this.#waiting.indexOf(waiter);
        if (at !== -1) this.#waiting.splice(at, 1);
        waiter(undefined);
      }, this.settings.throttleWaitMs);
      this.#waiting.push(waiter);
    });
  }

  #start(): Environment {
    this.#counter += 1;
    const environment = new Environment(
      `${this.fn.id}#${this.#counter}`,
      this.bundle,
      this.fn,
      this.settings,
      (dead) => this.#forget(dead),
    );
    this.#alive.add(environment);
    this.#stats.peakEnvironments = Math.max(this.#stats.peakEnvironments, this.#alive.size);
    return environment;
  }

  /** Back to the pool: straight to the longest waiting request, else idle. */
  #release(environment: Environment): void {
    if (environment.dead) return;
    const waiter = this.#waiting.shift();
    if (waiter) waiter(environment);
    else this.#idle.push(environment);
  }

  /** A dead environment (killed after a timeout, crashed, failed init) frees its place: a waiter gets a new one. */
  #forget(environment: Environment): void {
    this.#alive.delete(environment);
    const at = this.#idle.indexOf(environment);
    if (at !== -1) this.#idle.splice(at, 1);
    if (this.#closed) return;
    const waiter = this.#waiting.shift();
    if (waiter) waiter(this.#start());
  }
}
