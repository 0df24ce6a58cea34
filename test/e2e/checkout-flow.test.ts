import { describe, expect, it } from 'vitest';
import { seed } from '../../infra/local/seed.ts';
import { apiForThisFile, dataOf } from '../support/http.ts';

const api = apiForThisFile();

describe('the README curl flow over HTTP', () => {
  it('takes the seeded product from hold to order to a paid order', async () => {
    await seed();

    const product = await api.get('/api/products/1');
    expect(product.status).toBe(200);
    expect(dataOf(product)).toEqual({
      id: '1',
      name: 'Flash Sale Sneakers',
      price: '49.99',
      currency: 'USD',
      stock: 100,
      available: 100,
      stock_buckets: 2,
    });

    const hold = await api.post('/api/holds', { product_id: 1, qty: 2 });
    expect(hold.status).toBe(201);
    expect(dataOf(hold)).toMatchObject({ product_id: '1', qty: 2, status: 'active' });
    const holdId = String(dataOf(hold).hold_id);
    expect(dataOf(await api.get('/api/products/1'))).toMatchObject({ stock: 100, available: 98 });

    const order = await api.post('/api/orders', { hold_id: holdId });
    expect(order.status).toBe(201);
    expect(dataOf(order)).toMatchObject({
      order_id: holdId,
      hold_id: holdId,
      qty: 2,
      total_price: '99.98',
      currency: 'USD',
      status: 'pending',
    });

    const payment = await api.post('/api/payments/webhook', {
      idempotency_key: 'pay-1',
      order_id: holdId,
      status: 'success',
    });
    expect(payment.status).toBe(200);
    expect(dataOf(payment)).toEqual({ order_id: holdId, order_status: 'paid' });

    const paid = await api.get(`/api/orders/${holdId}`);
    expect(paid.status).toBe(200);
    expect(dataOf(paid)).toMatchObject({ order_id: holdId, status: 'paid', total_price: '99.98' });
    expect(dataOf(await api.get('/api/products/1'))).toMatchObject({ stock: 100, available: 98 });
  });

  it('answers the same order when the order request is repeated', async () => {
    await api.put('/api/admin/products/repeat', { name: 'Repeat', price: '5.00', stock: 3 });
    const holdId = String(dataOf(await api.post('/api/holds', { product_id: 'repeat', qty: 1 })).hold_id);

    const first = await api.post('/api/orders', { hold_id: holdId });
    const second = await api.post('/api/orders', { hold_id: holdId });

    expect([first.status, second.status]).toEqual([201, 200]);
    expect(dataOf(second)).toEqual(dataOf(first));
    expect(dataOf(await api.get('/api/products/repeat'))).toMatchObject({ stock: 3, available: 2 });
  });
});
