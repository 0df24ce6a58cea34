// Shared by the fuzz tests: the routes as handlers, a sentinel product whose books must not move, and the answer checks.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { expect } from 'vitest';
import { handler as createHoldHandler } from '../../functions/create-hold.ts';
import { handler as createOrderHandler } from '../../functions/create-order.ts';
import { handler as getOrderHandler } from '../../functions/get-order.ts';
import { handler as getProductHandler } from '../../functions/get-product.ts';
import { handler as healthHandler } from '../../functions/health.ts';
import { handler as webhookHandler } from '../../functions/payment-webhook.ts';
import { handler as putProductHandler } from '../../functions/put-product.ts';
import { checkLedger } from '../../shared/audit/ledger.ts';
import { createHold } from '../../shared/holds/service.ts';
import { signatureHeader } from '../../shared/http/signature.ts';
import { createOrder } from '../../shared/orders/service.ts';
import { applyPayment } from '../../shared/payments/service.ts';
import { getProduct, type ProductView } from '../../shared/stock/service.ts';
import { at, productWithStock, T0 } from '../support/fixtures.ts';
import { type Answer, invoke, lambdaContext } from '../support/lambda.ts';

/** Must match the WEBHOOK_SECRET each fuzz file sets before importing the handlers. */
export const WEBHOOK_SECRET = 'whsec_fuzz';

export const fuzzRuns = Number(process.env.FUZZ_RUNS ?? 100);

type Handler = Parameters<typeof invoke>[0];

export interface Route {
  name: string;
  handler: Handler;
  /** A valid body (no body for GET routes). */
  body?: () => Record<string, unknown>;
  /** A valid path id for `{id}` routes. */
  pathId?: () => string;
  signed?: boolean;
}

/** The sentinel: a product with an active hold, a pending and a paid order, which rejected requests must leave alone. */
export interface Sentinel {
  product: string;
  /** Its pending order: a webhook wrongly let through would move it. */
  pendingOrder: string;
  view: ProductView;
}

export async function createSentinel(): Promise<Sentinel> {
  const product = await productWithStock(20);
  await createHold(product, 2, T0);
  const pending = await createHold(product, 3, T0);
  const paid = await createHold(product, 4, T0);
  await createOrder(pending.hold_id, at(1));
  await createOrder(paid.hold_id, at(1));
  await applyPayment(
    { idempotency_key: `evt_${randomUUID()}`, order_id: paid.hold_id, status: 'success' },
    at(2),
  );
  return { product, pendingOrder: pending.hold_id, view: await getProduct(product) };
}

const freshId = () => `fz-${randomUUID().slice(0, 12)}`;

/** Counterexamples print the route's name instead of the handler's source. */
const named = (route: Route): Route => Object.assign(route, { [fc.toStringMethod]: () => route.name });

export function routes(sentinel: Sentinel): Route[] {
  return (
    [
      { name: 'GET /api/health', handler: healthHandler },
      { name: 'GET /api/products/{id}', handler: getProductHandler, pathId: () => sentinel.product },
      { name: 'GET /api/orders/{id}', handler: getOrderHandler, pathId: freshId },
      {
        name: 'PUT /api/admin/products/{id}',
        handler: putProductHandler,
        pathId: freshId,
        body: () => ({ name: 'Fuzzed', price: '12.50', currency: 'USD', stock: 5 }),
      },
      {
        name: 'POST /api/holds',
        handler: createHoldHandler,
        body: () => ({ product_id: sentinel.product, qty: 1 }),
      },
      { name: 'POST /api/orders', handler: createOrderHandler, body: () => ({ hold_id: freshId() }) },
      {
        name: 'POST /api/payments/webhook',
        handler: webhookHandler,
        body: () => ({ idempotency_key: `evt_${randomUUID()}`, order_id: freshId(), status: 'success' }),
        signed: true,
      },
    ] satisfies Route[]
  ).map(named);
}

export const bodyRoutes = (sentinel: Sentinel) => routes(sentinel).filter((route) => route.body);

/**
 * Sends `rawBody` (undefined: no body) to a route with a valid path id unless `pathParameters` is given, and for the
 * webhook a valid signature over exactly these bytes unless an `x-signature` header is given.
 */
export function send(
  route: Route,
  rawBody: string | undefined,
  options: { headers?: Record<string, string>; pathParameters?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (route.signed && headers['x-signature'] === undefined) {
    headers['x-signature'] = signatureHeader(WEBHOOK_SECRET, rawBody ?? '');
  }
  const pathParameters =
    'pathParameters' in options ? options.pathParameters : route.pathId && { id: route.pathId() };
  return invoke(route.handler, { rawBody, headers, pathParameters });
}

/** Sends bytes the way API Gateway passes a binary body: base64 with `isBase64Encoded: true`. */
export async function sendBase64(route: Route, bytes: Uint8Array): Promise<Answer> {
  const body = Buffer.from(bytes).toString('base64');
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (route.signed)
    headers['x-signature'] = signatureHeader(WEBHOOK_SECRET, Buffer.from(bytes).toString('utf8'));
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers,
    ...(route.pathId ? { pathParameters: { id: route.pathId() } } : {}),
    body,
    isBase64Encoded: true,
    requestContext: { requestId: randomUUID(), http: { method: 'POST', path: '/' } },
  } as unknown as Parameters<Handler>[0];
  const result = await route.handler(event, lambdaContext());
  return {
    status: result.statusCode ?? 0,
    body: JSON.parse(result.body ?? 'null'),
    headers: result.headers ?? {},
  };
}

const ERROR_CODE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;

/** Never a 5xx; every answer in the envelope: success + data, or failure + UPPER_SNAKE code + message. */
export function expectWellFormed(answer: Answer, label: string): void {
  expect(answer.status, label).toBeGreaterThanOrEqual(200);
  expect(answer.status, label).toBeLessThan(500);
  if (answer.status < 300) {
    expect(answer.body, label).toMatchObject({ success: true, data: expect.any(Object) });
    expect(answer.body.error, label).toBeUndefined();
  } else {
    expect(answer.body, label).toEqual({
      success: false,
      error: expect.objectContaining({
        code: expect.stringMatching(ERROR_CODE),
        message: expect.any(String),
      }),
    });
    expect(answer.body.data, label).toBeUndefined();
  }
}

export function expectError(answer: Answer, status: number, code: string, label: string): void {
  expectWellFormed(answer, label);
  expect({ status: answer.status, code: answer.body.error?.code }, label).toEqual({ status, code });
}

const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();

/** Object.prototype has exactly the properties it had when this module loaded, and a fresh object inherits nothing new. */
export function expectPrototypeClean(label: string): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort(), label).toEqual(prototypeNames);
  const probe: Record<string, unknown> = {};
  for (const name of ['polluted', 'isAdmin', 'qty', 'status', 'product_id']) {
    expect(probe[name], `${label}: Object.prototype.${name}`).toBeUndefined();
  }
}

/** After a rejected request the sentinel's stock and available are as before; any answer leaves the ledger balanced. */
export async function expectSentinelUnmoved(
  sentinel: Sentinel,
  answer: Answer,
  label: string,
): Promise<void> {
  const now = await getProduct(sentinel.product);
  if (answer.status >= 400) expect(now, `${label}: sentinel after a rejected request`).toEqual(sentinel.view);
  sentinel.view = now;
}

export async function expectLedgerBalanced(label: string): Promise<void> {
  expect((await checkLedger()).violations, label).toEqual([]);
}

/** JSON text for any value fast-check can make (undefined, functions, symbols and bigints have no JSON form). */
export const anythingAsJson: fc.Arbitrary<string> = fc
  .anything({
    withBoxedValues: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withSparseArray: true,
  })
  .map((value) => {
    try {
      return JSON.stringify(value);
    } catch {
      return undefined;
    }
  })
  .filter((text): text is string => typeof text === 'string');

/** Nested `depth` levels deep, as JSON text (JSON.stringify would do, but text keeps it obvious what is sent). */
export const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
export const deepArray = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
