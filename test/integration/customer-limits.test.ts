// Per-customer limits and buyer-owned orders against DynamoDB Local: the counter moves in the same transaction as
// the units on every path, bursts from one buyer cannot pass the limit, and nobody else sees a buyer's orders.
import { randomUUID } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { handler as createHoldHandler } from '../../functions/create-hold.ts';
import { handler as createOrderHandler } from '../../functions/create-order.ts';
import { handler as getOrderHandler } from '../../functions/get-order.ts';
import { handler as putProductHandler } from '../../functions/put-product.ts';
import { checkLedger, repairCustomerDrift } from '../../shared/audit/ledger.ts';
import { customerUnitsKey } from '../../shared/customers/items.ts';
import { db, getItem, tableName } from '../../shared/db/client.ts';
import { reclaimForBuyers } from '../../shared/holds/reclaim.ts';
import { releaseBatches } from '../../shared/holds/release.ts';
import { createHold } from '../../shared/holds/service.ts';
import { createOrder, getOrder } from '../../shared/orders/service.ts';
import { applyPayment } from '../../shared/payments/service.ts';
import { getProduct, putProduct } from '../../shared/stock/service.ts';
import { sweep } from '../../shared/sweep/service.ts';
import { at, limitedProduct, T0 } from '../support/fixtures.ts';
import { invoke } from '../support/lambda.ts';

const customer = () => `c-${randomUUID().slice(0, 8)}`;
const key = () => `evt_${randomUUID()}`;

const unitsOf = async (who: string, product: string) =>
  (await getItem<{ units: number }>(customerUnitsKey(who, product)))?.units ?? 0;

const codeOf = (result: PromiseSettledResult<unknown>) =>
  result.status === 'fulfilled' ? 'OK' : ((result.reason as { code?: string }).code ?? String(result.reason));

function tally(results: PromiseSettledResult<unknown>[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const result of results) counts[codeOf(result)] = (counts[codeOf(result)] ?? 0) + 1;
  return counts;
}

async function expectBalanced(product: string) {
  expect((await checkLedger(product)).violations).toEqual([]);
}

describe('per-customer limits on holds', () => {
  it('grants exactly 2 of 50 parallel holds of 1 from one customer on a product limited to 2', async () => {
    const product = await limitedProduct(100, 2);
    const buyer = customer();

    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => createHold(product, 1, T0, buyer)),
    );

    expect(tally(results)).toEqual({ OK: 2, CUSTOMER_LIMIT_REACHED: 48 });
    expect(await unitsOf(buyer, product)).toBe(2);
    expect((await getProduct(product)).available).toBe(98);
    await expectBalanced(product);
  });

  it('limits each customer on their own: one buyer at the limit does not stop another', async () => {
    const product = await limitedProduct(100, 2, 4);
    const buyers = [customer(), customer(), customer()];

    const results = await Promise.allSettled(
      buyers.flatMap((buyer) => Array.from({ length: 10 }, () => createHold(product, 1, T0, buyer))),
    );

    expect(tally(results)).toEqual({ OK: 6, CUSTOMER_LIMIT_REACHED: 24 });
    for (const buyer of buyers) expect(await unitsOf(buyer, product)).toBe(2);
    await expectBalanced(product);
  });

  it('answers CUSTOMER_LIMIT_REACHED with the limit and the units already used', async () => {
    const product = await limitedProduct(10, 3);
    const buyer = customer();
    await createHold(product, 2, T0, buyer);

    const refused = await createHold(product, 2, T0, buyer).catch((error: unknown) => error);

    expect(refused).toMatchObject({
      code: 'CUSTOMER_LIMIT_REACHED',
      details: { limit: 3, used: 2 },
    });
    expect(await createHold(product, 1, T0, buyer)).toMatchObject({ qty: 1 });
    expect(await unitsOf(buyer, product)).toBe(3);
  });

  it('refuses a single hold above the limit without writing anything', async () => {
    const product = await limitedProduct(10, 2);
    const buyer = customer();

    const refused = await createHold(product, 3, T0, buyer).catch((error: unknown) => error);

    expect(refused).toMatchObject({ code: 'CUSTOMER_LIMIT_REACHED', details: { limit: 2, used: 0 } });
    expect(await getItem(customerUnitsKey(buyer, product))).toBeUndefined();
    expect((await getProduct(product)).available).toBe(10);
  });

  it('refuses an anonymous hold on a limited product with 401 AUTHENTICATION_REQUIRED', async () => {
    const product = await limitedProduct(10, 2);

    const answer = await invoke(createHoldHandler, { body: { product_id: product, qty: 1 } });

    expect(answer.status).toBe(401);
    expect(answer.body.error?.code).toBe('AUTHENTICATION_REQUIRED');
    expect((await getProduct(product)).available).toBe(10);
  });

  it('counts identified buyers on products without a limit, so a limit set mid-sale counts what they hold', async () => {
    const id = `p-${randomUUID().slice(0, 8)}`;
    const body = { name: 'Later limited', price: '10.00', currency: 'USD', stock: 10 };
    await putProduct(id, body, T0);
    const buyer = customer();
    await createHold(id, 2, T0, buyer);
    expect(await unitsOf(buyer, id)).toBe(2);

    await putProduct(id, { ...body, max_per_customer: 3 }, at(1));

    await expect(createHold(id, 2, at(2), buyer)).rejects.toMatchObject({
      code: 'CUSTOMER_LIMIT_REACHED',
      details: { limit: 3, used: 2 },
    });
    await expectBalanced(id);
  });

  it('keeps a limit on a restock that omits it and removes it with null', async () => {
    const product = await limitedProduct(10, 2);
    const body = { name: 'Restocked', price: '10.00', currency: 'USD', stock: 20 };

    await putProduct(product, body, at(1));
    expect((await getProduct(product)).max_per_customer).toBe(2);

    await putProduct(product, { ...body, max_per_customer: null }, at(2));
    const product2 = await getProduct(product);
    expect(product2.max_per_customer).toBeUndefined();
    expect(await createHold(product, 5, at(3), customer())).toMatchObject({ qty: 5 });
  });

  it('refuses max_per_customer with 422 while no JWT issuer is configured', async () => {
    const answer = await invoke(putProductHandler, {
      pathParameters: { id: `p-${randomUUID().slice(0, 8)}` },
      body: { name: 'x', price: '1.00', stock: 5, max_per_customer: 2 },
    });

    expect(answer.status).toBe(422);
    expect(answer.body.error?.code).toBe('VALIDATION_ERROR');
    expect(JSON.stringify(answer.body.error?.details)).toContain('body.max_per_customer');
  });
});

describe('units that come back free the allowance in the same transaction', () => {
  it('frees it when the sweep releases an expired hold', async () => {
    const product = await limitedProduct(10, 2);
    const buyer = customer();
    await createHold(product, 2, T0, buyer);

    await sweep(at(121));

    expect(await unitsOf(buyer, product)).toBe(0);
    expect(await createHold(product, 2, at(122), buyer)).toMatchObject({ qty: 2 });
    await expectBalanced(product);
  });

  it('frees it when a buyer reclaims the expired hold on shortage', async () => {
    const product = await limitedProduct(2, 2);
    const buyer = customer();
    await createHold(product, 2, T0, buyer);

    // Sold out; the buyer's own expired hold is reclaimed by their next hold, which then counts again.
    const again = await createHold(product, 2, at(121), buyer);

    expect(again.qty).toBe(2);
    expect(await unitsOf(buyer, product)).toBe(2);
    await expectBalanced(product);
  });

  it('frees it when reclaim releases the expired holds of many customers of one bucket in batches', async () => {
    const product = await limitedProduct(60, 1, 1);
    const buyers = Array.from({ length: 60 }, customer);
    await Promise.all(buyers.map((buyer) => createHold(product, 1, T0, buyer)));

    const reclaim = await reclaimForBuyers(product, at(121));

    expect(reclaim.freed).toBeGreaterThan(0);
    await sweep(at(122));
    for (const buyer of buyers) expect(await unitsOf(buyer, product)).toBe(0);
    await expectBalanced(product);
  });

  it('frees it when a failure webhook cancels the pending order, and keeps counting a paid one', async () => {
    const product = await limitedProduct(10, 3);
    const buyer = customer();
    const failed = await createHold(product, 1, T0, buyer);
    const paid = await createHold(product, 2, T0, buyer);
    await createOrder(failed.hold_id, at(1), buyer);
    await createOrder(paid.hold_id, at(1), buyer);

    await applyPayment({ idempotency_key: key(), order_id: failed.hold_id, status: 'failure' }, at(2));
    await applyPayment({ idempotency_key: key(), order_id: paid.hold_id, status: 'success' }, at(2));
    await sweep(at(10_000));

    expect(await unitsOf(buyer, product)).toBe(2);
    await expect(createHold(product, 2, at(10_001), buyer)).rejects.toMatchObject({
      code: 'CUSTOMER_LIMIT_REACHED',
      details: { used: 2 },
    });
    await expectBalanced(product);
  });

  it('frees it when the payment window closes on an unpaid order', async () => {
    const product = await limitedProduct(10, 2);
    const buyer = customer();
    const hold = await createHold(product, 2, T0, buyer);
    await createOrder(hold.hold_id, at(1), buyer);

    await sweep(at(1 + 900 + 1));

    expect((await getOrder(hold.hold_id, buyer)).status).toBe('expired');
    expect(await unitsOf(buyer, product)).toBe(0);
    await expectBalanced(product);
  });

  it('frees it when a failure parked before the order is settled at the hold expiry', async () => {
    const product = await limitedProduct(10, 2);
    const buyer = customer();
    const hold = await createHold(product, 2, T0, buyer);
    await applyPayment({ idempotency_key: key(), order_id: hold.hold_id, status: 'failure' }, at(1));

    await sweep(at(121));

    expect((await getOrder(hold.hold_id, buyer)).status).toBe('cancelled');
    expect(await unitsOf(buyer, product)).toBe(0);
    await expectBalanced(product);
  });

  it('frees it when a parked failure is applied as the order is created', async () => {
    const product = await limitedProduct(10, 2);
    const buyer = customer();
    const hold = await createHold(product, 2, T0, buyer);
    await applyPayment({ idempotency_key: key(), order_id: hold.hold_id, status: 'failure' }, at(1));

    const { order } = await createOrder(hold.hold_id, at(2), buyer);

    expect(order.status).toBe('cancelled');
    expect(await unitsOf(buyer, product)).toBe(0);
    await expectBalanced(product);
  });

  it('counts a late payment again, and refunds it when the buyer has used the allowance meanwhile', async () => {
    const product = await limitedProduct(10, 2);
    const buyer = customer();
    const first = await createHold(product, 2, T0, buyer);
    await createOrder(first.hold_id, at(1), buyer);
    await sweep(at(902));
    const second = await createHold(product, 2, at(903), buyer);
    await createOrder(second.hold_id, at(904), buyer);
    const other = customer();
    const third = await createHold(product, 1, at(903), other);
    await createOrder(third.hold_id, at(904), other);
    await sweep(at(1805));

    // The other buyer's late payment finds the units and counts them again.
    const late = await applyPayment(
      { idempotency_key: key(), order_id: third.hold_id, status: 'success' },
      at(1806),
    );
    expect(late.order_status).toBe('paid');
    expect(await unitsOf(other, product)).toBe(1);

    // This buyer holds 2 again, so a late payment for their first order would put them at 4: refunded instead.
    await createHold(product, 2, at(1807), buyer);
    const refused = await applyPayment(
      { idempotency_key: key(), order_id: second.hold_id, status: 'success' },
      at(1808),
    );
    expect(refused.order_status).toBe('refund_required');
    expect(await unitsOf(buyer, product)).toBe(2);
    await expectBalanced(product);
  });
});

describe('orders belong to their buyer', () => {
  it('answers 404 to another customer reading or ordering, and the order to its buyer', async () => {
    const product = await limitedProduct(10, 5);
    const owner = customer();
    const stranger = customer();
    const created = await invoke(createHoldHandler, {
      customer: owner,
      body: { product_id: product, qty: 1 },
    });
    const holdId = String(created.body.data?.hold_id);

    const stolen = await invoke(createOrderHandler, { customer: stranger, body: { hold_id: holdId } });
    expect(stolen.status).toBe(404);
    expect(stolen.body.error?.code).toBe('HOLD_NOT_FOUND');

    const ordered = await invoke(createOrderHandler, { customer: owner, body: { hold_id: holdId } });
    expect(ordered.status).toBe(201);
    const again = await invoke(createOrderHandler, { customer: stranger, body: { hold_id: holdId } });
    expect(again.status).toBe(404);

    const peek = await invoke(getOrderHandler, { customer: stranger, pathParameters: { id: holdId } });
    expect(peek.status).toBe(404);
    expect(peek.body.error?.code).toBe('ORDER_NOT_FOUND');
    const missing = await invoke(getOrderHandler, {
      customer: stranger,
      pathParameters: { id: randomUUID() },
    });
    expect(peek.body.error).toEqual({ ...missing.body.error, message: peek.body.error?.message });

    const mine = await invoke(getOrderHandler, { customer: owner, pathParameters: { id: holdId } });
    expect(mine.status).toBe(200);
    expect(mine.body.data).toMatchObject({ order_id: holdId, status: 'pending' });
    // No buyer at all (a valid token without `sub`, or identity turned off later): an owned order stays hidden.
    const nobody = await invoke(getOrderHandler, { pathParameters: { id: holdId } });
    expect(nobody.status).toBe(404);
  });

  it('keeps an Idempotency-Key per buyer: the same key from another customer is another hold', async () => {
    const product = await limitedProduct(10, 5);
    const idempotencyKey = randomUUID();
    const request = { body: { product_id: product, qty: 1 }, headers: { 'idempotency-key': idempotencyKey } };

    const first = await invoke(createHoldHandler, { ...request, customer: customer() });
    const second = await invoke(createHoldHandler, { ...request, customer: customer() });

    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.data?.hold_id).not.toBe(first.body.data?.hold_id);
  });
});

describe('the audit and customer counters', () => {
  it('reports a counter that drifted and repairs it with a conditional write', async () => {
    const product = await limitedProduct(10, 3);
    const buyer = customer();
    await createHold(product, 2, T0, buyer);
    await db.send(
      new UpdateCommand({
        TableName: tableName,
        Key: customerUnitsKey(buyer, product),
        UpdateExpression: 'SET units = :wrong',
        ExpressionAttributeValues: { ':wrong': 5 },
      }),
    );

    const report = await checkLedger(product);
    const row = report.customers.find((figures) => figures.customer_id === buyer);
    expect(row).toMatchObject({ counter: 5, active_holds: 2, drift: -3, limit: 3 });
    expect(report.violations).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`customer ${buyer}`),
        expect.stringContaining('over the limit 3'),
      ]),
    );

    expect(await repairCustomerDrift(row ?? expect.fail('no row'))).toBe(true);
    expect(await unitsOf(buyer, product)).toBe(2);
    await expectBalanced(product);
  });

  it('splits a batch release so holds of many customers fit in one transaction', () => {
    const holds = Array.from({ length: 45 }, (_, i) => ({
      hold_id: `h${i}`,
      product_id: 'p',
      qty: 1,
      draws: [{ bucket: 0, qty: 1 }],
      customer_id: `c${i}`,
    }));

    const batches = releaseBatches(holds);

    expect(batches.map((batch) => batch.length)).toEqual([33, 12]);
    expect(
      releaseBatches(holds.map(({ customer_id: _, ...anonymous }) => anonymous)).map((b) => b.length),
    ).toEqual([45]);
  });
});
