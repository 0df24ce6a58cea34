// The invocation's time budget: what it allows, how the domain's own retries stop when it is spent, and a DynamoDB
// whose name does not resolve answering 503 quickly (not 500) on every route.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { lambdaContext } from '../../infra/local/gateway.ts';

const TIMEOUT_MS = 3_000;
const RESERVE_MS = 1_000;

// The client is built from the environment when first imported: a DynamoDB whose host name never resolves.
process.env.DYNAMODB_ENDPOINT = 'http://nonexistent.invalid:8000';
process.env.INVOCATION_RESERVE_MS = String(RESERVE_MS);
process.env.TRANSACTION_MAX_ATTEMPTS = '8';
const { handler: createHoldHandler } = await import('../../functions/create-hold.ts');
const { handler: createOrderHandler } = await import('../../functions/create-order.ts');
const { handler: getOrderHandler } = await import('../../functions/get-order.ts');
const { handler: getProductHandler } = await import('../../functions/get-product.ts');
const { handler: webhookHandler } = await import('../../functions/payment-webhook.ts');
const { handler: sweepHandler } = await import('../../functions/expire-holds.ts');
const { certainlyNotWritten, isUnavailable, withContentionRetry } = await import(
  '../../shared/db/transact.ts'
);
const { BudgetSpent, budgetLeft, invocationBudgetMs, runWithBudget, withInvocationBudget } = await import(
  '../../shared/deadline.ts'
);
const { ServiceBusy } = await import('../../shared/errors.ts');
const { invoke } = await import('../support/lambda.ts');

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

describe('the invocation budget', () => {
  it('is the context’s remaining time less the reserve, and unlimited outside an invocation', async () => {
    const seen = await withInvocationBudget(async () => budgetLeft())({}, lambdaContext('f', TIMEOUT_MS));

    expect(seen).toBeGreaterThan(TIMEOUT_MS - RESERVE_MS - 100);
    expect(seen).toBeLessThanOrEqual(TIMEOUT_MS - RESERVE_MS);
    expect(budgetLeft()).toBe(Number.POSITIVE_INFINITY);
    expect(budgetLeft(4_000)).toBe(4_000);
    expect(invocationBudgetMs({ getRemainingTimeInMillis: () => 500 })).toBe(0);
    expect(invocationBudgetMs({} as Context)).toBeUndefined();
  });

  it('ends at the earlier of two nested budgets and caps every wait', () => {
    runWithBudget(1_000, () =>
      runWithBudget(5_000, () => {
        expect(budgetLeft()).toBeLessThanOrEqual(1_000);
        expect(budgetLeft(300)).toBe(300);
      }),
    );
  });

  it('stops a transaction’s contention retries with 503 once it has no room for another try', async () => {
    let tries = 0;
    const throttled = async () => {
      tries++;
      throw new ProvisionedThroughputExceededException({ message: 'throttled', $metadata: {} });
    };

    const started = performance.now();
    const error = await runWithBudget(300, () => withContentionRetry('test', throttled)).catch((e) => e);

    expect(error).toBeInstanceOf(ServiceBusy);
    expect(tries).toBeLessThan(8);
    expect(performance.now() - started).toBeLessThan(300);
  });

  it('counts an attempt the budget never sent as certainly not written, and one it cut off as unknown', () => {
    const unsent = Object.assign(new BudgetSpent(false), { $metadata: { attempts: 1 } });
    const cutOff = Object.assign(new BudgetSpent(true), { $metadata: { attempts: 1 } });
    const unsentRetry = Object.assign(new BudgetSpent(false), { $metadata: { attempts: 2 } });

    expect(certainlyNotWritten(unsent)).toBe(true);
    expect(certainlyNotWritten(cutOff)).toBe(false);
    expect(certainlyNotWritten(unsentRetry)).toBe(false);
  });

  it('calls DNS, connection and timeout failures unavailable, wrapped or not, and nothing else', () => {
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' });
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

    expect(isUnavailable(dns)).toBe(true);
    expect(isUnavailable(new Error('Failed to save record', { cause: dns }))).toBe(true);
    expect(isUnavailable(new AggregateError([refused, refused]))).toBe(true);
    expect(isUnavailable(new BudgetSpent(true))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('slow'), { name: 'TimeoutError' }))).toBe(true);
    expect(isUnavailable(new Error('a bug'))).toBe(false);
    expect(isUnavailable(new TypeError('x is undefined'))).toBe(false);
  });
});

describe('a DynamoDB whose host name does not resolve', () => {
  it('gets 503 + Retry-After from every route quickly, not 500', async () => {
    const id = `p-${randomUUID().slice(0, 8)}`;
    const requests: Array<[string, Handler, Parameters<typeof invoke>[1]]> = [
      ['POST /api/holds', createHoldHandler, { body: { product_id: id, qty: 1 } }],
      [
        'POST /api/holds with Idempotency-Key',
        createHoldHandler,
        { body: { product_id: id, qty: 1 }, headers: { 'idempotency-key': randomUUID() } },
      ],
      ['POST /api/orders', createOrderHandler, { body: { hold_id: id } }],
      ['GET /api/orders/{id}', getOrderHandler, { pathParameters: { id } }],
      ['GET /api/products/{id}', getProductHandler, { pathParameters: { id } }],
      [
        'POST /api/payments/webhook',
        webhookHandler,
        { body: { idempotency_key: `evt_${randomUUID()}`, order_id: id, status: 'success' } },
      ],
    ];

    const answers = await Promise.all(
      requests.map(async ([what, handler, request]) => {
        const started = performance.now();
        const answer = await invoke(handler, { ...request, timeoutMs: TIMEOUT_MS });
        return { what, answer, elapsed: performance.now() - started };
      }),
    );

    for (const { what, answer, elapsed } of answers) {
      expect(answer, what).toMatchObject({ status: 503, headers: { 'Retry-After': '1' } });
      expect(answer.body, what).toEqual({
        success: false,
        error: { code: 'SERVICE_UNAVAILABLE', message: expect.any(String) },
      });
      // The SDK's three attempts and their short backoffs, well inside the budget.
      expect(elapsed, what).toBeLessThan(TIMEOUT_MS - RESERVE_MS);
    }
  });

  it('fails a sweep quickly, for EventBridge to retry', async () => {
    const started = performance.now();

    const outcome = await sweepHandler({}, lambdaContext('expire-holds', TIMEOUT_MS)).then(
      () => 'finished',
      (error: unknown) => (error as { code?: string }).code,
    );

    expect(outcome).toBe('ENOTFOUND');
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS - RESERVE_MS);
  });
});
