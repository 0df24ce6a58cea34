// Maps any thrown error to its answer (shared/http/error-answers.ts) and envelope. Only AppError messages reach the
// caller.
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyValidationError,
} from '@aws-lambda-powertools/idempotency';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { isRetryableDynamoError, isUnavailable } from '../db/transact.ts';
import { AppError, IdempotencyKeyReused, RequestInProgress, ServiceBusy } from '../errors.ts';
import { logger } from '../logger.ts';
import { Metric, type MetricName } from '../metric-names.ts';
import { countMetric } from '../metrics.ts';
import { answerFor, isBusyAnswer } from './error-answers.ts';
import { failure } from './responses.ts';

/** Answers counted where they are made, so handlers stay thin: by error code. */
const COUNTED_CODES: Readonly<Record<string, MetricName>> = {
  INSUFFICIENT_STOCK: Metric.HoldsRefusedSoldOut,
  CUSTOMER_LIMIT_REACHED: Metric.HoldsRefusedCustomerLimit,
  SERVICE_UNAVAILABLE: Metric.ServiceUnavailable,
};

function countAnswer(known: AppError): void {
  const counted = COUNTED_CODES[known.code];
  if (counted) countMetric(counted);
}

export function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (error instanceof IdempotencyAlreadyInProgressError) return new RequestInProgress();
  if (error instanceof IdempotencyValidationError) return new IdempotencyKeyReused();
  // Busy, unreachable or out of the invocation's time (after the SDK's retries, within the budget): retry later.
  if (isRetryableDynamoError(error) || isUnavailable(error)) return new ServiceBusy();
  // Powertools wraps persistence failures; a throttled idempotency table is still "busy", not a bug.
  if (error instanceof Error && error.cause !== undefined) return toAppError(error.cause);
  return undefined;
}

export function errorResponse(error: unknown, requestId?: string): APIGatewayProxyStructuredResultV2 {
  const known = toAppError(error);
  if (known) {
    countAnswer(known);
    const answer = answerFor(known.code);
    if (isBusyAnswer(answer)) logger.warn('request_refused_busy', { code: known.code, error });
    const body = {
      code: known.code,
      message: known.message,
      ...(known.details === undefined ? {} : { details: known.details }),
    };
    return failure(answer.status, body, answer.headers);
  }
  logger.error('unhandled_error', { error, request_id: requestId });
  return failure(answerFor('INTERNAL_ERROR').status, {
    code: 'INTERNAL_ERROR',
    message: `Unexpected error${requestId ? ` (request ${requestId})` : ''}`,
  });
}
