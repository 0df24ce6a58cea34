// Payment outcomes against DynamoDB Local: the old system's webhook scenarios and the exactly-once rules.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { getHold } from '../../shared/holds/items.ts';
import { createHold } from '../../shared/holds/service.ts';
import { createOrder, getOrder } from '../../shared/orders/service.ts';
import { applyPayment } from '../../shared/payments/service.ts';
import { getProduct } from '../../shared/stock/service.ts';
import { sweep } from '../../shared/sweep/service.ts';
import { at, productWithStock, T0 } from '../support/fixtures.ts';

const key = () => `evt_${randomUUID()}`;

async function pendingOrder(stock = 10, qty = 2) {
  const product = await productWithStock(stock);
  const hold = await createHold(product, qty, T0);
  await createOrder(hold.hold_id, at(5));
  return { product, orderId: hold.hold_id };
}

describe('payment webhooks on existing orders', () => {
  it('marks the order paid on success and keeps the units sold', async () => {
    const { product, orderId } = await pendingOrder(10, 2);

    const result = await applyPayment(
      { idempotency_key: key(), order_id: orderId, status: 'success' },
      at(6),
    );

    expect(result).toEqual({ outcome: 'applied', order_id: orderId, order_status: 'paid' });
    expect((await getOrder(orderId)).status).toBe('paid');
    expect((await getProduct(product)).available).toBe(8);
  });

  it('cancels the order on failure and returns its stock exactly once, even for duplicates', async () => {
    const { product, orderId } = await pendingOrder(10, 3);
    const k = key();

    await Promise.all(
      Array.from({ length: 5 }, () =>
        applyPayment({ idempotency_key: k, order_id: orderId, status: 'failure' }, at(6)),
      ),
    );

    expect((await getOrder(orderId)).status).toBe('cancelled');
    expect((await getProduct(product)).available).toBe(10);
  });

  it('applies a duplicate delivery of the same key once and answers the same', async () => {
    const { orderId } = await pendingOrder();
    const k = key();
    const first = await applyPayment({ idempotency_key: k, order_id: orderId, status: 'success' }, at(6));

    const second = await applyPayment({ idempotency_key: k, order_id: orderId, status: 'success' }, at(600));

    expect(second).toEqual(first);
  });

  it('refuses a failure after paid with ORDER_ALREADY_FINALIZED and stays paid', async () => {
    const { product, orderId } = await pendingOrder(10, 2);
    await applyPayment({ idempotency_key: key(), order_id: orderId, status: 'success' }, at(6));

    await expect(
      applyPayment({ idempotency_key: key(), order_id: orderId, status: 'failure' }, at(7)),
    ).rejects.toMatchObject({
      code: 'ORDER_ALREADY_FINALIZED',
    });
    expect((await getOrder(orderId)).status).toBe('paid');
    expect((await getProduct(product)).available).toBe(8);
  });

  it('keeps webhooks for different orders independent', async () => {
    const a = await pendingOrder(10, 1);
    const b = await pendingOrder(10, 1);

    await applyPayment({ idempotency_key: key(), order_id: a.orderId, status: 'success' }, at(6));
    await applyPayment({ idempotency_key: key(), order_id: b.orderId, status: 'failure' }, at(6));

    expect((await getOrder(a.orderId)).status).toBe('paid');
    expect((await getOrder(b.orderId)).status).toBe('cancelled');
  });

  it('lets exactly one of several racing outcomes for one order win', async () => {
    const { product, orderId } = await pendingOrder(10, 4);
    const outcomes = ['success', 'failure', 'success', 'failure', 'failure'] as const;

    const results = await Promise.allSettled(
      outcomes.map((status) => applyPayment({ idempotency_key: key(), order_id: orderId, status }, at(6))),
    );

    const final = (await getOrder(orderId)).status;
    expect(['paid', 'cancelled']).toContain(final);
    const winners = results.filter((r) => r.status === 'fulfilled');
    expect(winners.every((r) => r.status === 'fulfilled' && r.value.order_status === final)).toBe(true);
    expect((await getProduct(product)).available).toBe(final === 'paid' ? 6 : 10);
  });
});

describe('webhooks that arrive before the order', () => {
  it('parks a success (202) and applies it when the order is created', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 2, T0);

    const parked = await applyPayment(
      { idempotency_key: key(), order_id: hold.hold_id, status: 'success' },
      at(1),
    );
    const { created, order } = await createOrder(hold.hold_id, at(2));

    expect(parked).toEqual({
      outcome: 'awaiting_order',
      order_id: hold.hold_id,
      order_status: 'awaiting_order',
    });
    expect(created).toBe(true);
    expect(order.status).toBe('paid');
    expect((await getProduct(product)).available).toBe(8);
  });

  it('parks a failure and cancels the order on creation, returning the stock', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 2, T0);

    await applyPayment({ idempotency_key: key(), order_id: hold.hold_id, status: 'failure' }, at(1));
    const { order } = await createOrder(hold.hold_id, at(2));

    expect(order.status).toBe('cancelled');
    expect((await getProduct(product)).available).toBe(10);
  });

  it('ends in one consistent state when the order and its webhook race', async () => {
    for (let i = 0; i < 5; i++) {
      const product = await productWithStock(10);
      const hold = await createHold(product, 3, T0);

      await Promise.all([
        createOrder(hold.hold_id, at(2)),
        applyPayment({ idempotency_key: key(), order_id: hold.hold_id, status: 'success' }, at(2)),
      ]);

      expect((await getOrder(hold.hold_id)).status).toBe('paid');
      expect((await getProduct(product)).available).toBe(7);
    }
  });

  it('lets a parked success win over expiry: the sweep turns the hold into a paid order', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 2, T0);
    await applyPayment({ idempotency_key: key(), order_id: hold.hold_id, status: 'success' }, at(60));

    const report = await sweep(at(121));

    expect(report.holds_paid_from_parked).toBeGreaterThanOrEqual(1);
    expect((await getOrder(hold.hold_id)).status).toBe('paid');
    expect((await getHold(hold.hold_id))?.status).toBe('ordered');
    expect((await getProduct(product)).available).toBe(8);
  });

  it('records a payment for a hold that already expired as refund_required', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 2, T0);
    await sweep(at(121));

    const result = await applyPayment(
      { idempotency_key: key(), order_id: hold.hold_id, status: 'success' },
      at(130),
    );

    expect(result.order_status).toBe('refund_required');
    expect((await getOrder(hold.hold_id)).status).toBe('refund_required');
    expect((await getProduct(product)).available).toBe(10);
  });
});

describe('payments for orders past their payment window', () => {
  it('re-reserves stock for a late success when units are free', async () => {
    const { product, orderId } = await pendingOrder(10, 2);
    await sweep(at(5 + 901));

    const result = await applyPayment(
      { idempotency_key: key(), order_id: orderId, status: 'success' },
      at(1000),
    );

    expect(result.order_status).toBe('paid');
    expect((await getProduct(product)).available).toBe(8);
  });

  it('marks a late success refund_required when the units are gone', async () => {
    const { product, orderId } = await pendingOrder(2, 2);
    await sweep(at(5 + 901));
    await createHold(product, 2, at(902));

    const result = await applyPayment(
      { idempotency_key: key(), order_id: orderId, status: 'success' },
      at(1000),
    );

    expect(result.order_status).toBe('refund_required');
    expect((await getProduct(product)).available).toBe(0);
  });
});
