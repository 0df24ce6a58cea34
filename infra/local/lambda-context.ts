// The Lambda context the local runtime hands a handler, in an execution environment or in the one-process mode.
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Context } from 'aws-lambda';

/** The HTTP functions' timeout in infra/api-stack.ts (the sweeper has its own, SWEEPER_TIMEOUT_MS). */
export const FUNCTION_TIMEOUT_MS = 10_000;
/** The sweeper's timeout in infra/api-stack.ts. */
export const SWEEPER_TIMEOUT_MS = 60_000;
/** The stage's memory setting: what `memoryLimitInMB` says (and each environment's heap cap). */
export const MEMORY_MB = 1024;
export const ACCOUNT_ID = '000000000000';
const REGION = process.env.AWS_REGION ?? 'us-east-1';

/** Any entry's `handler`; an HTTP one may answer a structured result or any value API Gateway JSON-encodes. */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/**
 * A Lambda-like context; the remaining time uses a monotonic clock so tests that fake `Date` do not run it out.
 * `requestId` is the invocation's id when the runtime chose it already.
 */
export function lambdaContext(
  functionName: string,
  timeoutMs = FUNCTION_TIMEOUT_MS,
  requestId: string = randomUUID(),
): Context {
  const deadline = performance.now() + timeoutMs;
  const unsupported = () => {
    throw new Error('done/fail/succeed are not supported by async handlers');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: String(MEMORY_MB),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, Math.floor(deadline - performance.now())),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}
