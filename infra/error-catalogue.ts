// The error catalogue the OpenAPI document is built from: what each code the API answers means and the shape of its
// `details`. Statuses and headers are read from shared/http/error-answers.ts, never written here; `catalogueProblems()`
// fails when an error class in shared/errors.ts answers a code the table does not list, or the table lists a code no
// class answers.
// Not imported by any Lambda: only infra/openapi.ts, scripts and tests use it.
import { z } from 'zod';
import * as errorClasses from '../shared/errors.ts';
import { type AnsweredCode, errorAnswers } from '../shared/http/error-answers.ts';
import { orderStatus } from '../shared/schemas.ts';

const descriptions = {
  PRODUCT_NOT_FOUND: { description: 'The product does not exist.' },
  HOLD_NOT_FOUND: { description: 'The hold does not exist.' },
  ORDER_NOT_FOUND: { description: 'The order does not exist.' },
  INSUFFICIENT_STOCK: {
    description: 'Not enough units are available for this hold; `details.available` is what is left.',
    details: z.object({ available: z.number().int().min(0) }),
  },
  STOCK_BELOW_COMMITTED: {
    description: 'The new stock is below the units already held or ordered (`details.committed`).',
    details: z.object({ committed: z.number().int().min(0) }),
  },
  CUSTOMER_LIMIT_REACHED: {
    description:
      "The product's `max_per_customer` would be exceeded: `details.limit`, and `details.used`, the units the customer already has in active holds, pending and paid orders.",
    details: z.object({ limit: z.number().int().min(1), used: z.number().int().min(0) }),
  },
  AUTHENTICATION_REQUIRED: {
    description:
      'A route that serves identified buyers (identity on) got no `Authorization: Bearer` token, or a limited product was held without one.',
  },
  INVALID_TOKEN: {
    description:
      "The bearer token is malformed, forged, expired, not yet valid, or not from the configured issuer and audience. (In the cloud, API Gateway's JWT authorizer answers these 401s itself, with its own body.)",
  },
  HOLD_EXPIRED: { description: 'The hold expired before it was ordered.' },
  ORDER_ALREADY_FINALIZED: {
    description:
      'Another payment event already made the order paid or cancelled and this one asks for the other outcome; nothing changed.',
    details: z.object({ order_status: orderStatus }),
  },
  VALIDATION_ERROR: {
    description: 'The body, path or a header is invalid; `details` lists each field and what is wrong.',
    details: z.array(z.object({ field: z.string(), message: z.string() })),
  },
  INVALID_JSON: { description: 'The body is not JSON, or not a JSON object.' },
  PAYLOAD_TOO_LARGE: { description: 'The body exceeds MAX_BODY_BYTES (16 KiB by default).' },
  INVALID_SIGNATURE: {
    description: 'X-Signature is missing, malformed, stale (over 5 minutes) or wrong; nothing changed.',
  },
  INVALID_STRIPE_SIGNATURE: {
    description:
      "Stripe-Signature is missing, has no `v1` that matches one of the endpoint's signing secrets over the raw body, or its `t` is over 300 s old; nothing changed. Stripe retries it.",
  },
  INVALID_ADYEN_SIGNATURE: {
    description:
      'No item of the notification carries an `additionalData.hmacSignature` that one of the HMAC keys produces; nothing changed.',
  },
  REQUEST_IN_PROGRESS: {
    description:
      'A request with the same idempotency key is being processed right now: retry after Retry-After.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    description: 'The idempotency key was already used with a different request; nothing changed.',
  },
  SERVICE_UNAVAILABLE: {
    description:
      'DynamoDB kept refusing (throttling, conflicts, 5xx) after bounded retries: retry after Retry-After.',
  },
  INTERNAL_ERROR: {
    description: 'A bug: the message carries the request id, the details are only in the log.',
  },
} as const satisfies Record<AnsweredCode, { description: string; details?: z.ZodType }>;

export type ErrorCode = AnsweredCode;

/** Each code's description and details beside its answer (status, headers) from shared/http/error-answers.ts. */
export const errorCatalogue = Object.fromEntries(
  (Object.keys(errorAnswers) as ErrorCode[]).map((code) => [
    code,
    { ...descriptions[code], ...errorAnswers[code] },
  ]),
) as { [C in ErrorCode]: (typeof descriptions)[C] & (typeof errorAnswers)[C] };

/** Answered by every route, whatever it declares (README "Every route"). */
export const commonErrors = [
  'INVALID_JSON',
  'PAYLOAD_TOO_LARGE',
  'SERVICE_UNAVAILABLE',
  'INTERNAL_ERROR',
] as const satisfies readonly ErrorCode[];

/** Codes answered without an AppError class (shared/http/errors.ts's fallback for anything unexpected). */
const withoutClass: readonly ErrorCode[] = ['INTERNAL_ERROR'];

export interface AppErrorFacts {
  className: string;
  code: string;
}

type AppErrorClass = new (...args: never[]) => errorClasses.AppError;

const isAppErrorClass = (value: unknown): value is AppErrorClass =>
  typeof value === 'function' && value.prototype instanceof errorClasses.AppError;

/** Every AppError subclass shared/errors.ts exports, with the code an instance carries. */
export function appErrors(): AppErrorFacts[] {
  return Object.entries(errorClasses as Record<string, unknown>)
    .filter((entry): entry is [string, AppErrorClass] => isAppErrorClass(entry[1]))
    .map(([className, ErrorClass]) => {
      // Constructors take only ids and counts for the message; placeholders are enough to read the code.
      const error = new (ErrorClass as unknown as new () => errorClasses.AppError)();
      return { className, code: error.code };
    });
}

/** Problems between shared/errors.ts and the catalogue: a class without an entry, a stale entry. */
export function catalogueProblems(): string[] {
  const problems: string[] = [];
  const raised = appErrors();
  for (const { className, code } of raised) {
    if (!Object.hasOwn(errorCatalogue, code))
      problems.push(`${className} answers ${code}, which shared/http/error-answers.ts does not list`);
  }
  for (const code of Object.keys(errorCatalogue) as ErrorCode[]) {
    if (!withoutClass.includes(code) && !raised.some((error) => error.code === code))
      problems.push(`the catalogue lists ${code}, which no class in shared/errors.ts answers`);
  }
  return problems;
}

/** Headers an error code always carries (Retry-After on REQUEST_IN_PROGRESS and SERVICE_UNAVAILABLE). */
export function headersOf(code: ErrorCode): readonly string[] {
  const { headers } = errorAnswers[code] as { headers?: Record<string, string> };
  return Object.keys(headers ?? {});
}
