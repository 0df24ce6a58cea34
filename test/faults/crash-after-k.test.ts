// A Lambda dying after any of its DynamoDB calls: the ledger still balances and a retry (or the next sweep) finishes the job once.
import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { handler as createHoldHandler } from '../../functions/create-hold.ts';
import { handler as createOrderHandler } from '../../functions/create-order.ts';
import { handler as webhookHandler } from '../../functions/payment-webhook.ts';
import { handler as putProductHandler } from '../../functions/put-product.ts';
import { checkLedger } from '../../shared/audit/ledger.ts';
import { getHold } from '../../shared/holds/items.ts';
import { createHold } from '../../shared/holds/service.ts';
import { createOrder, getOrderSlot } from '../../shared/orders/service.ts';
import { applyPayment } from '../../shared/payments/service.ts';
import { getProduct } from '../../shared/stock/service.ts';
import { forgetView } from '../../shared/stock/view.ts';
import { clearTable, productBody, readWorld } from '../property/scenario.ts';
import { at, productWithBuckets, productWithStock, T0 } from '../support/fixtures.ts';
import { invoke } from '../support/lambda.ts';
import {
  bucketLevels,
  drawsOf,
  liveSplitProduct,
  moved,
  plannedLevels,
  slotLevels,
  storedBucketCount,
} from './buckets.ts';
import {
  callsMadeBy,
  crashColdAfter,
  crashHooks,
  expectBalanced,
  retryPastInProgress,
  sweepNow,
} from './calls.ts';

const activeHolds = async (product: string) =>
  Object.entries((await readWorld(product)).holds).filter(([, hold]) => hold.status === 'active');

describe('crash after k DynamoDB calls', () => {
  crashHooks();

  it('a hold without key either never happened or is whole, and a retry takes exactly one hold of stock', async () => {
    const request = async () => ({ body: { product_id: await productWithStock(5), qty: 2 } });
    const n = await callsMadeBy(request, (hold) => invoke(createHoldHandler, hold));
    // From a cold process: the product, its buckets, then the reserving transaction.
    expect(n).toBe(3);

    for (let k = 0; k < n; k++) {
      await clearTable();
      vi.setSystemTime(T0);
      const hold = await request();
      const product = hold.body.product_id;

      await crashColdAfter(k, () => invoke(createHoldHandler, hold));

      await expectBalanced(product, `k=${k} after the crash`);
      // The reserving transaction is the last call, so a crash before it leaves nothing behind.
      expect(await activeHolds(product), `k=${k}`).toEqual([]);
      vi.setSystemTime(at(1));
      const retry = await invoke(createHoldHandler, hold);
      expect(retry.status, `k=${k}`).toBe(201);
      // A hold that landed before the crash is nobody's: the sweep returns it at its expiry, the retry's stays.
      await sweepNow(at(120.5));
      expect(
        (await activeHolds(product)).map(([id]) => id),
        `k=${k}`,
      ).toEqual([retry.body.data?.hold_id]);
      expect((await getProduct(product)).available, `k=${k}`).toBe(3);
      await expectBalanced(product, `k=${k} after retry and sweep`);
    }
  });

  it('a hold with Idempotency-Key: 409 REQUEST_IN_PROGRESS until the in-progress expiry, then one hold; a hold that landed before the crash is released at its expiry', async () => {
    const request = async () => ({
      body: { product_id: await productWithStock(5), qty: 2 },
      headers: { 'idempotency-key': randomUUID() },
    });
    const n = await callsMadeBy(request, (hold) => invoke(createHoldHandler, hold));
    expect(n).toBeGreaterThanOrEqual(3);

    for (let k = 0; k < n; k++) {
      await clearTable();
      vi.setSystemTime(T0);
      const hold = await request();
      const product = hold.body.product_id;

      await crashColdAfter(k, () => invoke(createHoldHandler, hold));

      await expectBalanced(product, `k=${k} after the crash`);
      const orphans = (await activeHolds(product)).map(([id]) => id);
      // Only a crash between the reserving transaction and the record's success update strands a hold.
      expect(orphans, `k=${k}`).toHaveLength(k === n - 1 ? 1 : 0);
      const { first, final } = await retryPastInProgress(() => invoke(createHoldHandler, hold), at(1));
      // The first call writes the in-progress record; any crash after it leaves the record behind.
      expect(first.body.error?.code === 'REQUEST_IN_PROGRESS', `k=${k}`).toBe(k >= 1);
      expect(final.status, `k=${k}: ${JSON.stringify(final)}`).toBe(201);
      const holdId = String(final.body.data?.hold_id);
      expect(orphans, `k=${k}`).not.toContain(holdId);
      expect((await getProduct(product)).available, `k=${k}`).toBe(5 - 2 * (1 + orphans.length));
      const replay = await invoke(createHoldHandler, hold);
      expect(replay.body.data?.hold_id, `k=${k}: a later retry replays`).toBe(holdId);
      await sweepNow(at(120.5));
      expect(
        (await activeHolds(product)).map(([id]) => id),
        `k=${k}`,
      ).toEqual([holdId]);
      expect((await getProduct(product)).available, `k=${k}`).toBe(3);
      await expectBalanced(product, `k=${k} after retry and sweep`);
    }
  });

  it('an order either is created whole or not at all, and the retry creates it once', async () => {
    const arrange = async () => {
      const product = await productWithStock(5);
      const hold = await createHold(product, 2, T0);
      return { product, request: { body: { hold_id: hold.hold_id } } };
    };
    const n = await callsMadeBy(arrange, ({ request }) => invoke(createOrderHandler, request));
    expect(n).toBeGreaterThanOrEqual(3);

    for (let k = 0; k < n; k++) {
      await clearTable();
      vi.setSystemTime(T0);
      const { product, request } = await arrange();

      await crashColdAfter(k, () => invoke(createOrderHandler, request));

      await expectBalanced(product, `k=${k} after the crash`);
      vi.setSystemTime(at(1));
      const retry = await invoke(createOrderHandler, request);
      const again = await invoke(createOrderHandler, request);
      expect(retry.status, `k=${k}`).toBe(201);
      expect(retry.body.data?.status, `k=${k}`).toBe('pending');
      expect(again.status, `k=${k}`).toBe(200);
      expect((await getProduct(product)).available, `k=${k}`).toBe(3);
      await expectBalanced(product, `k=${k} after the retry`);
    }
  });

  for (const outcome of ['success', 'failure'] as const) {
    it(`a ${outcome} webhook crashed anywhere is applied exactly once by its retry`, async () => {
      const arrange = async () => {
        const product = await productWithStock(10);
        const hold = await createHold(product, 3, T0);
        await createOrder(hold.hold_id, T0);
        const body = { idempotency_key: `evt_${randomUUID()}`, order_id: hold.hold_id, status: outcome };
        return { product, orderId: hold.hold_id, delivery: { body } };
      };
      const n = await callsMadeBy(arrange, ({ delivery }) => invoke(webhookHandler, delivery));
      expect(n).toBeGreaterThanOrEqual(4);
      const finalStatus = outcome === 'success' ? 'paid' : 'cancelled';

      for (let k = 0; k < n; k++) {
        await clearTable();
        vi.setSystemTime(T0);
        const { product, orderId, delivery } = await arrange();

        await crashColdAfter(k, () => invoke(webhookHandler, delivery));

        await expectBalanced(product, `k=${k} after the crash`);
        const { first, final } = await retryPastInProgress(() => invoke(webhookHandler, delivery), at(1));
        expect(first.body.error?.code === 'REQUEST_IN_PROGRESS', `k=${k}`).toBe(k >= 1);
        expect(final, `k=${k}`).toMatchObject({
          status: 200,
          body: { data: { order_id: orderId, order_status: finalStatus } },
        });
        const slot = await getOrderSlot(orderId);
        expect(slot, `k=${k}`).toMatchObject({
          status: finalStatus,
          payment_key: delivery.body.idempotency_key,
        });
        // Failure returns the 3 units exactly once; success keeps them sold.
        expect((await getProduct(product)).available, `k=${k}`).toBe(outcome === 'success' ? 7 : 10);
        await expectBalanced(product, `k=${k} after the retry`);
      }
    });
  }

  it('a webhook before its order, crashed anywhere, is parked once by its retry and applied by the order', async () => {
    const arrange = async () => {
      const product = await productWithStock(10);
      const hold = await createHold(product, 3, T0);
      const body = { idempotency_key: `evt_${randomUUID()}`, order_id: hold.hold_id, status: 'success' };
      return { product, holdId: hold.hold_id, delivery: { body } };
    };
    const n = await callsMadeBy(arrange, ({ delivery }) => invoke(webhookHandler, delivery));
    expect(n).toBeGreaterThanOrEqual(5);

    for (let k = 0; k < n; k++) {
      await clearTable();
      vi.setSystemTime(T0);
      const { product, holdId, delivery } = await arrange();

      await crashColdAfter(k, () => invoke(webhookHandler, delivery));

      await expectBalanced(product, `k=${k} after the crash`);
      const { first, final } = await retryPastInProgress(() => invoke(webhookHandler, delivery), at(1));
      expect(first.body.error?.code === 'REQUEST_IN_PROGRESS', `k=${k}`).toBe(k >= 1);
      expect(final, `k=${k}`).toMatchObject({
        status: 202,
        body: { data: { order_status: 'awaiting_order' } },
      });
      const order = await invoke(createOrderHandler, { body: { hold_id: holdId } });
      expect(order, `k=${k}`).toMatchObject({ status: 201, body: { data: { status: 'paid' } } });
      expect((await getProduct(product)).available, `k=${k}`).toBe(7);
      await expectBalanced(product, `k=${k} after the order`);
    }
  });

  it('a sweep crashed anywhere leaves nothing half-settled, and the next sweep settles every item once', async () => {
    const arrange = async () => {
      const product = await productWithStock(10);
      const plain = await createHold(product, 1, T0);
      const paidEarly = await createHold(product, 2, T0);
      const failedEarly = await createHold(product, 3, T0);
      const unpaid = await createHold(product, 4, T0);
      await applyPayment(
        { idempotency_key: `evt_${randomUUID()}`, order_id: paidEarly.hold_id, status: 'success' },
        at(1),
      );
      await applyPayment(
        { idempotency_key: `evt_${randomUUID()}`, order_id: failedEarly.hold_id, status: 'failure' },
        at(1),
      );
      await createOrder(unpaid.hold_id, at(1));
      return { product, ids: [plain, paidEarly, failedEarly, unpaid].map((hold) => hold.hold_id) };
    };
    const n = await callsMadeBy(arrange, () => sweepNow(at(1000)));
    expect(n).toBeGreaterThanOrEqual(4 + 4);

    for (let k = 0; k < n; k++) {
      await clearTable();
      vi.setSystemTime(T0);
      const { product, ids } = await arrange();

      await crashColdAfter(k, () => sweepNow(at(1000))).catch(() => 'crashed');

      await expectBalanced(product, `k=${k} after the crash`);
      // The next scheduled run: after the crashed run's lease (its Lambda's remaining time, 10 s here) ran out.
      const report = await sweepNow(at(1011));
      expect(report.failures, `k=${k}`).toBe(0);
      const [plain, paidEarly, failedEarly, unpaid] = await Promise.all(ids.map((id) => getHold(id)));
      const orders = await Promise.all(
        ids.map(async (id) => (await getOrderSlot(id)) as { status?: string } | undefined),
      );
      expect([plain?.status, paidEarly?.status, failedEarly?.status, unpaid?.status], `k=${k}`).toEqual([
        'released',
        'ordered',
        'released',
        'ordered',
      ]);
      expect(
        orders.map((order) => order?.status),
        `k=${k}`,
      ).toEqual([undefined, 'paid', 'cancelled', 'expired']);
      // 10 - 2 paid: the plain hold, the failed payment and the expired order each came back exactly once.
      expect((await getProduct(product)).available, `k=${k}`).toBe(8);
      await expectBalanced(product, `k=${k} after the next sweep`);
    }
  });
  for (const keyed of [false, true]) {
    it(`a hold spanning several buckets ${keyed ? 'with' : 'without'} Idempotency-Key, crashed anywhere, took every draw or none; its retry takes one hold and expiry gives each bucket its units back`, async () => {
      const request = async () => {
        // 2 units in each of 8 buckets: a hold of 7 draws from four of them.
        const product = await productWithBuckets(16, 8);
        // A cold Lambda: it reads the product and its buckets before the reserving transaction.
        forgetView(product);
        return {
          body: { product_id: product, qty: 7 },
          headers: keyed ? { 'idempotency-key': randomUUID() } : undefined,
        };
      };
      const n = await callsMadeBy(request, (hold) => invoke(createHoldHandler, hold));
      expect(n).toBeGreaterThanOrEqual(keyed ? 5 : 3);

      for (let k = 0; k < n; k++) {
        await clearTable();
        vi.setSystemTime(T0);
        const hold = await request();
        const product = hold.body.product_id;
        const before = await bucketLevels(product);

        await crashColdAfter(k, () => invoke(createHoldHandler, hold));

        await expectBalanced(product, `k=${k} after the crash`);
        const orphans = (await activeHolds(product)).map(([id]) => id);
        // Only a keyed hold can be stranded: between its transaction and the idempotency record's success update.
        expect(orphans, `k=${k}`).toHaveLength(keyed && k === n - 1 ? 1 : 0);
        const orphanDraws = orphans[0] ? await drawsOf(orphans[0]) : [];
        if (orphans[0]) expect(orphanDraws.length, `k=${k}: the orphan spans buckets`).toBeGreaterThan(1);
        // Whole or nothing: the orphan's every draw is gone from its bucket, and no other bucket moved.
        expect(await bucketLevels(product), `k=${k} after the crash`).toEqual(moved(before, orphanDraws, -1));

        const { final } = await retryPastInProgress(() => invoke(createHoldHandler, hold), at(1));
        expect(final.status, `k=${k}: ${JSON.stringify(final)}`).toBe(201);
        const holdId = String(final.body.data?.hold_id);
        expect(orphans, `k=${k}`).not.toContain(holdId);
        const retryDraws = await drawsOf(holdId);
        expect(retryDraws.length, `k=${k}: the retry spans buckets`).toBeGreaterThan(1);
        expect(await bucketLevels(product), `k=${k} after the retry`).toEqual(
          moved(moved(before, orphanDraws, -1), retryDraws, -1),
        );

        // The orphan's expiry gives its buckets back; the retry's hold (created later) keeps its own.
        await sweepNow(at(120.5));
        expect(
          (await activeHolds(product)).map(([id]) => id),
          `k=${k}`,
        ).toEqual([holdId]);
        expect(await bucketLevels(product), `k=${k} after the orphan's expiry`).toEqual(
          moved(before, retryDraws, -1),
        );
        await sweepNow(at(1000));
        expect(await bucketLevels(product), `k=${k}: every bucket back to its level`).toEqual(before);
        await expectBalanced(product, `k=${k} after both expiries`);
      }
    });
  }

  for (const target of [
    { stock: 40, buckets: 5 },
    { stock: 30, buckets: 1 },
  ]) {
    it(`a restock from 40 units over 2 buckets to ${target.stock} over ${target.buckets}, with holds and an order in four buckets, crashed anywhere leaves every bucket balanced at its old or new level; its retry finishes the re-split and the holds go back to their buckets`, async () => {
      const arrange = async () => {
        const live = await liveSplitProduct();
        const request = {
          pathParameters: { id: live.product },
          body: productBody(target.stock, target.buckets),
        };
        return { ...live, request };
      };
      const n = await callsMadeBy(arrange, ({ request }) => invoke(putProductHandler, request));
      // Read product and buckets, write buckets one by one and the product item, read again for the answer.
      expect(n).toBeGreaterThanOrEqual(6);

      for (let k = 0; k < n; k++) {
        await clearTable();
        vi.setSystemTime(T0);
        const { product, holds, ordered, committed, request } = await arrange();
        const [spanning, single] = await Promise.all(holds.map((hold) => drawsOf(hold.hold_id)));
        expect(spanning?.length, 'the first hold spans two buckets').toBe(2);
        const before = await bucketLevels(product);
        const planned = await plannedLevels(product, target.stock, target.buckets);

        await crashColdAfter(k, () => invoke(putProductHandler, request));

        // A live product is re-split one bucket at a time: each bucket is at its old level or its new one, each
        // balances on its own, and no moment shows more stock than before or than asked for.
        await expectBalanced(product, `k=${k} after the crash`);
        const levels = await slotLevels(product, planned.length);
        planned.forEach((level, bucket) => {
          expect([before[bucket], level], `k=${k} bucket ${bucket} after the crash`).toContain(
            levels[bucket],
          );
        });
        expect([2, target.buckets], `k=${k}`).toContain(await storedBucketCount(product));
        const [total] = (await checkLedger(product)).products;
        expect(total?.stock, `k=${k}: stock in every bucket item`).toBeLessThanOrEqual(
          Math.max(40, target.stock),
        );
        expect(total?.stock, `k=${k}`).toBeGreaterThanOrEqual(committed);

        vi.setSystemTime(at(1));
        const retry = await invoke(putProductHandler, request);
        expect(retry, `k=${k}`).toMatchObject({
          status: 200,
          body: {
            data: {
              stock: target.stock,
              available: target.stock - committed,
              stock_buckets: target.buckets,
            },
          },
        });
        expect(await bucketLevels(product), `k=${k} after the retry`).toEqual(planned);
        await expectBalanced(product, `k=${k} after the retry`);

        // The holds expire into the buckets they drew from, retired ones included; then the order's window ends.
        await sweepNow(at(120.5));
        const released = moved(moved(planned, spanning ?? [], 1), single ?? [], 1);
        expect(await bucketLevels(product), `k=${k} after the holds expired`).toEqual(released);
        await sweepNow(at(1000));
        expect(await bucketLevels(product), `k=${k} after the order expired`).toEqual(
          moved(released, await drawsOf(ordered.hold_id), 1),
        );
        expect((await getProduct(product)).available, `k=${k}`).toBe(target.stock);
        await expectBalanced(product, `k=${k} after the sweeps`);
      }
    });
  }

  it('a sweep over holds of several buckets, one spanning two, crashed anywhere leaves nothing half-settled, and the next sweep gives every bucket its units back once', async () => {
    const arrange = async () => {
      // 4 units in each of 4 buckets.
      const product = await productWithBuckets(16, 4);
      const spanning = await createHold(product, 6, T0); // 4 + 2 from two buckets
      const spanningOrdered = await createHold(product, 7, T0); // 4 + 3 from the two others
      const single = await createHold(product, 2, T0); // the one bucket with 2 left
      const failedEarly = await createHold(product, 1, T0); // the last unit
      await createOrder(spanningOrdered.hold_id, at(1));
      await applyPayment(
        { idempotency_key: `evt_${randomUUID()}`, order_id: failedEarly.hold_id, status: 'failure' },
        at(1),
      );
      const ids = [spanning, spanningOrdered, single, failedEarly].map((hold) => hold.hold_id);
      return { product, ids };
    };
    const n = await callsMadeBy(arrange, () => sweepNow(at(1000)));
    expect(n).toBeGreaterThanOrEqual(4 + 4);

    for (let k = 0; k < n; k++) {
      await clearTable();
      vi.setSystemTime(T0);
      const { product, ids } = await arrange();
      const draws = await Promise.all(ids.map(drawsOf));
      expect(
        draws.map((d) => d.length),
        'two holds span two buckets each',
      ).toEqual([2, 2, 1, 1]);
      expect(await bucketLevels(product), 'sold out').toEqual([0, 0, 0, 0]);

      await crashColdAfter(k, () => sweepNow(at(1000))).catch(() => 'crashed');

      await expectBalanced(product, `k=${k} after the crash`);
      // Whatever the crashed run settled went back whole: each bucket holds exactly the draws of settled items.
      const settled = await Promise.all(
        ids.map(async (id) => {
          const [hold, order] = await Promise.all([getHold(id), getOrderSlot(id)]);
          const status = (order as { status?: string } | undefined)?.status;
          return hold?.status === 'released' || status === 'expired';
        }),
      );
      const partly = draws.reduce(
        (levels, holdDraws, i) => (settled[i] ? moved(levels, holdDraws, 1) : levels),
        [0, 0, 0, 0],
      );
      expect(await bucketLevels(product), `k=${k} after the crash`).toEqual(partly);

      const report = await sweepNow(at(1011));
      expect(report.failures, `k=${k}`).toBe(0);
      const holds = await Promise.all(ids.map((id) => getHold(id)));
      const orders = await Promise.all(
        ids.map(async (id) => (await getOrderSlot(id)) as { status?: string } | undefined),
      );
      expect(
        holds.map((hold) => hold?.status),
        `k=${k}`,
      ).toEqual(['released', 'ordered', 'released', 'released']);
      expect(
        orders.map((order) => order?.status),
        `k=${k}`,
      ).toEqual([undefined, 'expired', undefined, 'cancelled']);
      expect(await bucketLevels(product), `k=${k}: every bucket back to its level`).toEqual([4, 4, 4, 4]);
      await expectBalanced(product, `k=${k} after the next sweep`);
    }
  });
});
