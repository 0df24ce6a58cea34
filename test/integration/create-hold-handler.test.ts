// The hold Lambda with Idempotency-Key against DynamoDB Local (Stripe semantics, Powertools records).
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { handler } from '../../functions/create-hold.ts';
import { getProduct, putProduct } from '../../shared/stock/service.ts';
import { productWithStock } from '../support/fixtures.ts';
import { invoke } from '../support/lambda.ts';

describe('POST /api/holds with Idempotency-Key', () => {
  it('returns the original hold for a retry with the same key and body, reserving nothing more', async () => {
    const product = await productWithStock(10);
    const request = { body: { product_id: product, qty: 2 }, headers: { 'idempotency-key': randomUUID() } };

    const first = await invoke(handler, request);
    const retry = await invoke(handler, request);

    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.body.data?.hold_id).toBe(first.body.data?.hold_id);
    expect((await getProduct(product)).available).toBe(8);
  });

  it('refuses the same key with another body with 422 and reserves nothing', async () => {
    const product = await productWithStock(10);
    const key = randomUUID();
    await invoke(handler, { body: { product_id: product, qty: 2 }, headers: { 'idempotency-key': key } });

    const other = await invoke(handler, {
      body: { product_id: product, qty: 3 },
      headers: { 'idempotency-key': key },
    });

    expect(other.status).toBe(422);
    expect(other.body.error?.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await getProduct(product)).available).toBe(8);
  });

  it('lets one of 10 concurrent duplicates win; the others replay it or get 409 REQUEST_IN_PROGRESS', async () => {
    const product = await productWithStock(10);
    const request = { body: { product_id: product, qty: 1 }, headers: { 'idempotency-key': randomUUID() } };

    const answers = await Promise.all(Array.from({ length: 10 }, () => invoke(handler, request)));

    const holdIds = new Set(answers.filter((a) => a.status === 201).map((a) => a.body.data?.hold_id));
    expect(holdIds.size).toBe(1);
    for (const answer of answers.filter((a) => a.status !== 201)) {
      expect(answer.status).toBe(409);
      expect(answer.body.error?.code).toBe('REQUEST_IN_PROGRESS');
      expect(answer.headers['Retry-After']).toBeDefined();
    }
    expect((await getProduct(product)).available).toBe(9);
  });

  it('treats the old client id form (number) and the new one (string) as the same body', async () => {
    const numeric = `${Math.floor(Math.random() * 1e9) + 1}`;
    await putProduct(numeric, { name: 'Numeric id', price: '1.00', currency: 'USD', stock: 5 }, new Date());
    const key = randomUUID();

    const a = await invoke(handler, {
      body: { product_id: Number(numeric), qty: 1 },
      headers: { 'idempotency-key': key },
    });
    const b = await invoke(handler, {
      body: { product_id: numeric, qty: 1 },
      headers: { 'idempotency-key': key },
    });

    expect(a.status).toBe(201);
    expect(b.body.data?.hold_id).toBe(a.body.data?.hold_id);
    expect((await getProduct(numeric)).available).toBe(4);
  });

  it('rejects an empty or over-long Idempotency-Key with 422', async () => {
    const product = await productWithStock(10);

    const answer = await invoke(handler, {
      body: { product_id: product, qty: 1 },
      headers: { 'idempotency-key': 'x'.repeat(256) },
    });

    expect(answer.status).toBe(422);
    expect((await getProduct(product)).available).toBe(10);
  });
});
