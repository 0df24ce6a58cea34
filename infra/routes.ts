// THE route table: every HTTP route once. The CDK API stack and the local HTTP gateway both read it.
import type { z } from 'zod';
import type { table } from '../shared/db/table.ts';
import type * as schemas from '../shared/schemas.ts';
import type { ErrorCode } from './error-catalogue.ts';
import type { SigningSecret } from './signing-secrets.ts';

export type IndexName = keyof typeof table.indexes;
export type Access = 'none' | 'read' | 'write';
/** The name of a zod schema exported by shared/schemas.ts (names, not imports: the CDK app loads this file). */
export type SchemaName = {
  [K in keyof typeof schemas]: (typeof schemas)[K] extends z.ZodType ? K : never;
}[keyof typeof schemas];

/** What the OpenAPI document (infra/openapi.ts) says about a route; the handler validates with the same schemas. */
export interface RouteContract {
  readonly summary: string;
  /** Path parameters, body and request headers (lower-case names), each a schema of shared/schemas.ts. */
  readonly request?: {
    readonly params?: SchemaName;
    readonly body?: SchemaName;
    readonly headers?: Readonly<Record<string, SchemaName>>;
  };
  /** Success statuses and the schema of their `data` (or, with `plainText`, of the whole text/plain body). */
  readonly responses: Readonly<
    Partial<Record<200 | 201 | 202, { schema: SchemaName; description: string; plainText?: boolean }>>
  >;
  /** Error codes this route answers besides the ones every route does (INVALID_JSON, PAYLOAD_TOO_LARGE, ...). */
  readonly errors: readonly ErrorCode[];
  /** Cache-Control of its success answers when not `no-store`. */
  readonly cacheControl?: string;
}

export interface RouteDefinition {
  /** Stable id, used for construct ids and function names. */
  readonly id: string;
  readonly method: 'GET' | 'POST' | 'PUT';
  /** API Gateway HTTP API path syntax, `{name}` for path parameters. */
  readonly path: string;
  /** Handler entry file, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  /** What the function may do to the table: `none` gets no grant, `read` read-only grants. */
  readonly access: Access;
  /** `iam`: the route needs SigV4-signed calls (API Gateway IAM authorization). */
  readonly auth: 'none' | 'iam';
  /** `buyer`: the route serves an identified shopper when a JWT issuer is configured (the stage's `jwtIssuer` in the
   * cloud, `JWT_ISSUER` locally): a bearer token is then required and its `sub` is the customer id. Without an
   * issuer the route stays anonymous. */
  readonly identity?: 'buyer';
  /** The signing secret the function verifies requests with (infra/signing-secrets.ts): it may read that one only. */
  readonly signingSecret?: SigningSecret;
  /** The function keeps Powertools idempotency records (needs write access even on its own records). */
  readonly idempotent?: boolean;
  /** GSIs the function queries (it gets Query on exactly these index ARNs, nothing else). */
  readonly queries?: readonly IndexName[];
  /** The function reads a product's stock buckets in one BatchGetItem (the per-process stock view). */
  readonly readsStockView?: boolean;
  /**
   * The function's transactions carry ConditionCheck items: releasing a hold checks its order key (the sweeper, and
   * create-hold's reclaim), parking a payment checks its hold (the webhook). test/infra/iam.test.ts's bundle scan
   * keeps this flag true.
   */
  readonly checksConditions?: boolean;
  /** The function takes and gives back short leases (reclaim, sweep): giving one back is a conditional delete. */
  readonly takesLeases?: boolean;
  /** Its HTTP contract, for the OpenAPI document (infra/openapi.ts refuses a route without one). Optional only so
   * tests can serve ad-hoc routes. */
  readonly contract?: RouteContract;
}

export const routes = [
  {
    id: 'health',
    method: 'GET',
    path: '/api/health',
    entry: 'functions/health.ts',
    access: 'none',
    auth: 'none',
    contract: {
      summary: 'Liveness: touches no dependency',
      responses: { 200: { schema: 'health', description: 'Up' } },
      errors: [],
    },
  },
  {
    id: 'get-product',
    method: 'GET',
    path: '/api/products/{id}',
    entry: 'functions/get-product.ts',
    access: 'read',
    auth: 'none',
    readsStockView: true,
    contract: {
      summary: "A product, as this process's view of it (at most 1 s old)",
      request: { params: 'idParams' },
      responses: { 200: { schema: 'productView', description: 'The product' } },
      errors: ['PRODUCT_NOT_FOUND', 'VALIDATION_ERROR'],
      cacheControl: 'public, max-age=1',
    },
  },
  {
    id: 'put-product',
    method: 'PUT',
    path: '/api/admin/products/{id}',
    entry: 'functions/put-product.ts',
    access: 'write',
    auth: 'iam',
    readsStockView: true,
    contract: {
      summary: 'Create (201) or update/restock (200) a product',
      request: { params: 'idParams', body: 'putProductBody' },
      responses: {
        200: { schema: 'productView', description: 'Updated' },
        201: { schema: 'productView', description: 'Created' },
      },
      errors: ['VALIDATION_ERROR', 'STOCK_BELOW_COMMITTED'],
    },
  },
  {
    id: 'create-hold',
    method: 'POST',
    path: '/api/holds',
    entry: 'functions/create-hold.ts',
    access: 'write',
    auth: 'none',
    identity: 'buyer',
    idempotent: true,
    // Reclaims the product's expired-but-unswept holds when stock is short, one reclaimer at a time (a lease).
    queries: ['holdsOfProduct'],
    readsStockView: true,
    takesLeases: true,
    checksConditions: true,
    contract: {
      summary: 'Reserve units for HOLD_TTL_SECONDS (2 minutes by default)',
      request: { body: 'createHoldBody', headers: { 'idempotency-key': 'idempotencyKeyHeader' } },
      responses: {
        201: {
          schema: 'holdView',
          description: 'Held (a retry with the same Idempotency-Key and body answers the original hold)',
        },
      },
      errors: [
        'PRODUCT_NOT_FOUND',
        'INSUFFICIENT_STOCK',
        'CUSTOMER_LIMIT_REACHED',
        'AUTHENTICATION_REQUIRED',
        'INVALID_TOKEN',
        'VALIDATION_ERROR',
        'IDEMPOTENCY_KEY_REUSED',
        'REQUEST_IN_PROGRESS',
      ],
    },
  },
  {
    id: 'create-order',
    method: 'POST',
    path: '/api/orders',
    entry: 'functions/create-order.ts',
    access: 'write',
    auth: 'none',
    identity: 'buyer',
    contract: {
      summary: 'Turn a hold into an order (its id is the hold id)',
      request: { body: 'createOrderBody' },
      responses: {
        200: { schema: 'orderView', description: 'The hold was already ordered: the same order' },
        201: { schema: 'orderView', description: 'Ordered' },
      },
      errors: [
        'HOLD_NOT_FOUND',
        'HOLD_EXPIRED',
        'AUTHENTICATION_REQUIRED',
        'INVALID_TOKEN',
        'VALIDATION_ERROR',
      ],
    },
  },
  {
    id: 'get-order',
    method: 'GET',
    path: '/api/orders/{id}',
    entry: 'functions/get-order.ts',
    access: 'read',
    auth: 'none',
    identity: 'buyer',
    contract: {
      summary: 'An order',
      request: { params: 'idParams' },
      responses: { 200: { schema: 'orderView', description: 'The order' } },
      errors: ['ORDER_NOT_FOUND', 'AUTHENTICATION_REQUIRED', 'INVALID_TOKEN', 'VALIDATION_ERROR'],
    },
  },
  {
    id: 'payment-webhook',
    method: 'POST',
    path: '/api/payments/webhook',
    entry: 'functions/payment-webhook.ts',
    access: 'write',
    auth: 'none',
    signingSecret: 'webhook',
    idempotent: true,
    // A late payment reads the product's per-customer limit from the stock view.
    readsStockView: true,
    checksConditions: true,
    contract: {
      summary: "The payment provider's signed outcome for an order, applied exactly once",
      request: { body: 'webhookBody' },
      responses: {
        200: {
          schema: 'paymentApplied',
          description: 'Applied, or already applied (duplicates replay the first answer)',
        },
        202: { schema: 'paymentAwaitingOrder', description: 'Stored until the order exists' },
      },
      errors: [
        'INVALID_SIGNATURE',
        'ORDER_ALREADY_FINALIZED',
        'REQUEST_IN_PROGRESS',
        'VALIDATION_ERROR',
        'IDEMPOTENCY_KEY_REUSED',
      ],
    },
  },
  {
    id: 'stripe-webhook',
    method: 'POST',
    path: '/api/payments/stripe/webhook',
    entry: 'functions/stripe-webhook.ts',
    access: 'write',
    auth: 'none',
    signingSecret: 'stripe',
    // No `idempotent`: the event id is the payment's key in the shared payment path, no Powertools record is kept.
    // A late payment reads the product's per-customer limit from the stock view; parking checks the hold.
    readsStockView: true,
    checksConditions: true,
    contract: {
      summary: "Stripe's events as Stripe signs them (Stripe-Signature over the raw body), each applied once",
      request: { body: 'stripeEventBody' },
      responses: {
        200: {
          schema: 'stripeEventAnswer',
          description:
            'Final, whatever the effect: applied, a duplicate (the same effect again), parked until the order exists, a conflict with a finished order, an amount mismatch (recorded and alarmed, never applied), a declined attempt, or ignored',
        },
      },
      errors: ['INVALID_STRIPE_SIGNATURE', 'VALIDATION_ERROR'],
    },
  },
  {
    id: 'adyen-webhook',
    method: 'POST',
    path: '/api/payments/adyen/webhook',
    entry: 'functions/adyen-webhook.ts',
    access: 'write',
    auth: 'none',
    signingSecret: 'adyen',
    readsStockView: true,
    checksConditions: true,
    contract: {
      summary: "Adyen's standard notifications, each item verified by its HMAC signature and applied once",
      request: { body: 'adyenNotificationBody' },
      responses: {
        200: {
          schema: 'adyenAccepted',
          description:
            'Every verified item is stored: the text/plain body `[accepted]` (not an envelope). Items whose signature matches no key changed nothing and are logged',
          plainText: true,
        },
      },
      errors: ['INVALID_ADYEN_SIGNATURE', 'VALIDATION_ERROR'],
    },
  },
] as const satisfies readonly RouteDefinition[];

/** The scheduled sweeper: not an HTTP route, but deployed and run locally from this definition. */
export const sweeper = {
  id: 'expire-holds',
  entry: 'functions/expire-holds.ts',
  access: 'write',
  queries: ['byDeadline'],
  /** One sweep at a time: a sweep that runs past its schedule is not joined by the next. */
  takesLeases: true,
  checksConditions: true,
  /** EventBridge schedule in the cloud; the local runtime uses EXPIRY_SWEEP_SECONDS. */
  schedule: 'rate(1 minute)',
} as const;
