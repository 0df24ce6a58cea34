// The Lambda-model subset under faults: a sale through create-hold, create-order, the payment webhook and the sweeper,
// each in execution environments of its own (sharing only DynamoDB), behind this file's contention endpoint, with 20 %
// of every environment's DynamoDB calls failing (FAULT_INJECTION, armed by each environment on its own client).
// Answers are 2xx, 4xx or 503 + Retry-After; once settled by a second stack without faults, every unit is accounted
// for exactly.
// First: this file's contention endpoint, before the runtimes copy DYNAMODB_ENDPOINT into the environments.
import '../support/contention-on.ts';

import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { stackFunctions } from '../../infra/local/environments.ts';
import { checkLedger } from '../../shared/audit/ledger.ts';
import { type ApiResponse, dataOf, stackForThisFile } from '../support/http.ts';

const STOCK = 30;
const BUYERS = 20;
// The defaults of shared/config.ts; this file leaves HOLD_TTL_SECONDS and PAYMENT_WINDOW_SECONDS unset.
const HOLD_TTL_MS = 120_000;
const PAYMENT_WINDOW_MS = 900_000;

// Every function's environments arm faults on their own client. Each seeds its faults when it starts (FAULT_SEED
// unset), so environments do not fail in step; the sequence does not replay, the assertions hold for any.
const faulty = stackForThisFile({
  functionEnv: Object.fromEntries(stackFunctions.map(({ id }) => [id, { FAULT_INJECTION: '0.2' }])),
});
// The same functions without faults, sharing the same DynamoDB: the buyer's and provider's later retries.
const clean = stackForThisFile();

afterEach(() => vi.useRealTimers());
const travel = (ms: number) => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + ms);
};

const describeAnswer = (answer: ApiResponse) =>
  answer.body.success ? String(answer.status) : `${answer.status} ${answer.body.error.code}`;

function tally(answers: readonly ApiResponse[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) counts[describeAnswer(answer)] = (counts[describeAnswer(answer)] ?? 0) + 1;
  return counts;
}

/** Every answer under faults: its code among `allowed`, and a 503 says when to retry; never a 500. */
function expectOnly(answers: readonly ApiResponse[], allowed: readonly string[], label: string): void {
  for (const answer of answers) {
    expect(allowed, `${label}: ${JSON.stringify(answer.body)}`).toContain(describeAnswer(answer));
    if (answer.status === 503) expect(answer.headers.get('retry-after'), label).not.toBeNull();
  }
}

describe('a sale under 20 % injected faults, each function in its own execution environments', () => {
  it('answers only 2xx, 4xx or 503 + Retry-After, and once retried without faults every unit is accounted for', async () => {
    const product = `lmf-${randomUUID().slice(0, 8)}`;
    const created = await clean.api.put(`/api/admin/products/${product}`, {
      name: 'Faulty sale',
      price: '5.00',
      stock: STOCK,
      stock_buckets: 3,
    });
    expect(created.status).toBe(201);

    // Buyers keep buying until told sold out; a 503 is sent again (40 requests each at most).
    const holdAnswers: ApiResponse[] = [];
    await Promise.all(
      Array.from({ length: BUYERS }, async () => {
        for (let tries = 0; tries < 40; tries++) {
          const answer = await faulty.api.post('/api/holds', { product_id: product, qty: 1 });
          holdAnswers.push(answer);
          if (answer.status === 409) return;
        }
      }),
    );
    expectOnly(holdAnswers, ['201', '409 INSUFFICIENT_STOCK', '503 SERVICE_UNAVAILABLE'], 'hold');
    const winners = holdAnswers
      .filter((answer) => answer.status === 201)
      .map((a) => String(dataOf(a).hold_id));
    expect(new Set(winners).size).toBe(winners.length);
    expect(winners.length).toBeGreaterThan(0);
    // Sold out for every buyer: no unit left, each taken by a granted hold or by one whose answer was lost (503).
    const afterHolds = await checkLedger(product);
    expect(afterHolds.violations).toEqual([]);
    expect(afterHolds.products[0]).toMatchObject({ available: 0, active_holds: STOCK });
    expect(winners.length).toBeLessThanOrEqual(STOCK);

    const orderAnswers = await Promise.all(
      winners.map((holdId) => faulty.api.post('/api/orders', { hold_id: holdId })),
    );
    expectOnly(orderAnswers, ['200', '201', '503 SERVICE_UNAVAILABLE'], 'order');

    const deliveries = winners.map((orderId, i) => ({
      idempotency_key: `evt_${randomUUID()}`,
      order_id: orderId,
      status: i % 2 === 0 ? 'success' : 'failure',
    }));
    const webhookAnswers = await Promise.all(
      deliveries.flatMap((delivery) => [
        faulty.api.post('/api/payments/webhook', delivery),
        faulty.api.post('/api/payments/webhook', delivery),
      ]),
    );
    expectOnly(
      webhookAnswers,
      ['200', '202', '409 REQUEST_IN_PROGRESS', '503 SERVICE_UNAVAILABLE'],
      'webhook',
    );
    const faultySweep = await faulty.sweep().then(
      () => 'ok',
      (error: Error) => error.message,
    );

    // Later, without faults (in-progress idempotency records have expired): every order placed, every outcome
    // delivered once more, as the buyer's and the provider's retries would.
    travel(30_000);
    const orders = await Promise.all(
      winners.map((holdId) => clean.api.post('/api/orders', { hold_id: holdId })),
    );
    // 200 for an order that landed under faults though its answer was a 503, 201 for one placed now.
    expectOnly(orders, ['200', '201'], 'order retried');
    const outcomes = await Promise.all(
      deliveries.map((delivery) => clean.api.post('/api/payments/webhook', delivery)),
    );
    // A duplicate replays the first answer: 202 for a payment parked while its order did not exist yet (the order
    // or the sweep applies it), 200 with the outcome otherwise.
    expectOnly(outcomes, ['200', '202'], 'webhook delivered again');
    outcomes.forEach((answer, i) => {
      if (answer.status === 200) expect(dataOf(answer).order_status).toBe(i % 2 === 0 ? 'paid' : 'cancelled');
    });
    // Holds nobody was told about (their answer was a 503) expire; unpaid orders cannot remain.
    travel(HOLD_TTL_MS + PAYMENT_WINDOW_MS);
    expect(await clean.sweep()).toMatchObject({ skipped: false, failures: 0 });

    const paid = deliveries.filter((delivery) => delivery.status === 'success').length;
    const report = await checkLedger(product);
    expect(report.violations).toEqual([]);
    expect(report.products[0]).toMatchObject({
      stock: STOCK,
      available: STOCK - paid,
      active_holds: 0,
      pending_orders: 0,
      paid_orders: paid,
    });
    for (const [i, orderId] of winners.entries()) {
      expect(dataOf(await clean.api.get(`/api/orders/${orderId}`)).status).toBe(
        i % 2 === 0 ? 'paid' : 'cancelled',
      );
    }
    console.log(
      `lambda model under faults: holds ${JSON.stringify(tally(holdAnswers))} (${STOCK - winners.length} unit(s) ` +
        `behind a 503 until the sweep), orders ${JSON.stringify(tally(orderAnswers))}, webhooks ` +
        `${JSON.stringify(tally(webhookAnswers))}, sweep under faults: ${faultySweep}`,
    );
  }, 120_000);
});
