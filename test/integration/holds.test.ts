// Holds against DynamoDB Local: the old system's hold and expiry scenarios plus reclaim-on-shortage.
import { describe, expect, it } from 'vitest';
import { getHold } from '../../shared/holds/items.ts';
import { reclaimForBuyers } from '../../shared/holds/reclaim.ts';
import { createHold } from '../../shared/holds/service.ts';
import { createOrder } from '../../shared/orders/service.ts';
import { getProduct } from '../../shared/stock/service.ts';
import { sweep } from '../../shared/sweep/service.ts';
import { at, productWithStock, T0 } from '../support/fixtures.ts';

const code = (result: PromiseSettledResult<unknown>) =>
  result.status === 'rejected'
    ? ((result.reason as { code?: string }).code ??
      `${(result.reason as Error).name}: ${(result.reason as Error).message.slice(0, 60)}`)
    : 'OK';

describe('creating holds', () => {
  it('grants exactly the stock when 1,000 buyers race for 100 units', async () => {
    const product = await productWithStock(100);

    const results = await Promise.allSettled(Array.from({ length: 1000 }, () => createHold(product, 1, T0)));

    const tally: Record<string, number> = {};
    for (const result of results)
      tally[code(result) ?? 'UNKNOWN'] = (tally[code(result) ?? 'UNKNOWN'] ?? 0) + 1;
    expect(tally).toEqual({ OK: 100, INSUFFICIENT_STOCK: 900 });
    expect((await getProduct(product)).available).toBe(0);
  });

  it('never grants more than the stock for racing holds of mixed quantities', async () => {
    const product = await productWithStock(50);
    const quantities = Array.from({ length: 200 }, (_, i) => (i % 7) + 1);

    const results = await Promise.allSettled(quantities.map((qty) => createHold(product, qty, T0)));

    const granted = results.reduce(
      (sum, r, i) => sum + (r.status === 'fulfilled' ? (quantities[i] ?? 0) : 0),
      0,
    );
    expect(results.every((r) => code(r) === 'OK' || code(r) === 'INSUFFICIENT_STOCK')).toBe(true);
    expect(granted).toBeLessThanOrEqual(50);
    const { available } = await getProduct(product);
    expect(available).toBe(50 - granted);
    // A refusal means the stock was short for that quantity, and here stock only falls: the sale ran until no
    // refused quantity fits what is left (so at least 44 units went, not none).
    const refused = quantities.filter((_, i) => results[i]?.status === 'rejected');
    for (const qty of refused) expect(available, `refused a hold of ${qty}`).toBeLessThan(qty);
    expect(granted).toBeGreaterThanOrEqual(50 - 6);
  });

  it('reduces available at once and expires after HOLD_TTL_SECONDS', async () => {
    const product = await productWithStock(10);

    const hold = await createHold(product, 3, T0);

    expect(hold).toMatchObject({
      product_id: product,
      qty: 3,
      status: 'active',
      expires_at: at(120).toISOString(),
    });
    expect(await getProduct(product)).toMatchObject({ stock: 10, available: 7 });
  });

  it('refuses a hold over the available stock with the available count and changes nothing', async () => {
    const product = await productWithStock(5);
    await createHold(product, 4, T0);

    await expect(createHold(product, 2, T0)).rejects.toMatchObject({
      code: 'INSUFFICIENT_STOCK',
      details: { available: 1 },
    });
    expect((await getProduct(product)).available).toBe(1);
  });

  it('answers PRODUCT_NOT_FOUND for an unknown product', async () => {
    await expect(createHold('no-such-product', 1, T0)).rejects.toMatchObject({
      code: 'PRODUCT_NOT_FOUND',
    });
  });

  it('reclaims expired but unswept holds before turning a buyer away', async () => {
    const product = await productWithStock(2);
    const stale = await createHold(product, 2, T0);

    const fresh = await createHold(product, 2, at(121));

    expect(fresh.status).toBe('active');
    expect((await getHold(stale.hold_id))?.status).toBe('released');
    expect((await getProduct(product)).available).toBe(0);
  });
});

describe('expiring holds', () => {
  it('returns the stock of several expired holds in one sweep', async () => {
    const product = await productWithStock(10);
    const holds = await Promise.all([
      createHold(product, 1, T0),
      createHold(product, 2, T0),
      createHold(product, 3, T0),
    ]);

    const report = await sweep(at(121));

    expect(report.holds_released).toBeGreaterThanOrEqual(3);
    expect((await getProduct(product)).available).toBe(10);
    for (const hold of holds) expect((await getHold(hold.hold_id))?.status).toBe('released');
  });

  it('leaves active holds and holds already turned into orders alone', async () => {
    const product = await productWithStock(10);
    const active = await createHold(product, 2, at(60));
    const ordered = await createHold(product, 3, T0);
    await createOrder(ordered.hold_id, at(10));

    await sweep(at(121));

    expect((await getHold(active.hold_id))?.status).toBe('active');
    expect((await getHold(ordered.hold_id))?.status).toBe('ordered');
    expect((await getProduct(product)).available).toBe(5);
  });

  it('releases each hold exactly once when sweeps overlap', async () => {
    const product = await productWithStock(20);
    await Promise.all(Array.from({ length: 10 }, () => createHold(product, 2, T0)));

    const reports = await Promise.all([sweep(at(121)), sweep(at(121)), reclaimForBuyers(product, at(121))]);

    expect((await getProduct(product)).available).toBe(20);
    expect(reports[0].failures + reports[1].failures).toBe(0);
  });

  it('settles a sweep racing an order for the same hold exactly once', async () => {
    const product = await productWithStock(4);
    const hold = await createHold(product, 4, T0);

    // The order is taken one millisecond before expiry; the sweep runs after it. Whichever commits first wins.
    const [order] = await Promise.allSettled([createOrder(hold.hold_id, at(119.999)), sweep(at(121))]);

    const available = (await getProduct(product)).available;
    if (order.status === 'fulfilled') expect(available).toBe(0);
    else expect(available).toBe(4);
  });
});
