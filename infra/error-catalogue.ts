// The error catalogue the OpenAPI document is built from: every code the API answers, its status, what it means and
// the shape of its `details`. Statuses and Retry-After come from the error classes in shared/errors.ts themselves
// (`appErrors()`); `checkCatalogue()` fails when a class has no entry here or disagrees with it.
// Not imported by any Lambda: only infra/openapi.ts, scripts and tests use it.
import { z } from 'zod';
import * as errorClasses from '../shared/errors.ts';
import { orderStatus } from '../shared/schemas.ts';

export const errorCatalogue = {
  PRODUCT_NOT_FOUND: { status: 404, description: 'The product does not exist.' },
  HOLD_NOT_FOUND: { status: 404, description: 'The hold does not exist.' },
  ORDER_NOT_FOUND: { status: 404, description: 'The order does not exist.' },
  INSUFFICIENT_STOCK: {
    status: 409,
    description: 'Not enough units are available for this hold; `details.available` is what is left.',
    details: z.object({ available: z.number().int().min(0) }),
  },
  STOCK_BELOW_COMMITTED: {
    status: 409,
    description: 'The new stock is below the units already held or ordered (`details.committed`).',
    details: z.object({ committed: z.number().int().min(0) }),
  },
  CUSTOMER_LIMIT_REACHED: {
    status: 409,
    description:
      "The product's `max_per_customer` would be exceeded: `details.limit`, and `details.used`, the units the customer already has in active holds, pending and paid orders.",
    details: z.object({ limit: z.number().int().min(1), used: z.number().int().min(0) }),
  },
  AUTHENTICATION_REQUIRED: {
    status: 401,
    description:
      'A route that serves identified buyers (identity on) got no `Authorization: Bearer` token, or a limited product was held without one.',
  },
  INVALID_TOKEN: {
    status: 401,
    description:
      "The bearer token is malformed, forged, expired, not yet valid, or not from the configured issuer and audience. (In the cloud, API Gateway's JWT authorizer answers these 401s itself, with its own body.)",
  },
  HOLD_EXPIRED: { status: 410, description: 'The hold expired before it was ordered.' },
  ORDER_ALREADY_FINALIZED: {
    status: 409,
    description:
      'Another payment event already made the order paid or cancelled and this one asks for the other outcome; nothing changed.',
    details: z.object({ order_status: orderStatus }),
  },
  VALIDATION_ERROR: {
    status: 422,
    description: 'The body, path or a header is invalid; `details` lists each field and what is wrong.',
    details: z.array(z.object({ field: z.string(), message: z.string() })),
  },
  INVALID_JSON: { status: 400, description: 'The body is not JSON, or not a JSON object.' },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The body exceeds MAX_BODY_BYTES (16 KiB by default).' },
  INVALID_SIGNATURE: {
    status: 401,
    description: 'X-Signature is missing, malformed, stale (over 5 minutes) or wrong; nothing changed.',
  },
  INVALID_STRIPE_SIGNATURE: {
    status: 400,
    description:
      "Stripe-Signature is missing, has no `v1` that matches one of the endpoint's signing secrets over the raw body, or its `t` is over 300 s old; nothing changed. Stripe retries it.",
  },
  INVALID_ADYEN_SIGNATURE: {
    status: 401,
    description:
      'No item of the notification carries an `additionalData.hmacSignature` that one of the HMAC keys produces; nothing changed.',
  },
  REQUEST_IN_PROGRESS: {
    status: 409,
    description:
      'A request with the same idempotency key is being processed right now: retry after Retry-After.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    description: 'The idempotency key was already used with a different request; nothing changed.',
  },
  SERVICE_UNAVAILABLE: {
    status: 503,
    description:
      'DynamoDB kept refusing (throttling, conflicts, 5xx) after bounded retries: retry after Retry-After.',
  },
  INTERNAL_ERROR: {
    status: 500,
    description: 'A bug: the message carries the request id, the details are only in the log.',
  },
} as const satisfies Record<string, { status: number; description: string; details?: z.ZodType }>;

export type ErrorCode = keyof typeof errorCatalogue;

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
  status: number;
  /** Headers the error always carries (e.g. Retry-After). */
  headers: readonly string[];
}

type AppErrorClass = new (...args: never[]) => errorClasses.AppError;

const isAppErrorClass = (value: unknown): value is AppErrorClass =>
  typeof value === 'function' && value.prototype instanceof errorClasses.AppError;

/** Every AppError subclass shared/errors.ts exports, with the code, status and headers an instance carries. */
export function appErrors(): AppErrorFacts[] {
  return Object.entries(errorClasses as Record<string, unknown>)
    .filter((entry): entry is [string, AppErrorClass] => isAppErrorClass(entry[1]))
    .map(([className, ErrorClass]) => {
      // Constructors take only ids and counts for the message; placeholders are enough to read code and status.
      const error = new (ErrorClass as unknown as new () => errorClasses.AppError)();
      return { className, code: error.code, status: error.status, headers: Object.keys(error.headers ?? {}) };
    });
}

/** Problems between shared/errors.ts and the catalogue: a class without an entry, a wrong status, a stale entry. */
export function catalogueProblems(): string[] {
  const problems: string[] = [];
  const raised = appErrors();
  for (const { className, code, status } of raised) {
    const entry = (errorCatalogue as Record<string, { status: number }>)[code];
    if (!entry) problems.push(`${className} answers ${code}, which infra/error-catalogue.ts does not list`);
    else if (entry.status !== status)
      problems.push(`${className} answers ${code} with ${status}, the catalogue says ${entry.status}`);
  }
  for (const code of Object.keys(errorCatalogue) as ErrorCode[]) {
    if (!withoutClass.includes(code) && !raised.some((error) => error.code === code))
      problems.push(`the catalogue lists ${code}, which no class in shared/errors.ts answers`);
  }
  return problems;
}

/** Headers an error code always carries, as its class sets them (Retry-After on 409 REQUEST_IN_PROGRESS and 503). */
export function headersOf(code: ErrorCode): readonly string[] {
  return appErrors().find((error) => error.code === code)?.headers ?? [];
}
