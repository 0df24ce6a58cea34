// The ledger check and drift repair against DynamoDB Local: balanced after real flows, drift found and fixed safely.
import { randomUUID } from 'node:crypto';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { type BucketFigures, checkLedger, repairDrift } from '../../shared/audit/ledger.ts';
import { db, tableName } from '../../shared/db/client.ts';
import { getHold } from '../../shared/holds/items.ts';
import { createHold } from '../../shared/holds/service.ts';
import { orderKey } from '../../shared/orders/items.ts';
import { createOrder } from '../../shared/orders/service.ts';
import { applyPayment } from '../../shared/payments/service.ts';
import { stockBucketKey } from '../../shared/stock/items.ts';
import { getProduct } from '../../shared/stock/service.ts';
import { sweep } from '../../shared/sweep/service.ts';
import { at, productWithStock, T0 } from '../support/fixtures.ts';

/** Bypasses the domain: the kind of write a bug or a hand edit in the console would make. */
async function setAvailable(productId: string, available: number): Promise<void> {
  await db.send(
    new UpdateCommand({
      TableName: tableName,
      Key: stockBucketKey(productId, 0),
      UpdateExpression: 'SET available = :a',
      ExpressionAttributeValues: { ':a': available },
    }),
  );
}

async function storedAvailable(productId: string): Promise<number> {
  const { Item } = await db.send(
    new GetCommand({ TableName: tableName, Key: stockBucketKey(productId, 0), ConsistentRead: true }),
  );
  return Number(Item?.available);
}

async function onlyBucket(productId: string): Promise<BucketFigures> {
  const { buckets } = await checkLedger(productId);
  expect(buckets).toHaveLength(1);
  const [row] = buckets;
  if (!row) throw new Error('no stock bucket');
  return row;
}

describe('checkLedger after real flows', () => {
  it('balances and counts each item kind after holds, orders, both payment outcomes and a sweep', async () => {
    const product = await productWithStock(20);
    const expiring = await createHold(product, 1, T0);
    const stillActive = await createHold(product, 2, at(100));
    const paid = await createHold(product, 3, T0);
    const failed = await createHold(product, 4, T0);
    const pending = await createHold(product, 5, T0);
    for (const hold of [paid, failed, pending]) await createOrder(hold.hold_id, at(10));
    await applyPayment({ idempotency_key: randomUUID(), order_id: paid.hold_id, status: 'success' }, at(20));
    await applyPayment(
      { idempotency_key: randomUUID(), order_id: failed.hold_id, status: 'failure' },
      at(20),
    );

    await sweep(at(121));
    const report = await checkLedger(product);

    expect(report.violations).toEqual([]);
    expect(report.buckets).toEqual([
      {
        product_id: product,
        bucket: 0,
        stock: 20,
        available: 20 - 2 - 3 - 5,
        active_holds: 2,
        pending_orders: 5,
        paid_orders: 3,
        drift: 0,
      },
    ]);
    expect((await getHold(expiring.hold_id))?.status).toBe('released');
    expect((await getHold(stillActive.hold_id))?.status).toBe('active');
  });

  it('balances after an unpaid order expires and a late success takes its units back', async () => {
    const product = await productWithStock(4);
    const hold = await createHold(product, 4, T0);
    await createOrder(hold.hold_id, at(1));
    await sweep(at(902));

    await applyPayment({ idempotency_key: randomUUID(), order_id: hold.hold_id, status: 'success' }, at(903));
    const report = await checkLedger(product);

    expect(report.violations).toEqual([]);
    expect(report.buckets[0]).toMatchObject({ available: 0, paid_orders: 4, drift: 0 });
  });
});

describe('checkLedger on a drifted counter', () => {
  it('reports the drift of a stock bucket whose available was written behind the domain', async () => {
    const product = await productWithStock(10);
    await createHold(product, 3, T0);

    await setAvailable(product, 9);
    const report = await checkLedger(product);

    expect(report.violations).toEqual([`product ${product} bucket 0: drift -2`]);
    expect(report.buckets[0]).toMatchObject({ stock: 10, available: 9, active_holds: 3, drift: -2 });
  });

  it('reports a negative available as its own violation', async () => {
    const product = await productWithStock(2);

    await setAvailable(product, -1);
    const report = await checkLedger(product);

    expect(report.violations).toContain(`product ${product} bucket 0: available -1 < 0`);
    expect(report.violations).toContain(`product ${product} bucket 0: drift 3`);
  });
});

describe('repairDrift', () => {
  it('sets available to what the items say, after which the ledger balances', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 3, T0);
    await createOrder(hold.hold_id, at(5));
    await setAvailable(product, 1);
    const drifted = await onlyBucket(product);

    const repaired = await repairDrift(drifted);

    expect(repaired).toBe(true);
    expect(await storedAvailable(product)).toBe(7);
    expect((await checkLedger(product)).violations).toEqual([]);
  });

  it('refuses, changing nothing, when available moved after the check saw it', async () => {
    const product = await productWithStock(10);
    await setAvailable(product, 4);
    const drifted = await onlyBucket(product);
    await createHold(product, 1, T0);

    const repaired = await repairDrift(drifted);

    expect(repaired).toBe(false);
    expect(await storedAvailable(product)).toBe(3);
    expect((await onlyBucket(product)).drift).toBe(6);
  });

  it('refuses when stock changed after the check, even if available did not', async () => {
    const product = await productWithStock(10);
    await setAvailable(product, 4);
    const drifted = await onlyBucket(product);
    await db.send(
      new UpdateCommand({
        TableName: tableName,
        Key: stockBucketKey(product, 0),
        UpdateExpression: 'SET stock = :s',
        ExpressionAttributeValues: { ':s': 12 },
      }),
    );

    const repaired = await repairDrift(drifted);

    expect(repaired).toBe(false);
    expect(await storedAvailable(product)).toBe(4);
  });

  it('refuses a drift that no counter value can fix (more committed than stock)', async () => {
    const product = await productWithStock(5);
    await createHold(product, 5, T0);
    await db.send(
      new UpdateCommand({
        TableName: tableName,
        Key: stockBucketKey(product, 0),
        UpdateExpression: 'SET stock = :s',
        ExpressionAttributeValues: { ':s': 3 },
      }),
    );
    const drifted = await onlyBucket(product);

    const repaired = await repairDrift(drifted);

    expect(drifted.drift).toBe(-2);
    expect(repaired).toBe(false);
    expect(await storedAvailable(product)).toBe(0);
  });

  it('does nothing for a balanced bucket', async () => {
    const product = await productWithStock(5);
    const balanced = await onlyBucket(product);

    expect(await repairDrift(balanced)).toBe(false);
    expect((await getProduct(product)).available).toBe(5);
  });
});

describe('checkLedger on webhook keys', () => {
  it('reports one webhook key recorded as the payment of two orders', async () => {
    const product = await productWithStock(10);
    const first = await createHold(product, 1, T0);
    const second = await createHold(product, 1, T0);
    for (const hold of [first, second]) await createOrder(hold.hold_id, at(1));
    const key = `evt_${randomUUID()}`;
    // Written directly: the handlers' idempotency and conditional writes never let this happen on their own.
    for (const hold of [first, second]) {
      await db.send(
        new UpdateCommand({
          TableName: tableName,
          Key: orderKey(hold.hold_id),
          UpdateExpression: 'SET #status = :paid, payment_key = :key',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':paid': 'paid', ':key': key },
        }),
      );
    }

    const report = await checkLedger(product);

    expect(report.violations).toHaveLength(1);
    expect(report.violations[0]).toMatch(new RegExp(`^webhook key ${key} applied to orders `));
    expect(report.violations[0]).toContain(first.hold_id);
    expect(report.violations[0]).toContain(second.hold_id);
  });

  it('accepts the same key recorded twice on one order (a duplicate delivery)', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 1, T0);
    await createOrder(hold.hold_id, at(1));
    const key = `evt_${randomUUID()}`;

    await applyPayment({ idempotency_key: key, order_id: hold.hold_id, status: 'success' }, at(2));
    await applyPayment({ idempotency_key: key, order_id: hold.hold_id, status: 'success' }, at(3));

    expect((await checkLedger(product)).violations).toEqual([]);
  });
});
