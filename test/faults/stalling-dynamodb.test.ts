// A DynamoDB that accepts connections and never answers (or writes, then never answers), behind real handlers given
// a short Lambda timeout: every one answers 503 + Retry-After with its reserve still left, never a Lambda timeout,
// and what a lost write did is reconciled by the retry as before.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { lambdaContext } from '../../infra/local/gateway.ts';

/** What the stand-in DynamoDB does with a request. */
type Behaviour =
  | 'answer'
  /** Accepts the request and never answers. */
  | 'stall'
  /** Passes TransactWriteItems on to DynamoDB (it lands) and never answers; everything else is answered. */
  | 'lose-transaction-answers';

/** Sits between the client and DynamoDB Local: answers, stalls, or lets writes land and loses their answers. */
async function startStandIn(upstream: string) {
  let behaviour: Behaviour = 'answer';
  const seen: Array<{ target: string; at: number }> = [];
  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const target = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    seen.push({ target, at: performance.now() });
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    if (behaviour === 'stall') return;
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(
        (entry): entry is [string, string] =>
          typeof entry[1] === 'string' && !['host', 'connection', 'content-length'].includes(entry[0]),
      ),
    );
    const answer = await fetch(upstream, { method: 'POST', headers, body: Buffer.concat(chunks) });
    const body = Buffer.from(await answer.arrayBuffer());
    if (behaviour === 'lose-transaction-answers' && target === 'TransactWriteItems') return;
    res.writeHead(answer.status, {
      'content-type': answer.headers.get('content-type') ?? 'application/json',
    });
    res.end(body);
  };
  const server = createServer((req, res) => {
    onRequest(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    set: (next: Behaviour) => {
      behaviour = next;
    },
    /** Requests (one per SDK attempt) received since the last call, with when they arrived. */
    take: () => seen.splice(0),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const TIMEOUT_MS = 3_000;
// The default reserve: the budget ends 1 s before the timeout, and middy's backstop would answer at 0.5 s before.
const RESERVE_MS = 1_000;
const BUDGET_MS = TIMEOUT_MS - RESERVE_MS;
// Shorter than the budget, so the SDK has time to retry a stalled attempt once.
const REQUEST_TIMEOUT_MS = 1_000;

// The client is built from the environment when first imported: point it at the stand-in first.
const standIn = await startStandIn(String(process.env.DYNAMODB_ENDPOINT));
process.env.DYNAMODB_ENDPOINT = standIn.url;
process.env.DYNAMODB_REQUEST_TIMEOUT_MS = String(REQUEST_TIMEOUT_MS);
process.env.INVOCATION_RESERVE_MS = String(RESERVE_MS);
const { handler: createHoldHandler } = await import('../../functions/create-hold.ts');
const { handler: createOrderHandler } = await import('../../functions/create-order.ts');
const { handler: getOrderHandler } = await import('../../functions/get-order.ts');
const { handler: getProductHandler } = await import('../../functions/get-product.ts');
const { handler: webhookHandler } = await import('../../functions/payment-webhook.ts');
const { handler: sweepHandler } = await import('../../functions/expire-holds.ts');
const { checkLedger } = await import('../../shared/audit/ledger.ts');
const { MIN_ATTEMPT_MS } = await import('../../shared/deadline.ts');
const { getHold } = await import('../../shared/holds/items.ts');
const { createHold } = await import('../../shared/holds/service.ts');
const { createOrder, getOrderSlot } = await import('../../shared/orders/service.ts');
const { getProduct } = await import('../../shared/stock/service.ts');
const { forgetViews } = await import('../../shared/stock/view.ts');
const { at, productWithStock, T0 } = await import('../support/fixtures.ts');
const { invoke } = await import('../support/lambda.ts');

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** Invokes `handler` with a TIMEOUT_MS timeout; the answer and how long it took. */
async function timed(handler: Handler, request: Parameters<typeof invoke>[1]) {
  const started = performance.now();
  const answer = await invoke(handler, { ...request, timeoutMs: TIMEOUT_MS });
  return { answer, elapsed: performance.now() - started };
}

/** 503 SERVICE_UNAVAILABLE in the envelope with Retry-After, early enough to leave half the reserve unused. */
function expectBusyInTime({ answer, elapsed }: Awaited<ReturnType<typeof timed>>, what: string): void {
  expect(answer, what).toMatchObject({ status: 503, headers: { 'Retry-After': '1' } });
  expect(answer.body, what).toEqual({
    success: false,
    error: { code: 'SERVICE_UNAVAILABLE', message: expect.any(String) },
  });
  // Answered by the budget, not by the Lambda timeout (nor by middy's backstop halfway into the reserve).
  expect(elapsed, what).toBeLessThan(TIMEOUT_MS - RESERVE_MS / 2);
}

afterAll(() => standIn.close());

describe('a DynamoDB that accepts connections and never answers', () => {
  beforeEach(() => {
    forgetViews();
    standIn.set('answer');
  });

  it('gets 503 + Retry-After from every route before the Lambda timeout, with the reserve left', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 1, new Date());
    await createOrder(hold.hold_id, new Date());
    forgetViews();
    standIn.set('stall');

    const [plainHold, keyedHold, order, readOrder, readProduct, webhook] = await Promise.all([
      timed(createHoldHandler, { body: { product_id: product, qty: 1 } }),
      timed(createHoldHandler, {
        body: { product_id: product, qty: 1 },
        headers: { 'idempotency-key': randomUUID() },
      }),
      timed(createOrderHandler, { body: { hold_id: hold.hold_id } }),
      timed(getOrderHandler, { pathParameters: { id: hold.hold_id } }),
      timed(getProductHandler, { pathParameters: { id: product } }),
      timed(webhookHandler, {
        body: { idempotency_key: `evt_${randomUUID()}`, order_id: hold.hold_id, status: 'success' },
      }),
    ]);

    expectBusyInTime(plainHold, 'POST /api/holds');
    expectBusyInTime(keyedHold, 'POST /api/holds with Idempotency-Key');
    expectBusyInTime(order, 'POST /api/orders');
    expectBusyInTime(readOrder, 'GET /api/orders/{id}');
    expectBusyInTime(readProduct, 'GET /api/products/{id}');
    expectBusyInTime(webhook, 'POST /api/payments/webhook');
  });

  it('retries a stalled attempt while the budget has room for it, and starts none in its last moments', async () => {
    const product = await productWithStock(10);
    standIn.set('stall');
    standIn.take();

    const started = performance.now();
    const read = await timed(getOrderHandler, { pathParameters: { id: product } });

    const attempts = standIn.take();
    expectBusyInTime(read, 'GET /api/orders/{id}');
    // The first attempt times out after REQUEST_TIMEOUT_MS and the SDK retries; the retry is cut off by the
    // budget's end, and no third attempt starts with too little time left.
    expect(attempts.map((attempt) => attempt.target)).toEqual(['GetItem', 'GetItem']);
    for (const attempt of attempts) expect(attempt.at - started).toBeLessThan(BUDGET_MS - MIN_ATTEMPT_MS);
  });

  it('lets a sweep end before its timeout', async () => {
    standIn.set('stall');
    // The sweeper's own budget (expire-holds.ts), nothing added by the test.
    const sweep = sweepHandler;

    const started = performance.now();
    const outcome = await sweep({}, lambdaContext('expire-holds', TIMEOUT_MS)).then(
      () => 'finished',
      (error: unknown) => (error as Error).name,
    );

    expect(outcome).toBe('BudgetSpent');
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS - RESERVE_MS / 2);
  });
});

describe('a DynamoDB that applies a transaction and never answers', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    forgetViews();
    standIn.set('answer');
  });
  afterEach(() => {
    standIn.set('answer');
    vi.useRealTimers();
  });

  it('answers a hold 503 in time; its retry with the same Idempotency-Key holds the stock once the first expires', async () => {
    const product = await productWithStock(4);
    const request = { body: { product_id: product, qty: 2 }, headers: { 'idempotency-key': randomUUID() } };
    standIn.set('lose-transaction-answers');

    const first = await timed(createHoldHandler, request);

    expectBusyInTime(first, 'POST /api/holds');
    // The lost write took its units: the ledger still balances.
    expect((await checkLedger(product)).violations).toEqual([]);
    standIn.set('answer');
    // Past the first invocation's timeout, when its idempotency record no longer counts as in progress.
    vi.setSystemTime(at(11));
    const retry = await invoke(createHoldHandler, request);
    expect(retry.status).toBe(201);
    // Past the first attempt's expiry (if it made a hold other than the retry's, the sweep gives its units back).
    vi.setSystemTime(at(120.5));
    await sweepHandler({}, lambdaContext('expire-holds'));
    const retryHold = await getHold(String(retry.body.data?.hold_id));
    const stillHeld = retryHold?.status === 'active' ? 2 : 0;
    expect((await getProduct(product)).available).toBe(4 - stillHeld);
    expect((await checkLedger(product)).violations).toEqual([]);
  });

  it('answers an order 503 in time; its retry returns the one order', async () => {
    const product = await productWithStock(5);
    const hold = await createHold(product, 2, T0);
    standIn.set('lose-transaction-answers');

    const first = await timed(createOrderHandler, { body: { hold_id: hold.hold_id } });

    expectBusyInTime(first, 'POST /api/orders');
    expect(await getOrderSlot(hold.hold_id)).toMatchObject({ entity: 'order', status: 'pending' });
    standIn.set('answer');
    const retry = await invoke(createOrderHandler, { body: { hold_id: hold.hold_id } });
    expect(retry).toMatchObject({
      status: 200,
      body: { data: { order_id: hold.hold_id, status: 'pending' } },
    });
    expect((await getProduct(product)).available).toBe(3);
    expect((await checkLedger(product)).violations).toEqual([]);
  });

  it('answers a payment 503 in time; its redelivery is answered with the outcome, applied once', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 3, T0);
    await createOrder(hold.hold_id, T0);
    const delivery = {
      body: { idempotency_key: `evt_${randomUUID()}`, order_id: hold.hold_id, status: 'success' },
    };
    standIn.set('lose-transaction-answers');

    const first = await timed(webhookHandler, delivery);

    expectBusyInTime(first, 'POST /api/payments/webhook');
    standIn.set('answer');
    vi.setSystemTime(at(11));
    const redelivery = await invoke(webhookHandler, delivery);
    expect(redelivery).toMatchObject({ status: 200, body: { data: { order_status: 'paid' } } });
    expect(await getOrderSlot(hold.hold_id)).toMatchObject({ status: 'paid' });
    expect((await getProduct(product)).available).toBe(7);
    expect((await checkLedger(product)).violations).toEqual([]);
  });
});
