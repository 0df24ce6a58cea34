// Products and restocks through the admin and read handlers on DynamoDB Local.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { handler as getProductHandler } from '../../functions/get-product.ts';
import { handler as putProductHandler } from '../../functions/put-product.ts';
import { createHold } from '../../shared/holds/service.ts';
import { createOrder } from '../../shared/orders/service.ts';
import { T0 } from '../support/fixtures.ts';
import { invoke } from '../support/lambda.ts';

const put = (id: string, body: unknown) => invoke(putProductHandler, { pathParameters: { id }, body });
const get = (id: string) => invoke(getProductHandler, { pathParameters: { id } });
const newId = () => `prod-${randomUUID().slice(0, 8)}`;

describe('admin product upsert', () => {
  it('creates a product (201) with money as a two-decimal string and USD by default', async () => {
    const id = newId();

    const answer = await put(id, { name: 'Sneakers', price: '49.9', stock: 100 });

    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({
      success: true,
      data: {
        id,
        name: 'Sneakers',
        price: '49.90',
        currency: 'USD',
        stock: 100,
        available: 100,
        stock_buckets: 2,
      },
    });
    expect((await get(id)).body.data).toEqual(answer.body.data);
  });

  it('updates (200) and moves available by the restock delta, keeping held units held', async () => {
    const id = newId();
    await put(id, { name: 'Sneakers', price: '49.99', stock: 10 });
    await createHold(id, 3, new Date());

    const up = await put(id, { name: 'Sneakers v2', price: '59.00', currency: 'EUR', stock: 15 });
    const down = await put(id, { name: 'Sneakers v2', price: '59.00', currency: 'EUR', stock: 4 });

    expect(up.status).toBe(200);
    expect(up.body.data).toMatchObject({
      name: 'Sneakers v2',
      price: '59.00',
      currency: 'EUR',
      stock: 15,
      available: 12,
    });
    expect(down.body.data).toMatchObject({ stock: 4, available: 1 });
  });

  it('refuses stock below what is held or ordered with 409 STOCK_BELOW_COMMITTED and changes nothing', async () => {
    const id = newId();
    await put(id, { name: 'Sneakers', price: '49.99', stock: 10 });
    const hold = await createHold(id, 4, T0);
    await createOrder(hold.hold_id, T0);
    await createHold(id, 3, new Date());

    const answer = await put(id, { name: 'Sneakers', price: '49.99', stock: 6 });

    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatchObject({ code: 'STOCK_BELOW_COMMITTED', details: { committed: 7 } });
    expect((await get(id)).body.data).toMatchObject({ stock: 10, available: 3 });
  });

  it('keeps concurrent restocks consistent: available always equals stock minus committed', async () => {
    const id = newId();
    await put(id, { name: 'Race', price: '1.00', stock: 50 });

    await Promise.all([
      put(id, { name: 'Race', price: '1.00', stock: 60 }),
      put(id, { name: 'Race', price: '1.00', stock: 40 }),
      ...Array.from({ length: 10 }, () => createHold(id, 1, new Date())),
    ]);

    const { stock, available } = (await get(id)).body.data as { stock: number; available: number };
    expect(stock - available).toBe(10);
  });

  it.each([
    [{ name: 'x', price: 12.5, stock: 1 }, 'a float price'],
    [{ name: 'x', price: '12.505', stock: 1 }, 'three decimals'],
    [{ name: 'x', price: '-1.00', stock: 1 }, 'a negative price'],
    [{ name: 'x', price: '1.00', stock: -1 }, 'negative stock'],
    [{ name: 'x', price: '1.00', stock: 1.5 }, 'fractional stock'],
    [{ name: '', price: '1.00', stock: 1 }, 'an empty name'],
    [{ name: 'x', price: '1.00', stock: 1, currency: 'usd' }, 'a lower-case currency'],
    [{ price: '1.00', stock: 1 }, 'no name'],
  ] as [Record<string, unknown>, string][])(
    'answers 422 VALIDATION_ERROR for %j (%s) and stores nothing',
    async (body) => {
      const id = newId();

      const answer = await put(id, body);

      expect(answer.status).toBe(422);
      expect(answer.body.error?.code).toBe('VALIDATION_ERROR');
      expect((await get(id)).status).toBe(404);
    },
  );

  it('answers 404 PRODUCT_NOT_FOUND and 422 for an invalid id', async () => {
    expect((await get(newId())).body.error?.code).toBe('PRODUCT_NOT_FOUND');
    expect((await get('../etc')).status).toBe(422);
  });
});
