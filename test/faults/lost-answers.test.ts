// A DynamoDB write that lands but whose answer is lost (timeout), at every call of every operation: answers stay true.
import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { handler as createHoldHandler } from '../../functions/create-hold.ts';
import { handler as createOrderHandler } from '../../functions/create-order.ts';
import { handler as sweepHandler } from '../../functions/expire-holds.ts';
import { handler as webhookHandler } from '../../functions/payment-webhook.ts';
import { handler as putProductHandler } from '../../functions/put-product.ts';
import { createHold } from '../../shared/holds/service.ts';
import { createOrder, getOrderSlot } from '../../shared/orders/service.ts';
import { getProduct } from '../../shared/stock/service.ts';
import { forgetView } from '../../shared/stock/view.ts';
import { productBody, readWorld } from '../property/scenario.ts';
import { at, productWithBuckets, productWithStock, T0 } from '../support/fixtures.ts';
import { invoke, lambdaContext } from '../support/lambda.ts';
import {
  bucketLevels,
  drawsOf,
  liveSplitProduct,
  moved,
  plannedLevels,
  storedBucketCount,
} from './buckets.ts';
import { expectBalanced, expectDefinite, forEveryLostAnswer, lostAnswerHooks, sweepNow } from './calls.ts';

describe('a lost DynamoDB answer at any call', () => {
  lostAnswerHooks();

  it('a hold with Idempotency-Key is answered with its hold, in progress or 503, and its retry takes stock once', async () => {
    const arrange = async () => ({
      body: { product_id: await productWithStock(4), qty: 2 },
      headers: { 'idempotency-key': randomUUID() },
    });

    await forEveryLostAnswer(
      arrange,
      (request) => invoke(createHoldHandler, request),
      async (request, answer, label) => {
        const product = request.body.product_id;
        expectDefinite(answer, ['201', '409 REQUEST_IN_PROGRESS'], label);
        await expectBalanced(product, label);
        vi.setSystemTime(at(11));
        const retry = await invoke(createHoldHandler, request);
        expect(retry.status, label).toBe(201);
        if (answer.status === 201) expect(retry.body.data?.hold_id, label).toBe(answer.body.data?.hold_id);
        // Past the first attempt's expiry: whatever it left is released; a hold the retry made fresh is still there.
        await sweepNow(at(120.5));
        const active = Object.entries((await readWorld(product)).holds).filter(
          ([, h]) => h.status === 'active',
        );
        const retryIsFresh = String(retry.body.data?.expires_at) > at(120.5).toISOString();
        expect(
          active.map(([id]) => id),
          label,
        ).toEqual(retryIsFresh ? [retry.body.data?.hold_id] : []);
        expect((await getProduct(product)).available, label).toBe(retryIsFresh ? 2 : 4);
      },
    );
  });

  it('an order is answered with itself or 503, and its retry returns the one order', async () => {
    const arrange = async () => {
      const product = await productWithStock(5);
      const hold = await createHold(product, 2, T0);
      return { product, request: { body: { hold_id: hold.hold_id } } };
    };

    await forEveryLostAnswer(
      arrange,
      ({ request }) => invoke(createOrderHandler, request),
      async ({ product, request }, answer, label) => {
        expectDefinite(answer, ['200', '201'], label);
        if (answer.status < 300) expect(answer.body.data?.status, label).toBe('pending');
        await expectBalanced(product, label);
        const retry = await invoke(createOrderHandler, request);
        // After a 503 the order may or may not exist; after a definite answer the retry must find it.
        expect(answer.status === 503 ? [200, 201] : [200], label).toContain(retry.status);
        expect(retry.body.data?.status, label).toBe('pending');
        expect((await getProduct(product)).available, label).toBe(3);
      },
    );
  });

  for (const outcome of ['success', 'failure'] as const) {
    it(`a ${outcome} webhook is answered with the outcome, in progress or 503, and applies once`, async () => {
      const arrange = async () => {
        const product = await productWithStock(10);
        const hold = await createHold(product, 3, T0);
        await createOrder(hold.hold_id, T0);
        const body = { idempotency_key: `evt_${randomUUID()}`, order_id: hold.hold_id, status: outcome };
        return { product, orderId: hold.hold_id, delivery: { body } };
      };
      const finalStatus = outcome === 'success' ? 'paid' : 'cancelled';

      await forEveryLostAnswer(
        arrange,
        ({ delivery }) => invoke(webhookHandler, delivery),
        async ({ product, orderId, delivery }, answer, label) => {
          expectDefinite(answer, ['200', '409 REQUEST_IN_PROGRESS'], label);
          if (answer.status === 200) expect(answer.body.data?.order_status, label).toBe(finalStatus);
          await expectBalanced(product, label);
          vi.setSystemTime(at(11));
          const retry = await invoke(webhookHandler, delivery);
          expect(retry, label).toMatchObject({ status: 200, body: { data: { order_status: finalStatus } } });
          expect(await getOrderSlot(orderId), label).toMatchObject({ status: finalStatus });
          expect((await getProduct(product)).available, label).toBe(outcome === 'success' ? 7 : 10);
        },
      );
    });
  }

  it('a webhook before its order is parked once and applied by the order', async () => {
    const arrange = async () => {
      const product = await productWithStock(10);
      const hold = await createHold(product, 3, T0);
      const body = { idempotency_key: `evt_${randomUUID()}`, order_id: hold.hold_id, status: 'failure' };
      return { product, holdId: hold.hold_id, delivery: { body } };
    };

    await forEveryLostAnswer(
      arrange,
      ({ delivery }) => invoke(webhookHandler, delivery),
      async ({ product, holdId, delivery }, answer, label) => {
        expectDefinite(answer, ['202', '409 REQUEST_IN_PROGRESS'], label);
        await expectBalanced(product, label);
        vi.setSystemTime(at(11));
        const retry = await invoke(webhookHandler, delivery);
        const order = await invoke(createOrderHandler, { body: { hold_id: holdId } });
        expect(retry.status, label).toBe(202);
        expect(order, label).toMatchObject({ status: 201, body: { data: { status: 'cancelled' } } });
        expect((await getProduct(product)).available, label).toBe(10);
      },
    );
  });

  it('a restock is answered with the new stock or 503, and moves available by the change exactly once', async () => {
    const arrange = async () => {
      const product = await productWithStock(5);
      await createHold(product, 2, T0);
      return {
        product,
        request: { pathParameters: { id: product }, body: { name: 'Restocked', price: '1.00', stock: 8 } },
      };
    };

    await forEveryLostAnswer(
      arrange,
      ({ request }) => invoke(putProductHandler, request),
      async ({ product, request }, answer, label) => {
        expectDefinite(answer, ['200'], label);
        if (answer.status === 200) expect(answer.body.data, label).toMatchObject({ stock: 8, available: 6 });
        await expectBalanced(product, label);
        const retry = await invoke(putProductHandler, request);
        expect(retry.body.data, label).toMatchObject({ stock: 8, available: 6 });
      },
    );
  });

  it('a sweep settles what it reports, and the next sweep the rest, each item once', async () => {
    const arrange = async () => {
      const product = await productWithStock(10);
      const expiring = await createHold(product, 1, T0);
      const unpaid = await createHold(product, 4, T0);
      await createOrder(unpaid.hold_id, at(1));
      return { product, ids: [expiring.hold_id, unpaid.hold_id] };
    };

    await forEveryLostAnswer(
      arrange,
      async () => {
        vi.setSystemTime(at(1000));
        const report = await sweepHandler({}, lambdaContext('expire-holds')).catch((error: unknown) => error);
        return {
          status: report instanceof Error ? 503 : 200,
          body: { success: true },
          headers: { 'Retry-After': '1' },
        };
      },
      async ({ product, ids }, _answer, label) => {
        await expectBalanced(product, label);
        // The next scheduled run, after a lease whose release was lost ran out (10 s, the Lambda's remaining time).
        const next = await sweepNow(at(1011));
        expect(next.failures, label).toBe(0);
        expect(await getOrderSlot(ids[1] as string), label).toMatchObject({ status: 'expired' });
        expect((await getProduct(product)).available, label).toBe(10);
      },
    );
  });
  it('a hold spanning several buckets is answered with its hold, in progress or 503; its retry takes every draw once and expiry gives each bucket its units back', async () => {
    const arrange = async () => {
      // 2 units in each of 8 buckets: a hold of 7 draws from four of them.
      const product = await productWithBuckets(16, 8);
      // A cold Lambda: it reads the product and its buckets first, so those answers can be lost too.
      forgetView(product);
      return {
        before: await bucketLevels(product),
        request: { body: { product_id: product, qty: 7 }, headers: { 'idempotency-key': randomUUID() } },
      };
    };

    await forEveryLostAnswer(
      arrange,
      ({ request }) => invoke(createHoldHandler, request),
      async ({ before, request }, answer, label) => {
        const product = request.body.product_id;
        expectDefinite(answer, ['201', '409 REQUEST_IN_PROGRESS'], label);
        await expectBalanced(product, label);
        if (answer.status === 201) {
          const draws = await drawsOf(String(answer.body.data?.hold_id));
          expect(draws.length, `${label}: spans buckets`).toBeGreaterThan(1);
          expect(await bucketLevels(product), label).toEqual(moved(before, draws, -1));
        }
        vi.setSystemTime(at(11));
        const retry = await invoke(createHoldHandler, request);
        expect(retry.status, label).toBe(201);
        if (answer.status === 201) expect(retry.body.data?.hold_id, label).toBe(answer.body.data?.hold_id);
        const retryDraws = await drawsOf(String(retry.body.data?.hold_id));
        // Past the first attempt's expiry: whatever it left went back to its buckets; a fresh retry's hold stays.
        await sweepNow(at(120.5));
        const retryIsFresh = String(retry.body.data?.expires_at) > at(120.5).toISOString();
        expect(await bucketLevels(product), label).toEqual(
          retryIsFresh ? moved(before, retryDraws, -1) : before,
        );
        await sweepNow(at(1000));
        expect(await bucketLevels(product), `${label}: every bucket back`).toEqual(before);
        await expectBalanced(product, `${label} after expiry`);
      },
    );
  });

  for (const target of [
    { stock: 40, buckets: 5 },
    { stock: 30, buckets: 1 },
  ]) {
    it(`a restock from 40 units over 2 buckets to ${target.stock} over ${target.buckets} of a product with holds and an order is answered with the new split or 503, and its retry leaves every bucket where planned`, async () => {
      const arrange = async () => {
        const live = await liveSplitProduct();
        return {
          ...live,
          planned: await plannedLevels(live.product, target.stock, target.buckets),
          request: { pathParameters: { id: live.product }, body: productBody(target.stock, target.buckets) },
        };
      };
      const wanted = (committed: number) => ({
        stock: target.stock,
        available: target.stock - committed,
        stock_buckets: target.buckets,
      });

      await forEveryLostAnswer(
        arrange,
        ({ request }) => invoke(putProductHandler, request),
        async ({ product, holds, committed, planned, request }, answer, label) => {
          expectDefinite(answer, ['200'], label);
          await expectBalanced(product, label);
          if (answer.status === 200) {
            expect(answer.body.data, label).toMatchObject(wanted(committed));
            expect(await bucketLevels(product), label).toEqual(planned);
          }
          const retry = await invoke(putProductHandler, request);
          expect(retry, label).toMatchObject({ status: 200, body: { data: wanted(committed) } });
          expect(await storedBucketCount(product), label).toBe(target.buckets);
          expect(await bucketLevels(product), label).toEqual(planned);
          // The holds expire into the buckets they drew from, whatever the split is now.
          await sweepNow(at(120.5));
          const draws = (await Promise.all(holds.map((hold) => drawsOf(hold.hold_id)))).flat();
          expect(await bucketLevels(product), `${label}: holds back to their buckets`).toEqual(
            moved(planned, draws, 1),
          );
          await expectBalanced(product, `${label} after expiry`);
        },
      );
    });
  }
});
