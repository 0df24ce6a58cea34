import { describe, expect, it } from 'vitest';
import { apiForThisFile, dataOf, errorOf } from '../support/http.ts';

const api = apiForThisFile();

const countBy = <T>(items: T[], key: (item: T) => string | number) =>
  items.reduce<Record<string, number>>((counts, item) => {
    const k = String(key(item));
    counts[k] = (counts[k] ?? 0) + 1;
    return counts;
  }, {});

describe('a flash-sale burst through the gateway', () => {
  it('grants exactly 100 of 1,000 concurrent one-unit holds on 100 units and refuses the rest with 409', async () => {
    const created = await api.put('/api/admin/products/drop', { name: 'Drop', price: '19.99', stock: 100 });
    expect(created.status).toBe(201);

    const answers = await Promise.all(
      Array.from({ length: 1000 }, () => api.post('/api/holds', { product_id: 'drop', qty: 1 })),
    );

    expect(countBy(answers, (a) => a.status)).toEqual({ 201: 100, 409: 900 });
    const refusals = answers.filter((a) => a.status === 409).map((a) => errorOf(a).code);
    expect(new Set(refusals)).toEqual(new Set(['INSUFFICIENT_STOCK']));
    const holdIds = answers.filter((a) => a.status === 201).map((a) => dataOf(a).hold_id);
    expect(new Set(holdIds).size).toBe(100);
    expect(dataOf(await api.get('/api/products/drop'))).toMatchObject({ stock: 100, available: 0 });
  });

  it('answers 2,000 concurrent requests without dropping one', async () => {
    const answers = await Promise.all(Array.from({ length: 2000 }, () => api.get('/api/health')));

    expect(countBy(answers, (a) => a.status)).toEqual({ 200: 2000 });
  });
});
