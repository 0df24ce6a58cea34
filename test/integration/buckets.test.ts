// Stock split over buckets under their own partition keys, against DynamoDB Local: multi-bucket holds, units
// returning to their buckets, restocks and bucket-count changes on a live product, and no writes after sell-out.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { handler as getProductHandler } from '../../functions/get-product.ts';
import { checkLedger } from '../../shared/audit/ledger.ts';
import { getHold } from '../../shared/holds/items.ts';
import { createHold } from '../../shared/holds/service.ts';
import { createOrder } from '../../shared/orders/service.ts';
import { applyPayment } from '../../shared/payments/service.ts';
import { stockBucketKey } from '../../shared/stock/items.ts';
import { putProduct } from '../../shared/stock/service.ts';
import { readProduct } from '../../shared/stock/view.ts';
import { sweep } from '../../shared/sweep/service.ts';
import { at, countCommandsTouching, productWithBuckets, T0 } from '../support/fixtures.ts';
import { invoke } from '../support/lambda.ts';

/** Each bucket's available units, from DynamoDB (not the view). */
async function bucketLevels(product: string): Promise<number[]> {
  const view = await readProduct(product);
  return [...(view?.buckets.values() ?? [])].sort((a, b) => a.bucket - b.bucket).map((b) => b.available);
}

async function expectLedgerBalanced(product: string): Promise<void> {
  const report = await checkLedger(product);
  expect(report.violations).toEqual([]);
  expect(report.products).toHaveLength(1);
}

const restock = (product: string, stock: number, buckets?: number) =>
  putProduct(
    product,
    { name: 'P', price: '10.00', currency: 'USD', stock, ...(buckets ? { stock_buckets: buckets } : {}) },
    T0,
  );

describe('stock buckets', () => {
  it('spreads a new product evenly over its buckets, each under a partition key of its own', async () => {
    const product = await productWithBuckets(10, 4);

    expect(await bucketLevels(product)).toEqual([3, 3, 2, 2]);
    const keys = [0, 1, 2, 3].map((bucket) => stockBucketKey(product, bucket).pk);
    expect(new Set(keys).size).toBe(4);
    expect(keys.every((pk) => !pk.startsWith(`PRODUCT#${product}`))).toBe(true);
  });

  it('grants a hold larger than any bucket from several buckets in one transaction while the total suffices', async () => {
    const product = await productWithBuckets(8, 4);

    const big = await createHold(product, 7, T0);

    const stored = await getHold(big.hold_id);
    expect(stored?.draws.reduce((sum, draw) => sum + draw.qty, 0)).toBe(7);
    expect(stored?.draws.length).toBe(4);
    expect((await bucketLevels(product)).reduce((a, b) => a + b, 0)).toBe(1);
    await expect(createHold(product, 2, T0)).rejects.toMatchObject({
      code: 'INSUFFICIENT_STOCK',
      details: { available: 1 },
    });
    await expect(createHold(product, 1, T0)).resolves.toMatchObject({ qty: 1 });
    await expectLedgerBalanced(product);
  });

  it('never refuses a buyer while the buckets together hold enough, whatever the split', async () => {
    const product = await productWithBuckets(12, 5);

    const granted = [];
    for (const qty of [4, 3, 3, 2]) granted.push(await createHold(product, qty, T0));

    expect(granted).toHaveLength(4);
    expect(await bucketLevels(product)).toEqual([0, 0, 0, 0, 0]);
  });

  it('returns units to the buckets they came from on expiry, a failure webhook and the payment window', async () => {
    const product = await productWithBuckets(9, 3);
    const before = await bucketLevels(product);
    const expiring = await createHold(product, 5, T0);
    const failing = await createHold(product, 2, T0);
    const unpaid = await createHold(product, 2, T0);
    await createOrder(failing.hold_id, at(1));
    await createOrder(unpaid.hold_id, at(1));
    await applyPayment(
      { idempotency_key: randomUUID(), order_id: failing.hold_id, status: 'failure' },
      at(2),
    );

    await sweep(at(121));
    await expectLedgerBalanced(product);
    expect((await getHold(expiring.hold_id))?.status).toBe('released');
    await sweep(at(1000));

    expect(await bucketLevels(product)).toEqual(before);
    await expectLedgerBalanced(product);
  });

  it('keeps every bucket balanced when a live product changes its bucket count up and down', async () => {
    const product = await productWithBuckets(40, 2);
    const holds = [];
    for (const qty of [3, 5, 2, 7]) holds.push(await createHold(product, qty, T0));
    await createOrder(holds[1]?.hold_id ?? '', at(1));

    await restock(product, 40, 5);
    await expectLedgerBalanced(product);
    const spread = await bucketLevels(product);
    expect(spread.reduce((a, b) => a + b, 0)).toBe(40 - 17);
    expect(Math.max(...spread) - Math.min(...spread)).toBeLessThanOrEqual(1);

    await restock(product, 30, 1);
    await expectLedgerBalanced(product);
    const [first = 0, ...retired] = await bucketLevels(product);
    expect(first).toBe(30 - 17);
    expect(retired.every((units) => units === 0)).toBe(true);

    // Units held in retired buckets come back there at expiry, and are still sold from there.
    await sweep(at(121));
    await expectLedgerBalanced(product);
    expect((await bucketLevels(product)).reduce((a, b) => a + b, 0)).toBe(30 - 5);
    await createHold(product, 25, at(122));
    expect((await bucketLevels(product)).reduce((a, b) => a + b, 0)).toBe(0);
    await expectLedgerBalanced(product);
  });

  it('refuses stock below what is held or sold, whichever buckets hold it', async () => {
    const product = await productWithBuckets(10, 3);
    await createHold(product, 6, T0);

    await expect(restock(product, 5, 4)).rejects.toMatchObject({
      code: 'STOCK_BELOW_COMMITTED',
      details: { committed: 6 },
    });
    await expectLedgerBalanced(product);
  });
});

describe('after sell-out', () => {
  it('refuses holds without writing anything and without reading the stock buckets per hold', async () => {
    const product = await productWithBuckets(6, 3);
    for (let i = 0; i < 3; i++) await createHold(product, 2, T0);
    const stock = countCommandsTouching(`STOCK#${product}#`);
    const anyWrite = countCommandsTouching(product);

    const refused = await Promise.allSettled(Array.from({ length: 50 }, () => createHold(product, 1, T0)));

    stock.stop();
    anyWrite.stop();
    expect(refused.every((r) => r.status === 'rejected')).toBe(true);
    const writes = Object.entries(anyWrite.counts).filter(([command]) =>
      /TransactWrite|PutItem|UpdateItem|DeleteItem|BatchWrite/.test(command),
    );
    expect(writes).toEqual([]);
    // The per-process view may be read again once (it is at most 1 s old); never once per buyer.
    expect(stock.counts.BatchGetItemCommand ?? 0).toBeLessThanOrEqual(1);
    expect(Object.keys(stock.counts).filter((command) => command !== 'BatchGetItemCommand')).toEqual([]);
  });
});

describe('GET /api/products/{id}', () => {
  it('says the view may be up to a second old', async () => {
    const product = await productWithBuckets(5, 1);

    const answer = await invoke(getProductHandler, { pathParameters: { id: product } });

    expect(answer.status).toBe(200);
    expect(answer.headers['cache-control']).toBe('public, max-age=1');
    expect(answer.body.data).toMatchObject({ stock: 5, available: 5, stock_buckets: 1 });
  });
});

describe('a crowd at expiry', () => {
  it('grants exactly the units of expired, unswept holds to 100 concurrent buyers, with no 503', async () => {
    const product = await productWithBuckets(10, 1);
    const expired = await Promise.all(Array.from({ length: 10 }, () => createHold(product, 1, T0)));

    const crowd = await Promise.allSettled(
      Array.from({ length: 100 }, () => createHold(product, 1, at(121))),
    );

    const codes = crowd.map((r) => (r.status === 'fulfilled' ? 'OK' : (r.reason as { code?: string }).code));
    expect(codes.filter((code) => code === 'OK')).toHaveLength(10);
    expect(codes.filter((code) => code === 'INSUFFICIENT_STOCK')).toHaveLength(90);
    const statuses = await Promise.all(expired.map(async (hold) => (await getHold(hold.hold_id))?.status));
    expect(statuses.every((status) => status === 'released')).toBe(true);
    await expectLedgerBalanced(product);
  });
});
