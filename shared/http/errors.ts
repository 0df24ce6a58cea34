// Maps any thrown error to a status + envelope. Only AppError messages reach the caller.
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyValidationError,
} from '@aws-lambda-powertools/idempotency';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { isRetryableDynamoError } from '../db/transact.ts';
import { AppError, IdempotencyKeyReused, RequestInProgress, ServiceBusy } from '../errors.ts';
import { logger } from '../logger.ts';
import { failure } from './responses.ts';

export function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (error instanceof IdempotencyAlreadyInProgressError) return new RequestInProgress();
  if (error instanceof IdempotencyValidationError) return new IdempotencyKeyReused();
  if (isRetryableDynamoError(error)) return new ServiceBusy();
  // Powertools wraps persistence failures; a throttled idempotency table is still "busy", not a bug.
  if (error instanceof Error && error.cause !== undefined) return toAppError(error.cause);
  return undefined;
}

export function errorResponse(error: unknown, requestId?: string): APIGatewayProxyStructuredResultV2 {
  const known = toAppError(error);
  if (known) {
    if (known.status >= 500) logger.warn('request_refused_busy', { code: known.code, error });
    const body = {
      code: known.code,
      message: known.message,
      ...(known.details === undefined ? {} : { details: known.details }),
    };
    return failure(known.status, body, known.headers);
  }
  logger.error('unhandled_error', { error, request_id: requestId });
  return failure(500, {
    code: 'INTERNAL_ERROR',
    message: `Unexpected error${requestId ? ` (request ${requestId})` : ''}`,
  });
}
