import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, MAX_REQUEST_BYTES, startGateway } from '../../infra/local/gateway.ts';
import { type ApiClient, apiClient, dataOf, envelope, errorOf, rawRequest } from '../support/http.ts';

let gateway: Gateway;
let api: ApiClient;

beforeAll(async () => {
  gateway = await startGateway({ port: 0 });
  api = apiClient(gateway.url);
  const product = await api.put('/api/admin/products/1', { name: 'Contract', price: '10.00', stock: 1000 });
  expect(product.status).toBe(201);
});
afterAll(() => gateway.close());

/** A valid hold request padded with an ignored field to exactly `bytes` bytes. */
function paddedHoldBody(bytes: number): string {
  const skeleton = JSON.stringify({ product_id: 1, qty: 1, pad: '' });
  return JSON.stringify({ product_id: 1, qty: 1, pad: 'x'.repeat(bytes - skeleton.length) });
}

describe('routing', () => {
  it.each([
    ['GET', '/api/nope'],
    ['GET', '/api/products'],
    ['GET', '/api/products/1/extra'],
    ['GET', '/api/products/'],
    ['POST', '/api/holds/'],
    ['GET', '/'],
  ])('answers %s %s with 404 ROUTE_NOT_FOUND', async (method, path) => {
    const response = await api.request(method, path);

    expect(response.status).toBe(404);
    expect(errorOf(response).code).toBe('ROUTE_NOT_FOUND');
  });

  it.each([
    ['DELETE', '/api/holds', 'POST'],
    ['GET', '/api/holds', 'POST'],
    ['POST', '/api/products/1', 'GET'],
    ['PATCH', '/api/admin/products/1', 'PUT'],
  ])('answers %s %s with 405 METHOD_NOT_ALLOWED and Allow: %s', async (method, path, allow) => {
    const response = await api.request(method, path, method === 'GET' ? {} : { raw: '{}' });

    expect(response.status).toBe(405);
    expect(errorOf(response).code).toBe('METHOD_NOT_ALLOWED');
    expect(response.headers.get('allow')).toBe(allow);
  });

  it('passes path parameters percent-decoded', async () => {
    const created = await api.put('/api/admin/products/a-b_1', { name: 'Dash', price: '1.00', stock: 1 });
    expect(created.status).toBe(201);

    const response = await api.get('/api/products/a%2Db_1');

    expect(response.status).toBe(200);
    expect(dataOf(response).id).toBe('a-b_1');
  });
});

describe('request bodies', () => {
  it.each([
    ['malformed JSON', '{bad'],
    ['an array', '[1,2]'],
    ['a string', '"str"'],
    ['null', 'null'],
    ['an empty body', ''],
  ])('answers %s with 400 INVALID_JSON', async (_what, raw) => {
    const response = await api.request('POST', '/api/holds', {
      raw,
      headers: { 'content-type': 'application/json' },
    });

    expect(response.status).toBe(400);
    expect(errorOf(response).code).toBe('INVALID_JSON');
  });

  it('refuses a 17 KiB body with 413 PAYLOAD_TOO_LARGE from the function', async () => {
    const response = await api.request('POST', '/api/holds', { raw: paddedHoldBody(17 * 1024) });

    expect(response.status).toBe(413);
    expect(errorOf(response)).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      message: expect.stringContaining('16384'),
    });
  });

  it('accepts a body of exactly 16 KiB', async () => {
    const response = await api.request('POST', '/api/holds', { raw: paddedHoldBody(16 * 1024) });

    expect(response.status).toBe(201);
  });

  it('refuses a body declared above 1 MiB before reading it, and keeps serving', async () => {
    const response = await rawRequest(`${gateway.url}/api/holds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(2 * MAX_REQUEST_BYTES) },
      body: Buffer.alloc(2 * MAX_REQUEST_BYTES, 0x20),
      expectContinue: true,
    });

    expect(response.status).toBe(413);
    expect(response.bodySent).toBe(false);
    expect(envelope.parse(JSON.parse(response.body))).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect((await api.get('/api/health')).status).toBe(200);
  });

  it.each([
    ['qty 0', { product_id: 1, qty: 0 }, 'body.qty'],
    ['qty 11 (over MAX_QTY_PER_HOLD)', { product_id: 1, qty: 11 }, 'body.qty'],
    ['qty "2" (a string)', { product_id: 1, qty: '2' }, 'body.qty'],
    ['qty 1.5', { product_id: 1, qty: 1.5 }, 'body.qty'],
    ['a missing product_id', { qty: 1 }, 'body.product_id'],
    ['product_id 0', { product_id: 0, qty: 1 }, 'body.product_id'],
    ['product_id "a b"', { product_id: 'a b', qty: 1 }, 'body.product_id'],
  ])('answers a hold with %s with 422 VALIDATION_ERROR naming the field', async (_what, body, field) => {
    const response = await api.post('/api/holds', body);

    expect(response.status).toBe(422);
    const error = errorOf(response);
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
  });

  it.each([1, '1'])('accepts product id %j and answers it as the string "1"', async (productId) => {
    const response = await api.post('/api/holds', { product_id: productId, qty: 1 });

    expect(response.status).toBe(201);
    expect(dataOf(response)).toMatchObject({ product_id: '1', qty: 1, status: 'active' });
  });

  it('ignores fields a client may not set on a hold (status, expires_at, hold_id)', async () => {
    const before = Date.now();
    const response = await api.post('/api/holds', {
      product_id: 1,
      qty: 1,
      status: 'released',
      expires_at: '2000-01-01T00:00:00.000Z',
      hold_id: 'chosen-by-client',
    });

    expect(response.status).toBe(201);
    const hold = dataOf(response);
    expect(hold.status).toBe('active');
    expect(hold.hold_id).not.toBe('chosen-by-client');
    expect(Date.parse(String(hold.expires_at))).toBeGreaterThan(before);
    const order = await api.post('/api/orders', { hold_id: 'chosen-by-client' });
    expect(order.status).toBe(404);
    expect(errorOf(order).code).toBe('HOLD_NOT_FOUND');
  });
});

describe('the envelope', () => {
  it('wraps every answer, success or error, in { success, data | error } as JSON', async () => {
    const requests: Array<[method: string, path: string, body?: string]> = [
      ['GET', '/api/health'],
      ['GET', '/api/products/1'],
      ['POST', '/api/holds', '{"product_id":1,"qty":1}'],
      ['GET', '/api/products/missing'],
      ['GET', '/api/orders/missing'],
      ['POST', '/api/holds', '{bad'],
      ['POST', '/api/holds', '{"product_id":1,"qty":0}'],
      ['POST', '/api/holds', paddedHoldBody(17 * 1024)],
      ['DELETE', '/api/holds'],
      ['GET', '/api/unknown'],
    ];

    const answers = await Promise.all(
      requests.map(async ([method, path, body]) => {
        const response = await fetch(`${gateway.url}${path}`, { method, body });
        return {
          status: response.status,
          contentType: response.headers.get('content-type'),
          body: (await response.json()) as unknown,
        };
      }),
    );

    expect(answers.map((a) => a.status)).toEqual([200, 200, 201, 404, 404, 400, 422, 413, 405, 404]);
    for (const answer of answers) {
      expect(answer.contentType).toMatch(/^application\/json/);
      const parsed = envelope.parse(answer.body);
      expect(parsed.success).toBe(answer.status < 400);
    }
  });
});
