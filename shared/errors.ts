// Typed errors: domain and edge code throws these; shared/http maps them to status + envelope.

/** An error whose code and message are safe to show to the caller. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ProductNotFound extends AppError {
  constructor(productId: string) {
    super(404, 'PRODUCT_NOT_FOUND', `Product ${productId} does not exist`);
  }
}

export class HoldNotFound extends AppError {
  constructor(holdId: string) {
    super(404, 'HOLD_NOT_FOUND', `Hold ${holdId} does not exist`);
  }
}

export class OrderNotFound extends AppError {
  constructor(orderId: string) {
    super(404, 'ORDER_NOT_FOUND', `Order ${orderId} does not exist`);
  }
}

export class InsufficientStock extends AppError {
  constructor(available: number) {
    super(409, 'INSUFFICIENT_STOCK', 'Not enough stock available for this hold', { available });
  }
}

export class StockBelowCommitted extends AppError {
  constructor(committed: number) {
    super(409, 'STOCK_BELOW_COMMITTED', 'Stock cannot go below the units already held or ordered', {
      committed,
    });
  }
}

export class HoldExpired extends AppError {
  constructor(holdId: string) {
    super(410, 'HOLD_EXPIRED', `Hold ${holdId} has expired`);
  }
}

export class OrderAlreadyFinalized extends AppError {
  constructor(orderId: string, status: string) {
    super(409, 'ORDER_ALREADY_FINALIZED', `Order ${orderId} is already ${status}`, { order_status: status });
  }
}

export class ValidationFailed extends AppError {
  constructor(message: string, details?: unknown) {
    super(422, 'VALIDATION_ERROR', message, details);
  }
}

export class InvalidJson extends AppError {
  constructor(message = 'Request body must be a JSON object') {
    super(400, 'INVALID_JSON', message);
  }
}

export class PayloadTooLarge extends AppError {
  constructor(limit: number) {
    super(413, 'PAYLOAD_TOO_LARGE', `Request body exceeds ${limit} bytes`);
  }
}

export class InvalidSignature extends AppError {
  constructor() {
    super(401, 'INVALID_SIGNATURE', 'Missing or invalid X-Signature');
  }
}

/** `Stripe-Signature` is missing, stale or matches none of the endpoint's secrets (Stripe retries what is not 2xx). */
export class InvalidStripeSignature extends AppError {
  constructor() {
    super(400, 'INVALID_STRIPE_SIGNATURE', 'Missing or invalid Stripe-Signature');
  }
}

/** No item of an Adyen notification carries a valid `additionalData.hmacSignature`. */
export class InvalidAdyenSignature extends AppError {
  constructor() {
    super(401, 'INVALID_ADYEN_SIGNATURE', 'No notification item carries a valid hmacSignature');
  }
}

export class RequestInProgress extends AppError {
  constructor() {
    super(
      409,
      'REQUEST_IN_PROGRESS',
      'A request with this idempotency key is still being processed',
      undefined,
      {
        'Retry-After': '1',
      },
    );
  }
}

export class IdempotencyKeyReused extends AppError {
  constructor() {
    super(
      422,
      'IDEMPOTENCY_KEY_REUSED',
      'This idempotency key was already used with a different request body',
    );
  }
}

/** DynamoDB kept refusing (throttling, conflicts, 5xx) after bounded retries: the caller should retry. */
export class ServiceBusy extends AppError {
  constructor(retryAfterSeconds = 1) {
    super(503, 'SERVICE_UNAVAILABLE', 'The service is busy, retry shortly', undefined, {
      'Retry-After': String(retryAfterSeconds),
    });
  }
}

/** A route that serves identified buyers got no bearer token (or not a `Bearer` one). */
export class AuthenticationRequired extends AppError {
  constructor() {
    super(401, 'AUTHENTICATION_REQUIRED', 'A bearer token identifying the buyer is required', undefined, {
      'WWW-Authenticate': 'Bearer',
    });
  }
}

/** The bearer token is malformed, forged, expired, not yet valid, or from another issuer or audience. */
export class InvalidToken extends AppError {
  constructor() {
    super(401, 'INVALID_TOKEN', 'The bearer token is not valid', undefined, {
      'WWW-Authenticate': 'Bearer error="invalid_token"',
    });
  }
}

/** The customer's units in active holds, pending and paid orders of this product would exceed its limit. */
export class CustomerLimitReached extends AppError {
  constructor(limit: number, used: number) {
    super(409, 'CUSTOMER_LIMIT_REACHED', `At most ${limit} units of this product per customer`, {
      limit,
      used,
    });
  }
}
