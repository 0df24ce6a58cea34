// Orders against DynamoDB Local: creation, replay, expiry (before and after the sweep) and the payment window.
import { describe, expect, it } from 'vitest';
import { createHold } from '../../shared/holds/service.ts';
import { createOrder, getOrder } from '../../shared/orders/service.ts';
import { getProduct } from '../../shared/stock/service.ts';
import { sweep } from '../../shared/sweep/service.ts';
import { at, productWithStock, T0 } from '../support/fixtures.ts';

describe('creating orders', () => {
  it('turns an active hold into a pending order whose id is the hold id, keeping its stock', async () => {
    const product = await productWithStock(10, '12.50');
    const hold = await createHold(product, 3, T0);

    const { created, order } = await createOrder(hold.hold_id, at(30));

    expect(created).toBe(true);
    expect(order).toMatchObject({
      order_id: hold.hold_id,
      hold_id: hold.hold_id,
      product_id: product,
      qty: 3,
      total_price: '37.50',
      currency: 'USD',
      status: 'pending',
    });
    expect((await getProduct(product)).available).toBe(7);
    expect(await getOrder(hold.hold_id)).toEqual(order);
  });

  it('returns the same order, not created, when the same hold is ordered again', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 1, T0);
    const first = await createOrder(hold.hold_id, at(1));

    const again = await createOrder(hold.hold_id, at(2));

    expect(again).toEqual({ created: false, order: first.order });
  });

  it('creates one order when the same hold is ordered concurrently', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 2, T0);

    const results = await Promise.all(Array.from({ length: 10 }, () => createOrder(hold.hold_id, at(1))));

    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => JSON.stringify(r.order))).size).toBe(1);
    expect((await getProduct(product)).available).toBe(8);
  });

  it('refuses an order for a hold past its expiry even before the sweep', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 2, T0);

    await expect(createOrder(hold.hold_id, at(120))).rejects.toMatchObject({
      code: 'HOLD_EXPIRED',
    });
    expect((await getProduct(product)).available).toBe(8);
  });

  it('refuses an order for a hold the sweep already released', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 2, T0);
    await sweep(at(121));

    await expect(createOrder(hold.hold_id, at(122))).rejects.toMatchObject({
      code: 'HOLD_EXPIRED',
    });
    expect((await getProduct(product)).available).toBe(10);
  });

  it('answers HOLD_NOT_FOUND and ORDER_NOT_FOUND for unknown ids', async () => {
    await expect(createOrder('missing', T0)).rejects.toMatchObject({ code: 'HOLD_NOT_FOUND' });
    await expect(getOrder('missing')).rejects.toMatchObject({ code: 'ORDER_NOT_FOUND' });
  });
});

describe('payment window', () => {
  it('expires a pending order after PAYMENT_WINDOW_SECONDS and returns its stock exactly once', async () => {
    const product = await productWithStock(5);
    const hold = await createHold(product, 5, T0);
    await createOrder(hold.hold_id, at(10));

    await sweep(at(10 + 899));
    expect((await getOrder(hold.hold_id)).status).toBe('pending');

    await Promise.all([sweep(at(10 + 901)), sweep(at(10 + 901))]);

    expect((await getOrder(hold.hold_id)).status).toBe('expired');
    expect((await getProduct(product)).available).toBe(5);
  });
});
