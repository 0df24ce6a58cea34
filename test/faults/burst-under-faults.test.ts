// A flash-sale burst through the handlers with 20% of DynamoDB calls failing: never a 500, and the books balance after.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as createHoldHandler } from '../../functions/create-hold.ts';
import { handler as createOrderHandler } from '../../functions/create-order.ts';
import { handler as sweepHandler } from '../../functions/expire-holds.ts';
import { handler as webhookHandler } from '../../functions/payment-webhook.ts';
import { handler as putProductHandler } from '../../functions/put-product.ts';
import { ALL_FAULTS, injected, seededRandom, setFaultPlan } from '../../infra/local/faults.ts';
import { checkLedger } from '../../shared/audit/ledger.ts';
import { getOrderSlot } from '../../shared/orders/service.ts';
import { getProduct } from '../../shared/stock/service.ts';
import { at, T0 } from '../support/fixtures.ts';
import { type Answer, invoke, lambdaContext } from '../support/lambda.ts';

const seed = Number(process.env.FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const BUYERS = 400;
const STOCK = 50;

/** Every answer under faults: a success, a client error, or 503 that says when to retry; never a 500. */
function expectNoServerFault(answers: Answer[], label: string): void {
  for (const answer of answers) {
    const where = `${label} (FAULT_SEED=${seed}): ${JSON.stringify(answer)}`;
    expect(answer.status < 500 || answer.status === 503, where).toBe(true);
    if (answer.status === 503) {
      expect(answer.body.error?.code, where).toBe('SERVICE_UNAVAILABLE');
      expect(answer.headers['Retry-After'], where).toBeDefined();
    }
  }
}

const describeAnswer = (answer: Answer) =>
  answer.body.error ? `${answer.status} ${answer.body.error.code}` : String(answer.status);

/** Resends until the answer is 2xx (faults are off by then; in-progress records have expired). */
async function retryUntilDone(send: () => Promise<Answer>, label: string): Promise<Answer> {
  for (let attempt = 1; ; attempt++) {
    const answer = await send();
    if (answer.status < 300) return answer;
    if (attempt === 3) throw new Error(`${label} still answers ${JSON.stringify(answer)}`);
  }
}

async function sweepAt(now: Date): Promise<unknown> {
  vi.setSystemTime(now);
  return sweepHandler({}, lambdaContext('expire-holds')).catch((error: unknown) => error);
}

describe('a burst under 20% injected faults', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    setFaultPlan(undefined);
    vi.useRealTimers();
  });

  it('answers 2xx, 4xx or 503 + Retry-After to holds, orders, duplicate webhooks and sweeps, and balances once settled', async () => {
    console.log(`burst under faults: FAULT_SEED=${seed}`);
    const product = `burst-${randomUUID().slice(0, 8)}`;
    const created = await invoke(putProductHandler, {
      pathParameters: { id: product },
      body: { name: 'Burst', price: '5.00', currency: 'USD', stock: STOCK },
    });
    expect(created.status).toBe(201);
    const injectedBefore = Object.values(injected).reduce((a, b) => a + b, 0);
    setFaultPlan({ rate: 0.2, kinds: ALL_FAULTS, random: seededRandom(seed) });

    // Holds: every fourth buyer sends an Idempotency-Key.
    const holdRequests = Array.from({ length: BUYERS }, (_, i) => ({
      body: { product_id: product, qty: 1 },
      headers: (i % 4 === 0 ? { 'idempotency-key': `burst-${seed}-${i}` } : {}) as Record<string, string>,
    }));
    const holdAnswers = await Promise.all(holdRequests.map((request) => invoke(createHoldHandler, request)));
    expectNoServerFault(holdAnswers, 'hold');
    for (const answer of holdAnswers) {
      expect([
        '201',
        '409 INSUFFICIENT_STOCK',
        '409 REQUEST_IN_PROGRESS',
        '503 SERVICE_UNAVAILABLE',
      ]).toContain(describeAnswer(answer));
    }
    const winners = holdAnswers.filter((a) => a.status === 201).map((a) => String(a.body.data?.hold_id));
    expect(winners.length).toBeGreaterThan(0);
    expect(winners.length).toBeLessThanOrEqual(STOCK);
    expect(new Set(winners).size).toBe(winners.length);

    // Orders, then two concurrent deliveries per webhook: success for even winners, failure for odd ones.
    vi.setSystemTime(at(5));
    const orderAnswers = await Promise.all(
      winners.map((holdId) => invoke(createOrderHandler, { body: { hold_id: holdId } })),
    );
    expectNoServerFault(orderAnswers, 'order');
    for (const answer of orderAnswers)
      expect(['200', '201', '503 SERVICE_UNAVAILABLE']).toContain(describeAnswer(answer));

    vi.setSystemTime(at(6));
    const deliveries = winners.map((holdId, i) => ({
      body: {
        idempotency_key: `evt-${seed}-${i}`,
        order_id: holdId,
        status: i % 2 === 0 ? 'success' : 'failure',
      },
    }));
    const webhookAnswers = await Promise.all(
      deliveries.flatMap((delivery) => [invoke(webhookHandler, delivery), invoke(webhookHandler, delivery)]),
    );
    expectNoServerFault(webhookAnswers, 'webhook');
    webhookAnswers.forEach((answer, j) => {
      const expectedStatus = Math.floor(j / 2) % 2 === 0 ? 'paid' : 'cancelled';
      expect(['200', '202', '409 REQUEST_IN_PROGRESS', '503 SERVICE_UNAVAILABLE']).toContain(
        describeAnswer(answer),
      );
      if (answer.status === 200) expect(answer.body.data?.order_status).toBe(expectedStatus);
    });
    await sweepAt(at(7));
    const tally = (answers: Answer[]) =>
      answers.reduce<Record<string, number>>((counts, a) => {
        counts[describeAnswer(a)] = (counts[describeAnswer(a)] ?? 0) + 1;
        return counts;
      }, {});
    console.log(
      'holds',
      tally(holdAnswers),
      'orders',
      tally(orderAnswers),
      'webhooks',
      tally(webhookAnswers),
    );
    expect(Object.values(injected).reduce((a, b) => a + b, 0) - injectedBefore).toBeGreaterThan(50);

    // Faults off, in-progress records expired (10 s): retry whatever did not succeed, then deliver everything once more.
    setFaultPlan(undefined);
    vi.setSystemTime(at(30));
    for (const [i, holdId] of winners.entries()) {
      if ((orderAnswers[i]?.status ?? 503) >= 300) {
        await retryUntilDone(
          () => invoke(createOrderHandler, { body: { hold_id: holdId } }),
          `order ${holdId}`,
        );
      }
    }
    for (const [i, delivery] of deliveries.entries()) {
      const answered = [webhookAnswers[2 * i], webhookAnswers[2 * i + 1]].some(
        (a) => (a?.status ?? 503) < 300,
      );
      if (!answered) await retryUntilDone(() => invoke(webhookHandler, delivery), `webhook ${i}`);
    }
    const lateDuplicates = await Promise.all(deliveries.map((delivery) => invoke(webhookHandler, delivery)));
    for (const answer of lateDuplicates) expect([200, 202]).toContain(answer.status);
    for (const [i, request] of holdRequests.entries()) {
      if (holdAnswers[i]?.status === 503) await invoke(createHoldHandler, request);
    }

    // One sweep under faults after the holds expire, then a clean one past every deadline.
    setFaultPlan({ rate: 0.2, kinds: ALL_FAULTS, random: seededRandom(seed + 1) });
    await sweepAt(at(200));
    setFaultPlan(undefined);
    const finalSweep = await sweepAt(at(2000));

    expect(finalSweep).toMatchObject({ failures: 0 });
    expect((await checkLedger(product)).violations).toEqual([]);
    const statuses = await Promise.all(
      winners.map(async (holdId) => {
        const slot = await getOrderSlot(holdId);
        return slot?.entity === 'order' ? slot.status : slot?.entity;
      }),
    );
    const paid = winners.filter((_, i) => i % 2 === 0).length;
    expect(statuses).toEqual(winners.map((_, i) => (i % 2 === 0 ? 'paid' : 'cancelled')));
    expect(await getProduct(product)).toMatchObject({ stock: STOCK, available: STOCK - paid });
  }, 120_000);
});
