// THE table from error code to HTTP answer (status and headers): the one place a status lives. The middy error
// handler, the local gateway and the OpenAPI error catalogue (infra/error-catalogue.ts) all read it.
import type { ErrorCode } from '../errors.ts';

export interface ErrorAnswer {
  readonly status: number;
  /** Headers the answer always carries. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Busy answers say when to come back. */
const retryShortly = { 'Retry-After': '1' } as const;

/** Every code the API answers, in the order the OpenAPI document lists them. */
export const errorAnswers = {
  PRODUCT_NOT_FOUND: { status: 404 },
  HOLD_NOT_FOUND: { status: 404 },
  ORDER_NOT_FOUND: { status: 404 },
  INSUFFICIENT_STOCK: { status: 409 },
  STOCK_BELOW_COMMITTED: { status: 409 },
  CUSTOMER_LIMIT_REACHED: { status: 409 },
  AUTHENTICATION_REQUIRED: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } },
  INVALID_TOKEN: { status: 401, headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } },
  HOLD_EXPIRED: { status: 410 },
  ORDER_ALREADY_FINALIZED: { status: 409 },
  VALIDATION_ERROR: { status: 422 },
  INVALID_JSON: { status: 400 },
  PAYLOAD_TOO_LARGE: { status: 413 },
  INVALID_SIGNATURE: { status: 401 },
  // Stripe retries what is not 2xx, and documents 400 for a bad signature.
  INVALID_STRIPE_SIGNATURE: { status: 400 },
  INVALID_ADYEN_SIGNATURE: { status: 401 },
  REQUEST_IN_PROGRESS: { status: 409, headers: retryShortly },
  IDEMPOTENCY_KEY_REUSED: { status: 422 },
  SERVICE_UNAVAILABLE: { status: 503, headers: retryShortly },
  // No AppError carries it: anything unexpected becomes it, with the request id logged.
  INTERNAL_ERROR: { status: 500 },
} as const satisfies Record<ErrorCode | 'INTERNAL_ERROR', ErrorAnswer>;

export type AnsweredCode = keyof typeof errorAnswers;

/** Codes only the local gateway answers (in the cloud, API Gateway answers these itself, with its own body). */
export const localGatewayAnswers = {
  ROUTE_NOT_FOUND: { status: 404 },
  METHOD_NOT_ALLOWED: { status: 405 },
} as const satisfies Record<string, ErrorAnswer>;

export type LocalGatewayCode = keyof typeof localGatewayAnswers;

export const answerFor = (code: AnsweredCode | LocalGatewayCode): ErrorAnswer =>
  code in errorAnswers ? errorAnswers[code as AnsweredCode] : localGatewayAnswers[code as LocalGatewayCode];

/** Answers that mean "busy, retry later" rather than "refused" (logged as a warning, counted). */
export const isBusyAnswer = (answer: ErrorAnswer): boolean => answer.status >= 500;
