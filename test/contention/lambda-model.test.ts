// The Lambda-model subset: every path that moves units (hold, order, payment success and failure, the expiry sweep,
// reclaim on shortage) with create-hold, create-order, the payment webhook and the sweeper each in execution
// environments of their own (worker threads of the local runtime, sharing only DynamoDB), all behind this file's
// contention endpoint. Exact counts, nothing sold twice, the ledger balanced after each.
// First: this file's contention endpoint, before the runtime copies DYNAMODB_ENDPOINT into the environments.
import '../support/contention-on.ts';

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkLedger } from '../../shared/audit/ledger.ts';
import { contention } from '../support/contention-on.ts';
import { type ApiResponse, dataOf, stackForThisFile } from '../support/http.ts';

// The defaults of shared/config.ts; this file leaves HOLD_TTL_SECONDS and PAYMENT_WINDOW_SECONDS unset.
const HOLD_TTL_MS = 120_000;
const PAYMENT_WINDOW_MS = 900_000;
/** The crowd at expiry: one buyer per create-hold environment. */
const CROWD = 40;

const stack = stackForThisFile({ caps: { 'create-hold': CROWD } });
const { api } = stack;

// Only Date is faked, and the runtime sends its offset to every environment with each invocation.
afterEach(() => vi.useRealTimers());
const travel = (ms: number) => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + ms);
};

/** Answers by status and error code, e.g. { '201': 10, '409 INSUFFICIENT_STOCK': 30 }. */
function tally(answers: readonly ApiResponse[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) {
    const key = answer.body.success ? String(answer.status) : `${answer.status} ${answer.body.error.code}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/**
 * Sends a request again, as a client told to retry does, while it is answered 503 (contention) or 409
 * REQUEST_IN_PROGRESS (a webhook delivery still running): every answer is kept, the last one is what it came to.
 */
async function retried(send: () => Promise<ApiResponse>, answers: ApiResponse[]): Promise<ApiResponse> {
  for (let attempt = 1; ; attempt++) {
    const answer = await send();
    answers.push(answer);
    const again =
      answer.status === 503 ||
      (answer.status === 409 && !answer.body.success && answer.body.error.code === 'REQUEST_IN_PROGRESS');
    if (!again || attempt === 20) return answer;
    await sleep(50 * attempt);
  }
}

/** A product made through put-product's own environment. */
async function productOf(stock: number, buckets?: number): Promise<string> {
  const id = `lm-${randomUUID().slice(0, 8)}`;
  const created = await api.put(`/api/admin/products/${id}`, {
    name: `Lambda model ${id}`,
    price: '10.00',
    stock,
    ...(buckets ? { stock_buckets: buckets } : {}),
  });
  expect(created.status).toBe(201);
  return id;
}

/** The ledger balances and the product's figures are these (stock - available - held - pending - paid = 0). */
async function expectLedger(
  product: string,
  figures: { available: number; active_holds: number; pending_orders: number; paid_orders: number },
) {
  const report = await checkLedger(product);
  expect(report.violations).toEqual([]);
  expect(report.products[0]).toMatchObject(figures);
}

const holdOf = (product: string) => api.post('/api/holds', { product_id: product, qty: 1 });
const holdIdOf = (answer: ApiResponse) => String(dataOf(answer).hold_id);

describe('every path that moves units, each function in its own execution environments', () => {
  it('sells exactly the stock to buyers who keep buying, orders every hold, and pays half and fails half', async () => {
    const stock = 48;
    const product = await productOf(stock, 4);
    const holdAnswers: ApiResponse[] = [];

    // 24 buyers, each buying again as soon as answered until told sold out (a 503 is retried as Retry-After says).
    await Promise.all(
      Array.from({ length: 24 }, async () => {
        for (;;) {
          const answer = await retried(() => holdOf(product), holdAnswers);
          if (answer.status === 409) return;
        }
      }),
    );

    const holds = tally(holdAnswers);
    expect(
      Object.keys(holds).filter(
        (key) => !['201', '409 INSUFFICIENT_STOCK', '503 SERVICE_UNAVAILABLE'].includes(key),
      ),
    ).toEqual([]);
    expect(holds['201']).toBe(stock);
    expect(holds['409 INSUFFICIENT_STOCK']).toBe(24);
    const winners = holdAnswers.filter((answer) => answer.status === 201).map(holdIdOf);
    expect(new Set(winners).size).toBe(stock);
    await expectLedger(product, { available: 0, active_holds: stock, pending_orders: 0, paid_orders: 0 });

    const orderAnswers: ApiResponse[] = [];
    const orders = await Promise.all(
      winners.map((holdId) => retried(() => api.post('/api/orders', { hold_id: holdId }), orderAnswers)),
    );

    expect(tally(orders)).toEqual({ 201: stock });
    await expectLedger(product, { available: 0, active_holds: 0, pending_orders: stock, paid_orders: 0 });

    // The first half paid, the second failed (its units go back); each delivery sent twice at once.
    const deliveries = winners.map((orderId, i) => ({
      idempotency_key: `evt_${randomUUID()}`,
      order_id: orderId,
      status: i < stock / 2 ? 'success' : 'failure',
    }));
    const webhookAnswers: ApiResponse[] = [];
    const applied = await Promise.all(
      deliveries.flatMap((delivery) => [
        retried(() => api.post('/api/payments/webhook', delivery), webhookAnswers),
        retried(() => api.post('/api/payments/webhook', delivery), webhookAnswers),
      ]),
    );

    expect(tally(applied)).toEqual({ 200: 2 * stock });
    applied.forEach((answer, i) => {
      expect(dataOf(answer).order_status).toBe(i < stock ? 'paid' : 'cancelled');
    });
    await expectLedger(product, {
      available: stock / 2,
      active_holds: 0,
      pending_orders: 0,
      paid_orders: stock / 2,
    });
    // Nothing ran in this process: each function served from environments of its own.
    const stats = stack.runtime().stats();
    for (const id of ['create-hold', 'create-order', 'payment-webhook']) {
      expect(stats[id]?.peakEnvironments, id).toBeGreaterThan(1);
    }
    console.log(
      `lambda model, sale of ${stock}: holds ${JSON.stringify(holds)}, orders ${JSON.stringify(tally(orderAnswers))}, ` +
        `webhooks ${JSON.stringify(tally(webhookAnswers))}; environments: ` +
        ['create-hold', 'create-order', 'payment-webhook']
          .map((id) => `${id} ${stats[id]?.peakEnvironments}`)
          .join(', ') +
        `; conflicts ${contention.stats().transactionConflicts}`,
    );
  });

  it("gives back expired holds' and unpaid orders' units from the sweeper's own environment", async () => {
    const product = await productOf(20, 4);
    const holds = await Promise.all(Array.from({ length: 10 }, () => holdOf(product)));
    expect(tally(holds)).toEqual({ 201: 10 });
    const ordered = holds.slice(0, 4).map(holdIdOf);
    expect(
      tally(await Promise.all(ordered.map((holdId) => api.post('/api/orders', { hold_id: holdId })))),
    ).toEqual({ 201: 4 });
    await expectLedger(product, { available: 10, active_holds: 6, pending_orders: 4, paid_orders: 0 });

    travel(HOLD_TTL_MS + 1_000);
    const holdSweep = await stack.sweep();

    expect(holdSweep).toMatchObject({ skipped: false, failures: 0 });
    expect((holdSweep as { holds_released: number }).holds_released).toBeGreaterThanOrEqual(6);
    await expectLedger(product, { available: 16, active_holds: 0, pending_orders: 4, paid_orders: 0 });

    travel(PAYMENT_WINDOW_MS);
    const orderSweep = await stack.sweep();

    expect(orderSweep).toMatchObject({ skipped: false, failures: 0 });
    expect((orderSweep as { orders_expired: number }).orders_expired).toBeGreaterThanOrEqual(4);
    await expectLedger(product, { available: 20, active_holds: 0, pending_orders: 0, paid_orders: 0 });
    for (const orderId of ordered) {
      expect(dataOf(await api.get(`/api/orders/${orderId}`)).status).toBe('expired');
    }
    expect(stack.runtime().stats()['expire-holds']).toMatchObject({ invocations: 2, errors: 0 });
  });
});
