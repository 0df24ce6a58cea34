// Bounded, jittered retries for writes that DynamoDB refuses for contention, and reading why a transaction failed.

import { setTimeout as sleep } from 'node:timers/promises';
import { type AttributeValue, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { config } from '../config.ts';
import { ServiceBusy } from '../errors.ts';
import { logger } from '../logger.ts';

const RETRYABLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionInProgressException',
  'TimeoutError',
]);

type Reason = { Code?: string; Item?: Record<string, AttributeValue> };

function reasonsOf(error: unknown): Reason[] | undefined {
  return error instanceof TransactionCanceledException
    ? (error.CancellationReasons as Reason[] | undefined)
    : undefined;
}

/** True when the transaction failed because the condition of item `index` did not hold. */
export function conditionFailedAt(error: unknown, index: number): boolean {
  return reasonsOf(error)?.[index]?.Code === 'ConditionalCheckFailed';
}

/** The item at `index` as it was when its condition failed (needs ReturnValuesOnConditionCheckFailure: ALL_OLD). */
export function failedItemAt(error: unknown, index: number): Record<string, unknown> | undefined {
  const item = reasonsOf(error)?.[index]?.Item;
  return item ? unmarshall(item) : undefined;
}

/**
 * Contention or capacity, not a broken invariant: TransactionConflict (another transaction touched the item),
 * throttling and DynamoDB 5xx. A cancellation that includes a failed condition is a business answer, never retried.
 */
export function isRetryableDynamoError(error: unknown): boolean {
  const reasons = reasonsOf(error);
  if (reasons) {
    const codes = reasons.map((reason) => reason.Code ?? 'None');
    return (
      !codes.includes('ConditionalCheckFailed') &&
      codes.some(
        (code) =>
          code === 'TransactionConflict' ||
          code === 'ThrottlingError' ||
          code === 'ProvisionedThroughputExceeded',
      )
    );
  }
  return error instanceof Error && RETRYABLE_NAMES.has(error.name);
}

/**
 * Runs `operation`, retrying contention with full-jitter exponential backoff (25 ms base, 1 s cap).
 * After TRANSACTION_MAX_ATTEMPTS tries the caller gets ServiceBusy (503 + Retry-After), never a raw 500.
 */
export async function withContentionRetry<T>(
  name: string,
  operation: () => Promise<T>,
  options: {
    /** Runs after each backoff, before the next attempt; throw to stop retrying (e.g. the stock is gone anyway). */
    beforeRetry?: () => Promise<void>;
  } = {},
): Promise<T> {
  const attempts = config.TRANSACTION_MAX_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isRetryableDynamoError(error)) throw error;
      if (attempt >= attempts) {
        logger.warn('contention_gave_up', { operation: name, attempts, error_name: (error as Error).name });
        throw new ServiceBusy();
      }
      await sleep(Math.random() * Math.min(1000, 25 * 2 ** attempt));
      await options.beforeRetry?.();
    }
  }
}
