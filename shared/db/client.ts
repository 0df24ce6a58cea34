// The process's one DynamoDB client (plus its document wrapper); every module uses these. Every attempt it makes
// fits the invocation's time budget (shared/deadline.ts): DynamoDB out of time is ServiceBusy, never a Lambda timeout.
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { config } from '../config.ts';
import { BudgetSpent, budgetFits, budgetLeft, MIN_ATTEMPT_MS } from '../deadline.ts';
import { tracer } from '../tracer.ts';
import type { Key } from './keys.ts';

/** Attempts per call (the first and two retries), as the SDK's standard mode. */
const MAX_ATTEMPTS = 3;

/**
 * Sends each attempt with at most the budget's remaining time: none when less than MIN_ATTEMPT_MS is left
 * (BudgetSpent, unsent), and one still in flight when the budget ends is cut off (BudgetSpent, sent). Within the
 * budget the configured timeouts apply, and their TimeoutError is retried by the SDK like any transient error.
 */
class BudgetedHttpHandler extends NodeHttpHandler {
  override async handle(...[request, options = {}]: Parameters<NodeHttpHandler['handle']>) {
    const left = budgetLeft();
    if (left === Number.POSITIVE_INFINITY) return super.handle(request, options);
    if (left < MIN_ATTEMPT_MS) throw new BudgetSpent(false);
    const cutOff = AbortSignal.timeout(Math.ceil(left));
    const given = options.abortSignal;
    const abortSignal = given instanceof AbortSignal ? AbortSignal.any([given, cutOff]) : cutOff;
    try {
      return await super.handle(request, { ...options, abortSignal });
    } catch (error) {
      if (cutOff.aborted) throw new BudgetSpent(true, { cause: error });
      throw error;
    }
  }
}

type RetryStrategy = Extract<
  NonNullable<DynamoDBClientConfig['retryStrategy']>,
  { refreshRetryTokenForRetry: unknown }
>;
type RetryToken = Awaited<ReturnType<RetryStrategy['acquireInitialRetryToken']>>;

const retryToken = (count: number, delay: number): RetryToken => ({
  getRetryCount: () => count,
  getRetryDelay: () => delay,
});

/**
 * The SDK's standard rules (throttling and transient errors such as timeouts and dropped connections, at most
 * MAX_ATTEMPTS attempts, full-jitter exponential backoff from 100 ms, 500 ms for throttling) with one more: a retry
 * starts only if its backoff and a minimal attempt still fit the invocation's budget. Otherwise the caller gets the
 * last attempt's own error. (The middleware sleeps the token's delay.)
 */
const budgetedRetries: RetryStrategy = {
  acquireInitialRetryToken: async () => retryToken(0, 0),
  refreshRetryTokenForRetry: async (token, { error, errorType }) => {
    const retry = token.getRetryCount() + 1;
    const base = errorType === 'THROTTLING' ? 500 : 100;
    const delay = Math.floor(Math.random() * Math.min(20_000, base * 2 ** (retry - 1)));
    const retryable = errorType === 'THROTTLING' || errorType === 'TRANSIENT';
    if (!retryable || error instanceof BudgetSpent || retry >= MAX_ATTEMPTS || !budgetFits(delay)) {
      throw new Error('No retry: not retryable, out of attempts or out of time');
    }
    return retryToken(retry, delay);
  },
  recordSuccess: () => {},
};

export const dynamo = new DynamoDBClient({
  // Throttling, DynamoDB's internal errors and connection failures are retried here, within the budget; transaction conflicts by the domain.
  maxAttempts: MAX_ATTEMPTS,
  retryStrategy: budgetedRetries,
  // Fail a stuck attempt fast enough to be retried within the Lambda timeout (10 s; see config): the request timeout
  // covers the whole attempt and throws (without throwOnRequestTimeout the SDK only logs a warning), the socket
  // timeout a stall while the answer streams in. Sockets stay at the SDK's 50: a Lambda uses one at a time. In the
  // one-process local runtime requests queue for them, and that wait counts against connectionTimeout, so
  // `npm start` and the tests raise it.
  requestHandler: new BudgetedHttpHandler({
    connectionTimeout: config.DYNAMODB_CONNECT_TIMEOUT_MS,
    requestTimeout: config.DYNAMODB_REQUEST_TIMEOUT_MS,
    throwOnRequestTimeout: true,
    socketTimeout: config.DYNAMODB_REQUEST_TIMEOUT_MS,
  }),
  ...(config.DYNAMODB_ENDPOINT
    ? {
        endpoint: config.DYNAMODB_ENDPOINT,
        region: process.env.AWS_REGION ?? 'us-east-1',
        // DynamoDB Local accepts any credentials; never fall through to a real profile when offline.
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      }
    : {}),
});
// In Lambda, an X-Ray subsegment per call (it adds a middleware to this client, which `db` below shares).
tracer.captureAWSv3Client(dynamo);

export const db = DynamoDBDocumentClient.from(dynamo, {
  marshallOptions: { removeUndefinedValues: true },
});

export const tableName = config.TABLE_NAME;

/** A strongly consistent read of one item by key. */
export async function getItem<T>(key: Key): Promise<T | undefined> {
  const { Item } = await db.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
  return Item as T | undefined;
}
