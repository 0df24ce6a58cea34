// The bench's command line, its constants, and the environment the app modules must see before they load.
import { parseArgs } from 'node:util';
import { CLOUD_SCALED, type ContentionParams, parseContentionSpec } from '../../infra/local/contention.ts';

/** `lambda`: the handlers and the raw floors in execution environments; `one-process`: all in this process. */
export type Model = 'lambda' | 'one-process';

export interface Options {
  runs: number;
  seconds: number;
  /** Execution environments of create-hold (and of the raw floor) in the contended windows of the Lambda model. */
  environments: number;
  /** Concurrent buyers of the one-process windows. */
  concurrency: number;
  expired: number;
  /** Measured in this order; the uncontended comparisons use the first. */
  models: Model[];
}

/** Workers for the uncontended handler-vs-raw comparisons (a Lambda fleet's worth of in-flight calls, not a mob). */
export const CALM_WORKERS = 16;
/** Operations per side of each uncontended comparison (holds; GETs are cheaper, so twice as many). */
export const CALM_HOLD_OPS = 1_200;
export const CALM_GET_OPS = 2_400;
/** Large enough that no window sells out: 1,000,000 units gets the default (maximum) bucket count. */
export const BIG_STOCK = 1_000_000;

const USAGE = `Usage: npm run bench -- [--runs N] [--seconds S] [--environments E] [--concurrency C] [--expired N]
                           [--model lambda|one-process|both]

  --runs N          repeat every measurement N times, interleaved; report medians (default 3)
  --seconds S       length of each contention window (default 8)
  --environments E  Lambda model: create-hold environments, one buyer each, in the contention windows (default 32)
  --concurrency C   one-process model: concurrent buyers in the contention windows (default: E)
  --expired N       expired holds the sweep releases (default 2000)
  --model M         lambda (execution environments), one-process (every handler in this process), or both
                    (default); the uncontended comparisons use the Lambda model unless only one-process
  --help            this text

Env: CONTENTION_MODE overrides the contention parameters (default 'scaled': 100 ms occupancy,
250 write / 750 read units/s per partition); DYNAMODB_ENDPOINT uses a running DynamoDB Local.
Uncontended comparisons use ${CALM_WORKERS} workers, ${CALM_HOLD_OPS} holds and ${CALM_GET_OPS} GETs per side.`;

function usageError(message: string): never {
  // parseArgs explains how to pass a positional after '--': one line is enough here.
  console.error(`bench: ${message.split('. ')[0]} (try --help)`);
  process.exit(2);
}

function positiveInt(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) usageError(`--${name} must be a positive integer, got '${raw}'`);
  return value;
}

export function parseCli(args: string[]): Options {
  const spec = {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    environments: { type: 'string', default: '32' },
    concurrency: { type: 'string' },
    expired: { type: 'string', default: '2000' },
    model: { type: 'string', default: 'both' },
    help: { type: 'boolean', default: false },
  } as const;
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof spec }>>['values'];
  try {
    ({ values } = parseArgs({ args, options: spec, strict: true, allowPositionals: false }));
  } catch (error) {
    usageError((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const environments = positiveInt('environments', values.environments);
  const models: Record<string, Model[]> = {
    both: ['lambda', 'one-process'],
    lambda: ['lambda'],
    'one-process': ['one-process'],
  };
  const chosen = models[values.model];
  if (!chosen) usageError(`--model must be lambda, one-process or both, got '${values.model}'`);
  return {
    runs: positiveInt('runs', values.runs),
    seconds: positiveInt('seconds', values.seconds),
    environments,
    concurrency:
      values.concurrency === undefined ? environments : positiveInt('concurrency', values.concurrency),
    expired: positiveInt('expired', values.expired),
    models: chosen,
  };
}

/** CONTENTION_MODE if it names a mode; the scaled cloud otherwise (section 1 means nothing without a mode). */
export function contentionParams(): { params: ContentionParams; note?: string } {
  let parsed: ContentionParams | undefined;
  try {
    parsed = parseContentionSpec(process.env.CONTENTION_MODE);
  } catch (error) {
    usageError((error as Error).message);
  }
  if (parsed) return { params: parsed };
  const note = process.env.CONTENTION_MODE
    ? `CONTENTION_MODE=${process.env.CONTENTION_MODE} turns the mode off; section 1 uses CLOUD_SCALED anyway`
    : undefined;
  return { params: CLOUD_SCALED, note };
}

/** Must run before any app module is imported: shared/config.ts reads the environment at import. */
export function prepareEnvironment(): void {
  const env = process.env;
  // The SDK's documented switch for its "node >= 22 soon" notice (@aws-sdk/core emitWarningIfUnsupportedVersion);
  // every other warning still prints.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  // The one-process model drives every buyer through one SDK socket pool on 2 cores: a slow answer is load, not a
  // fault. (Execution environments get the cloud's timeouts instead: environments.ts.)
  env.DYNAMODB_CONNECT_TIMEOUT_MS ??= '30000';
  env.DYNAMODB_REQUEST_TIMEOUT_MS ??= '30000';
  env.AWS_REGION ??= 'us-east-1';
  // Identity on (for `max_per_customer`); the bench calls handlers as API Gateway's authorizer would, with a `sub`.
  env.JWT_ISSUER ??= 'https://issuer.bench.invalid/';
}
