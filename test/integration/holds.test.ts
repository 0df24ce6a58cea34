import { describe, expect, it } from 'vitest';
import { createHold } from '../../shared/domain/holds.ts';
import { getProduct, putProduct } from '../../shared/domain/products.ts';

const now = new Date('2026-11-25T10:00:00.000Z');

describe('holds', () => {
  it('grants exactly the stock when 1,000 buyers race for 100 units', async () => {
    await putProduct('race', { name: 'Race', price: '9.99', currency: 'USD', stock: 100 }, now);

    const results = await Promise.allSettled(Array.from({ length: 1000 }, () => createHold('race', 1, now)));

    const granted = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'INSUFFICIENT_STOCK').length;
    expect({ granted, refused }).toEqual({ granted: 100, refused: 900 });
    expect((await getProduct('race')).available).toBe(0);
  });
});
