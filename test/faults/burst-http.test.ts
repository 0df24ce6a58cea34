// A 2,000-buyer flash sale over real HTTP through the local gateway, then orders and triple-delivered webhooks.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkLedger } from '../../shared/audit/ledger.ts';
import { type ApiResponse, apiForThisFile, dataOf, errorOf } from '../support/http.ts';

const BUYERS = 2000;
const STOCK = 100;

const api = apiForThisFile();

const tally = (answers: ApiResponse[]) =>
  answers.reduce<Record<string, number>>((counts, answer) => {
    const key = answer.body.success ? String(answer.status) : `${answer.status} ${answer.body.error.code}`;
    counts[key] = (counts[key] ?? 0) + 1;
    return counts;
  }, {});

describe('a flash sale over HTTP', () => {
  it('grants exactly the stock to 2,000 concurrent buyers, then orders and pays half, each webhook delivered three times', async () => {
    const product = `sale-${randomUUID().slice(0, 8)}`;
    const created = await api.put(`/api/admin/products/${product}`, {
      name: 'Sale',
      price: '9.99',
      stock: STOCK,
    });
    expect(created.status).toBe(201);

    const holds = await Promise.all(
      Array.from({ length: BUYERS }, () => api.post('/api/holds', { product_id: product, qty: 1 })),
    );

    expect(tally(holds)).toEqual({ 201: STOCK, '409 INSUFFICIENT_STOCK': BUYERS - STOCK });
    const winners = holds.filter((a) => a.status === 201).map((a) => String(dataOf(a).hold_id));
    expect(new Set(winners).size).toBe(STOCK);

    const orders = await Promise.all(winners.map((holdId) => api.post('/api/orders', { hold_id: holdId })));

    expect(tally(orders)).toEqual({ 201: STOCK });
    for (const order of orders) expect(dataOf(order).status).toBe('pending');

    // First half paid, second half failed; two deliveries race, a third comes later.
    const deliveries = winners.map((holdId, i) => ({
      idempotency_key: `evt_${randomUUID()}`,
      order_id: holdId,
      status: i < STOCK / 2 ? 'success' : 'failure',
    }));
    const racing = await Promise.all(
      deliveries.flatMap((delivery) => [
        api.post('/api/payments/webhook', delivery),
        api.post('/api/payments/webhook', delivery),
      ]),
    );
    const late = await Promise.all(deliveries.map((delivery) => api.post('/api/payments/webhook', delivery)));

    for (const answer of racing) {
      if (answer.status === 409) expect(errorOf(answer).code).toBe('REQUEST_IN_PROGRESS');
      else expect(answer.status).toBe(200);
    }
    deliveries.forEach((delivery, i) => {
      const expected = delivery.status === 'success' ? 'paid' : 'cancelled';
      const pair = [racing[2 * i], racing[2 * i + 1]].filter((a) => a?.status === 200);
      expect(pair.length, `order ${delivery.order_id}`).toBeGreaterThanOrEqual(1);
      for (const answer of [...pair, late[i]]) {
        expect(answer?.status).toBe(200);
        expect(answer && dataOf(answer).order_status).toBe(expected);
      }
    });
    const statuses = await Promise.all(
      winners.map(async (holdId) => dataOf(await api.get(`/api/orders/${holdId}`)).status),
    );
    expect(tally(late)).toEqual({ 200: STOCK });
    expect(statuses.filter((s) => s === 'paid')).toHaveLength(STOCK / 2);
    expect(statuses.filter((s) => s === 'cancelled')).toHaveLength(STOCK / 2);
    expect(dataOf(await api.get(`/api/products/${product}`))).toMatchObject({
      stock: STOCK,
      available: STOCK / 2,
    });
    expect((await checkLedger(product)).violations).toEqual([]);
  }, 60_000);
});
