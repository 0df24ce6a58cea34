// Fuzzed Idempotency-Key and X-Signature headers and `{id}` path parameters: 4xx in the envelope, never 5xx.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  process.env.WEBHOOK_SECRET = 'whsec_fuzz';
});

import fc from 'fast-check';
import { sign, signatureHeader } from '../../shared/http/signature.ts';
import { getOrderSlot } from '../../shared/orders/service.ts';
import { getProduct } from '../../shared/stock/service.ts';
import { productWithStock, T0 } from '../support/fixtures.ts';
import {
  createSentinel,
  expectError,
  expectLedgerBalanced,
  expectPrototypeClean,
  expectSentinelUnmoved,
  expectWellFormed,
  fuzzRuns,
  type Route,
  routes,
  type Sentinel,
  send,
  WEBHOOK_SECRET,
} from './harness.ts';

let sentinel: Sentinel;
let route: (name: string) => Route;

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
  sentinel = await createSentinel();
  const all = routes(sentinel);
  route = (name) => all.find((r) => r.name === name) as Route;
});
afterAll(() => {
  vi.useRealTimers();
});
afterEach(async () => {
  expectPrototypeClean('after the property');
  await expectLedgerBalanced('after the property');
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('fuzzed Idempotency-Key headers', () => {
  it('refuses an empty or over-255-character key with 422 and replays the first hold for any other key', async () => {
    const product = await productWithStock(1_000_000);
    const hold = route('POST /api/holds');
    const edgeKeys = fc.oneof(
      fc.constantFrom(
        '',
        ' ',
        'k'.repeat(255),
        'k'.repeat(256),
        'k'.repeat(10_000),
        '🔥'.repeat(127),
        '🔥'.repeat(128),
      ),
      fc.constantFrom(
        'a\u0000b',
        '\u202Ekey',
        '__proto__',
        'constructor',
        'toString',
        '\r\n',
        '*',
        '{"a":1}',
      ),
      fc.string({ unit: 'binary', maxLength: 300 }),
    );
    const body = JSON.stringify({ product_id: product, qty: 1 });
    const accepted = new Set<string>();

    await fc.assert(
      fc.asyncProperty(edgeKeys, async (key) => {
        // The schema counts Unicode code points (zod 4), not UTF-16 units: 255 emoji are a valid key.
        const length = [...key].length;
        const label = `Idempotency-Key ${JSON.stringify(key).slice(0, 100)} (${length} code points)`;

        const first = await send(hold, body, { headers: { 'idempotency-key': key } });
        const again = await send(hold, body, { headers: { 'idempotency-key': key } });

        if (length === 0 || length > 255) {
          expectError(first, 422, 'VALIDATION_ERROR', label);
          expectError(again, 422, 'VALIDATION_ERROR', label);
        } else {
          accepted.add(key);
          expectWellFormed(first, label);
          expect(first.status, label).toBe(201);
          expect(again, label).toMatchObject({
            status: 201,
            body: { data: { hold_id: first.body.data?.hold_id } },
          });
        }
        expectPrototypeClean(label);
      }),
      { numRuns: fuzzRuns },
    );

    // Each accepted key took exactly one unit, however often it was sent (keys fast-check repeats replay too).
    const { stock, available } = await getProduct(product);
    expect(stock - available).toBe(accepted.size);
  });
});

describe('fuzzed X-Signature headers', () => {
  const webhook = () => route('POST /api/payments/webhook');

  const FORGERIES = [
    'empty',
    'timestamp only',
    'digest only',
    'empty digest',
    'v2 digest',
    '301 s in the future',
    '301 s in the past',
    'other secret',
    'other body',
    'truncated digest',
    'digest too long',
    '13-digit timestamp',
    'negative timestamp',
    'decimal timestamp',
    'not hex',
    'semicolon separated',
    'upper-case names',
  ] as const;
  type Forgery =
    | { kind: (typeof FORGERIES)[number] }
    | { kind: 'garbage'; text: string }
    | { kind: 'one hex digit changed'; at: number; hex: string };

  const forgeries: fc.Arbitrary<Forgery> = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ kind: 'garbage' as const, text })),
    fc.constantFrom(...FORGERIES).map((kind) => ({ kind })),
    fc.record({
      kind: fc.constant('one hex digit changed' as const),
      at: fc.nat(63),
      hex: fc.constantFrom(...'0123456789abcdef'),
    }),
  );

  function forge(forgery: Forgery, rawBody: string): string {
    const t = nowSeconds();
    const digest = sign(WEBHOOK_SECRET, t, rawBody);
    switch (forgery.kind) {
      case 'garbage':
        return forgery.text;
      case 'one hex digit changed': {
        const original = digest[forgery.at];
        const hex = forgery.hex === original ? (original === '0' ? '1' : '0') : forgery.hex;
        return `t=${t},v1=${digest.slice(0, forgery.at)}${hex}${digest.slice(forgery.at + 1)}`;
      }
      case 'empty':
        return '';
      case 'timestamp only':
        return `t=${t}`;
      case 'digest only':
        return `v1=${digest}`;
      case 'empty digest':
        return `t=${t},v1=`;
      case 'v2 digest':
        return `t=${t},v2=${digest}`;
      case '301 s in the future':
        return `t=${t + 301},v1=${sign(WEBHOOK_SECRET, t + 301, rawBody)}`;
      case '301 s in the past':
        return `t=${t - 301},v1=${sign(WEBHOOK_SECRET, t - 301, rawBody)}`;
      case 'other secret':
        return `t=${t},v1=${sign('whsec_other', t, rawBody)}`;
      case 'other body':
        return `t=${t},v1=${sign(WEBHOOK_SECRET, t, `${rawBody} `)}`;
      case 'truncated digest':
        return `t=${t},v1=${digest.slice(0, 63)}`;
      case 'digest too long':
        return `t=${t},v1=${digest}0`;
      case '13-digit timestamp':
        return `t=${'9'.repeat(13)},v1=${digest}`;
      case 'negative timestamp':
        return `t=-${t},v1=${digest}`;
      case 'decimal timestamp':
        return `t=${t}.0,v1=${digest}`;
      case 'not hex':
        return `t=${t},v1=${'g'.repeat(64)}`;
      case 'semicolon separated':
        return `t=${t};v1=${digest}`;
      case 'upper-case names':
        return `T=${t},V1=${digest}`;
    }
  }

  it('refuses every forged, stale, truncated or garbage signature with 401 and leaves the order alone', async () => {
    await fc.assert(
      fc.asyncProperty(forgeries, async (forgery) => {
        const rawBody = JSON.stringify({
          idempotency_key: `evt_${randomUUID()}`,
          order_id: sentinel.pendingOrder,
          status: 'failure',
        });
        const header = forge(forgery, rawBody);
        const label = `X-Signature ${forgery.kind}: ${JSON.stringify(header).slice(0, 120)}`;

        const answer = await send(webhook(), rawBody, { headers: { 'x-signature': header } });

        expectError(answer, 401, 'INVALID_SIGNATURE', label);
        expect(await getOrderSlot(sentinel.pendingOrder), label).toMatchObject({ status: 'pending' });
        await expectSentinelUnmoved(sentinel, answer, label);
      }),
      { numRuns: fuzzRuns },
    );
  });

  it('accepts the valid signature in its tolerated forms: upper-case hex, among other v1 values, padded, 300 s old', async () => {
    const forms = (t: number, rawBody: string) => {
      const digest = sign(WEBHOOK_SECRET, t, rawBody);
      return [
        signatureHeader(WEBHOOK_SECRET, rawBody, t),
        `t=${t},v1=${digest.toUpperCase()}`,
        `t=${t},v1=${'0'.repeat(64)},v1=${digest}`,
        ` t=${t} , v1=${digest} `,
        signatureHeader(WEBHOOK_SECRET, rawBody, t - 300),
      ];
    };

    for (const index of [0, 1, 2, 3, 4]) {
      const rawBody = JSON.stringify({
        idempotency_key: `evt_${randomUUID()}`,
        order_id: `fz-${randomUUID().slice(0, 8)}`,
        status: 'failure',
      });
      const header = forms(nowSeconds(), rawBody)[index] as string;

      const answer = await send(webhook(), rawBody, { headers: { 'x-signature': header } });

      expect(answer, header).toMatchObject({
        status: 202,
        body: { data: { order_status: 'awaiting_order' } },
      });
    }
  });
});

describe('fuzzed path ids', () => {
  const ID = /^[A-Za-z0-9_-]{1,64}$/;
  const pathIds = fc.oneof(
    fc.constantFrom(
      '',
      '/',
      'a/b',
      '..',
      '../..',
      '../../etc/passwd',
      '.',
      'é',
      '🔥',
      '\u202Eabc',
      'a\u0000b',
    ),
    fc.constantFrom(
      'a'.repeat(64),
      'a'.repeat(65),
      ' ',
      '%2F',
      '__proto__',
      'constructor',
      'prototype',
      'toString',
    ),
    fc.constantFrom('0', '-1', '1e3', '1.5', 'hasOwnProperty', 'null', 'undefined', 'a b', 'a?b=c', 'a#b'),
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.stringMatching(/^[A-Za-z0-9_-]{1,70}$/),
  );
  const idRoutes = () =>
    fc.constantFrom('GET /api/products/{id}', 'GET /api/orders/{id}', 'PUT /api/admin/products/{id}');

  it('refuses ids outside 1-64 letters, digits, "-" or "_" with 422 on path.id; valid ones get 404 or their resource', async () => {
    await fc.assert(
      fc.asyncProperty(idRoutes(), pathIds, async (name, id) => {
        const target = route(name);
        const label = `${name} id=${JSON.stringify(id)}`;
        const body = target.body ? JSON.stringify(target.body()) : undefined;

        const answer = await send(target, body, { pathParameters: { id } });

        expectWellFormed(answer, label);
        if (!ID.test(id)) {
          expectError(answer, 422, 'VALIDATION_ERROR', label);
          expect(answer.body.error?.details, label).toContainEqual(
            expect.objectContaining({ field: 'path.id' }),
          );
        } else if (name === 'PUT /api/admin/products/{id}') {
          expect([200, 201], label).toContain(answer.status);
        } else {
          expect([200, 404], label).toContain(answer.status);
        }
        expectPrototypeClean(label);
        await expectSentinelUnmoved(sentinel, answer, label);
      }),
      { numRuns: fuzzRuns * 2 },
    );
  });

  it('refuses a request with no path parameters at all with 422', async () => {
    for (const name of ['GET /api/products/{id}', 'GET /api/orders/{id}', 'PUT /api/admin/products/{id}']) {
      const target = route(name);

      const answer = await send(target, target.body ? JSON.stringify(target.body()) : undefined, {
        pathParameters: undefined,
      });

      expectError(answer, 422, 'VALIDATION_ERROR', name);
    }
  });
});
