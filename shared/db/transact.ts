// The one way to write a transaction: named items in, bounded contention retries, failures reported by name.
import { setTimeout as sleep } from 'node:timers/promises';
import { type AttributeValue, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { config } from '../config.ts';
import { BudgetSpent, budgetFits, budgetLeft } from '../deadline.ts';
import { ServiceBusy } from '../errors.ts';
import { logger } from '../logger.ts';
import { Metric } from '../metric-names.ts';
import { countMetric } from '../metrics.ts';
import { db } from './client.ts';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
/** Items by name; `undefined` entries are left out (optional parts of a transaction). */
export type NamedItems = Record<string, TransactItem | undefined>;

/**
 * A transaction was cancelled because one or more conditions did not hold: a business answer, never retried.
 * `failed` names the items whose condition failed; `old` has each one as it was (items that asked for ALL_OLD).
 */
export class ConditionFailed extends Error {
  constructor(
    readonly operation: string,
    readonly failed: ReadonlySet<string>,
    readonly old: Readonly<Record<string, Record<string, unknown> | undefined>>,
    options?: ErrorOptions,
  ) {
    super(`${operation}: condition failed on ${[...failed].join(', ')}`, options);
    this.name = 'ConditionFailed';
  }
}

/** True when `error` is a ConditionFailed on the item named `name`. */
export const failedOn = (error: unknown, name: string): error is ConditionFailed =>
  error instanceof ConditionFailed && error.failed.has(name);

const RETRYABLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionInProgressException',
  'TransactionConflictException',
  'TimeoutError',
]);
const RETRYABLE_REASONS = new Set([
  'TransactionConflict',
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
]);

type Reason = { Code?: string; Item?: Record<string, AttributeValue> };
const reasonsOf = (error: unknown): Reason[] | undefined =>
  error instanceof TransactionCanceledException
    ? (error.CancellationReasons as Reason[] | undefined)
    : undefined;

/**
 * Contention or capacity, not a broken invariant: TransactionConflict (another transaction touched the item),
 * throttling and DynamoDB's internal errors. A cancellation that includes a failed condition is a business answer.
 */
export function isRetryableDynamoError(error: unknown): boolean {
  const reasons = reasonsOf(error);
  if (reasons) {
    const codes = reasons.map((reason) => reason.Code ?? 'None');
    return !codes.includes('ConditionalCheckFailed') && codes.some((code) => RETRYABLE_REASONS.has(code));
  }
  return error instanceof Error && RETRYABLE_NAMES.has(error.name);
}

/** True when the error was a transaction conflict: the write certainly did not land. */
export const isConflict = (error: unknown): boolean =>
  reasonsOf(error)?.some((reason) => reason.Code === 'TransactionConflict') === true ||
  (error instanceof Error && error.name === 'TransactionConflictException');

/** Refusals DynamoDB answers before writing anything: the write certainly did not land (unlike a timeout or an internal error). */
const REFUSED_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TransactionConflictException',
  'TransactionInProgressException',
]);
/**
 * True when `error` proves the write did not land: DynamoDB refused it (or the budget left no time to send it), and
 * the SDK made one attempt only (after an SDK retry, an earlier attempt whose answer was lost may have landed,
 * whatever the last attempt was told).
 */
export function certainlyNotWritten(error: unknown): boolean {
  const refused =
    error instanceof TransactionCanceledException ||
    (error instanceof BudgetSpent && !error.sent) ||
    (error instanceof Error && REFUSED_NAMES.has(error.name));
  return refused && sdkAttempts(error) <= 1;
}

/** How many attempts the SDK made for the call that failed with `error` (1 when it does not say). A ConditionFailed
 * says through the SDK's error it wraps. */
export const sdkAttempts = (error: unknown): number => {
  const sdkError = error instanceof ConditionFailed ? error.cause : error;
  return (sdkError as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts ?? 1;
};

/** Failures to reach DynamoDB at all: DNS, refused or dropped connections, unreachable networks. */
const UNREACHABLE_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
]);
/** Attempts that got no answer in time: the SDK's timeouts, a cut-off attempt, the budget spent, middy's timeout. */
const NO_ANSWER_NAMES = new Set(['TimeoutError', 'AbortError', 'BudgetSpent']);

/**
 * DynamoDB could not be reached or did not answer in time (after the SDK's retries, within the budget): the caller
 * should retry later (ServiceBusy), like throttling. Looks through `cause` (Powertools and the SDK wrap errors)
 * and AggregateError (a connection tried on several addresses). A write that timed out may still have landed:
 * `certainlyNotWritten` says which did not.
 */
export function isUnavailable(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 8) return false;
  const code = (error as { code?: unknown }).code;
  if (NO_ANSWER_NAMES.has(error.name) || (typeof code === 'string' && UNREACHABLE_CODES.has(code)))
    return true;
  if (error instanceof AggregateError && error.errors.some((inner) => isUnavailable(inner, depth + 1)))
    return true;
  return isUnavailable(error.cause, depth + 1);
}

/**
 * Runs `operation`, retrying contention with full-jitter exponential backoff (25 ms base, 1 s cap).
 * After TRANSACTION_MAX_ATTEMPTS tries, or when the invocation's budget has no room for the backoff and another try,
 * the caller gets ServiceBusy (retry shortly), never an unexpected error or a Lambda timeout.
 */
export async function withContentionRetry<T>(name: string, operation: () => Promise<T>): Promise<T> {
  const attempts = config.TRANSACTION_MAX_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isRetryableDynamoError(error)) throw error;
      const backoff = Math.random() * Math.min(1000, 25 * 2 ** attempt);
      const outOfTime = attempt < attempts && !budgetFits(backoff);
      if (attempt >= attempts || outOfTime) {
        logger.warn('contention_gave_up', {
          operation: name,
          attempts: attempt,
          error_name: (error as Error).name,
          ...(outOfTime ? { reason: 'out_of_time', budget_left_ms: Math.round(budgetLeft()) } : {}),
        });
        throw new ServiceBusy();
      }
      if (isConflict(error)) countMetric(Metric.ContentionRetries);
      await sleep(backoff);
    }
  }
}

function present(items: NamedItems): [string, TransactItem][] {
  return Object.entries(items).filter((entry): entry is [string, TransactItem] => entry[1] !== undefined);
}

/** One attempt: sends the items, and turns a condition failure into ConditionFailed with the items' names. */
export async function transactOnce(operation: string, items: NamedItems): Promise<void> {
  const entries = present(items);
  try {
    await db.send(new TransactWriteCommand({ TransactItems: entries.map(([, item]) => item) }));
  } catch (error) {
    const reasons = reasonsOf(error);
    if (!reasons?.some((reason) => reason.Code === 'ConditionalCheckFailed')) throw error;
    const failed = new Set<string>();
    const old: Record<string, Record<string, unknown> | undefined> = {};
    entries.forEach(([name], index) => {
      const reason = reasons[index];
      if (reason?.Code !== 'ConditionalCheckFailed') return;
      failed.add(name);
      old[name] = reason.Item ? unmarshall(reason.Item) : undefined;
    });
    throw new ConditionFailed(operation, failed, old, { cause: error });
  }
}

/** Writes `items` in one transaction, retrying contention. A failed condition surfaces as ConditionFailed naming
 * the item(s): `failedOn(error, 'stock')`. */
export function transact(operation: string, items: NamedItems): Promise<void> {
  return withContentionRetry(operation, () => transactOnce(operation, items));
}
