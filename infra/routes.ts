// THE route table: every HTTP route once. The CDK API stack and the local HTTP gateway both read it.
import type { table } from '../shared/db/table.ts';

export type IndexName = keyof typeof table.indexes;
export type Access = 'none' | 'read' | 'write';

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
  /** The function reads the webhook signing secret. */
  readonly usesWebhookSecret?: boolean;
  /** The function keeps Powertools idempotency records (needs write access even on its own records). */
  readonly idempotent?: boolean;
  /** GSIs the function queries (it gets Query on exactly these index ARNs, nothing else). */
  readonly queries?: readonly IndexName[];
  /** The function reads a product's stock buckets in one BatchGetItem (the per-process stock view). */
  readonly readsStockView?: boolean;
  /** The function takes and gives back short leases (reclaim, sweep): giving one back is a conditional delete. */
  readonly takesLeases?: boolean;
}

export const routes = [
  {
    id: 'health',
    method: 'GET',
    path: '/api/health',
    entry: 'functions/health.ts',
    access: 'none',
    auth: 'none',
  },
  {
    id: 'get-product',
    method: 'GET',
    path: '/api/products/{id}',
    entry: 'functions/get-product.ts',
    access: 'read',
    auth: 'none',
    readsStockView: true,
  },
  {
    id: 'put-product',
    method: 'PUT',
    path: '/api/admin/products/{id}',
    entry: 'functions/put-product.ts',
    access: 'write',
    auth: 'iam',
    readsStockView: true,
  },
  {
    id: 'create-hold',
    method: 'POST',
    path: '/api/holds',
    entry: 'functions/create-hold.ts',
    access: 'write',
    auth: 'none',
    idempotent: true,
    // Reclaims the product's expired-but-unswept holds when stock is short, one reclaimer at a time (a lease).
    queries: ['holdsOfProduct'],
    readsStockView: true,
    takesLeases: true,
  },
  {
    id: 'create-order',
    method: 'POST',
    path: '/api/orders',
    entry: 'functions/create-order.ts',
    access: 'write',
    auth: 'none',
  },
  {
    id: 'get-order',
    method: 'GET',
    path: '/api/orders/{id}',
    entry: 'functions/get-order.ts',
    access: 'read',
    auth: 'none',
  },
  {
    id: 'payment-webhook',
    method: 'POST',
    path: '/api/payments/webhook',
    entry: 'functions/payment-webhook.ts',
    access: 'write',
    auth: 'none',
    usesWebhookSecret: true,
    idempotent: true,
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
  /** EventBridge schedule in the cloud; the local runtime uses EXPIRY_SWEEP_SECONDS. */
  schedule: 'rate(1 minute)',
} as const;
