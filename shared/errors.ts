// Typed domain errors: a code, a message safe to show and details. No status, no headers: shared/http/error-answers.ts
// maps each code to its answer.

/** Every code an AppError carries (shared/http/error-answers.ts has one answer per code, the compiler checks it). */
export type ErrorCode =
  | 'PRODUCT_NOT_FOUND'
  | 'HOLD_NOT_FOUND'
  | 'ORDER_NOT_FOUND'
  | 'INSUFFICIENT_STOCK'
  | 'STOCK_BELOW_COMMITTED'
  | 'CUSTOMER_LIMIT_REACHED'
  | 'AUTHENTICATION_REQUIRED'
  | 'INVALID_TOKEN'
  | 'HOLD_EXPIRED'
  | 'ORDER_ALREADY_FINALIZED'
  | 'VALIDATION_ERROR'
  | 'INVALID_JSON'
  | 'PAYLOAD_TOO_LARGE'
  | 'INVALID_SIGNATURE'
  | 'INVALID_STRIPE_SIGNATURE'
  | 'INVALID_ADYEN_SIGNATURE'
  | 'REQUEST_IN_PROGRESS'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'SERVICE_UNAVAILABLE';

/** An error whose code and message are safe to show to the caller. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ProductNotFound extends AppError {
  constructor(productId: string) {
    super('PRODUCT_NOT_FOUND', `Product ${productId} does not exist`);
  }
}

export class HoldNotFound extends AppError {
  constructor(holdId: string) {
    super('HOLD_NOT_FOUND', `Hold ${holdId} does not exist`);
  }
}

export class OrderNotFound extends AppError {
  constructor(orderId: string) {
    super('ORDER_NOT_FOUND', `Order ${orderId} does not exist`);
  }
}

export class InsufficientStock extends AppError {
  constructor(available: number) {
    super('INSUFFICIENT_STOCK', 'Not enough stock available for this hold', { available });
  }
}

export class StockBelowCommitted extends AppError {
  constructor(committed: number) {
    super('STOCK_BELOW_COMMITTED', 'Stock cannot go below the units already held or ordered', {
      committed,
    });
  }
}

export class HoldExpired extends AppError {
  constructor(holdId: string) {
    super('HOLD_EXPIRED', `Hold ${holdId} has expired`);
  }
}

export class OrderAlreadyFinalized extends AppError {
  constructor(orderId: string, status: string) {
    super('ORDER_ALREADY_FINALIZED', `Order ${orderId} is already ${status}`, { order_status: status });
  }
}

export class ValidationFailed extends AppError {
  constructor(message: string, details?: unknown) {
    super('VALIDATION_ERROR', message, details);
  }
}

export class InvalidJson extends AppError {
  constructor(message = 'Request body must be a JSON object') {
    super('INVALID_JSON', message);
  }
}

export class PayloadTooLarge extends AppError {
  constructor(limit: number) {
    super('PAYLOAD_TOO_LARGE', `Request body exceeds ${limit} bytes`);
  }
}

export class InvalidSignature extends AppError {
  constructor() {
    super('INVALID_SIGNATURE', 'Missing or invalid X-Signature');
  }
}

/** `Stripe-Signature` is missing, stale or matches none of the endpoint's secrets (Stripe retries the refusal). */
export class InvalidStripeSignature extends AppError {
  constructor() {
    super('INVALID_STRIPE_SIGNATURE', 'Missing or invalid Stripe-Signature');
  }
}

/** No item of an Adyen notification carries a valid `additionalData.hmacSignature`. */
export class InvalidAdyenSignature extends AppError {
  constructor() {
    super('INVALID_ADYEN_SIGNATURE', 'No notification item carries a valid hmacSignature');
  }
}

export class RequestInProgress extends AppError {
  constructor() {
    super('REQUEST_IN_PROGRESS', 'A request with this idempotency key is still being processed');
  }
}

export class IdempotencyKeyReused extends AppError {
  constructor() {
    super('IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used with a different request body');
  }
}

/** DynamoDB kept refusing (throttling, conflicts, its own failures) or did not answer in time: the caller should retry. */
export class ServiceBusy extends AppError {
  constructor() {
    super('SERVICE_UNAVAILABLE', 'The service is busy, retry shortly');
  }
}

/** A route that serves identified buyers got no bearer token (or not a `Bearer` one). */
export class AuthenticationRequired extends AppError {
  constructor() {
    super('AUTHENTICATION_REQUIRED', 'A bearer token identifying the buyer is required');
  }
}

/** The bearer token is malformed, forged, expired, not yet valid, or from another issuer or audience. */
export class InvalidToken extends AppError {
  constructor() {
    super('INVALID_TOKEN', 'The bearer token is not valid');
  }
}

/** The customer's units in active holds, pending and paid orders of this product would exceed its limit. */
export class CustomerLimitReached extends AppError {
  constructor(limit: number, used: number) {
    super('CUSTOMER_LIMIT_REACHED', `At most ${limit} units of this product per customer`, {
      limit,
      used,
    });
  }
}
