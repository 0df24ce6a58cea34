// The Adyen webhook Lambda against DynamoDB Local, with items signed by Adyen's own HmacValidator: each mapping row,
// batches with a bad item, duplicates, an item before its order, key rotation, amounts and foreign items.
import { describe, expect, it, vi } from 'vitest';

const KEY_NEW = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';
const KEY_OLD = '0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';
vi.hoisted(() => {
  // Two active keys while a rotation is under way.
  process.env.ADYEN_HMAC_KEY =
    '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056,0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';
});

import { handler } from '../../functions/adyen-webhook.ts';
import { getItem } from '../../shared/db/client.ts';
import { createHold } from '../../shared/holds/service.ts';
import { createOrder, getOrder } from '../../shared/orders/service.ts';
import { type PaymentEventItem, paymentEventKey } from '../../shared/payments/items.ts';
import type { AdyenNotificationItem } from '../../shared/schemas.ts';
import { getProduct } from '../../shared/stock/service.ts';
import { productWithStock } from '../support/fixtures.ts';
import { invoke } from '../support/lambda.ts';
import { expectBalanced, expectStillPending, pendingOrder, UNIT_PRICE_MINOR } from '../support/orders.ts';
import { adyenItemOf, adyenNotificationOf, signedAdyenItem } from '../support/providers.ts';

const PRICE = UNIT_PRICE_MINOR;

/** An item for `orderId`, `value` minor units (USD, the fixtures' currency), signed with `key`. */
const item = (
  orderId: string,
  eventCode: string,
  value: number,
  fields: Partial<AdyenNotificationItem> = {},
  key = KEY_NEW,
) =>
  signedAdyenItem(
    adyenItemOf({ eventCode, merchantReference: orderId, amount: { value, currency: 'USD' }, ...fields }),
    key,
  );

const notify = (...items: AdyenNotificationItem[]) => invoke(handler, { body: adyenNotificationOf(items) });

describe('each Adyen event code, as the mapping table says', () => {
  it('AUTHORISATION success "true" pays the order; the answer is [accepted] in plain text', async () => {
    const { product, orderId, total } = await pendingOrder(10, 2);

    const answer = await notify(item(orderId, 'AUTHORISATION', total));

    expect(answer.status).toBe(200);
    expect(answer.text).toBe('[accepted]');
    expect(answer.headers['content-type']).toMatch(/^text\/plain/);
    expect((await getOrder(orderId)).status).toBe('paid');
    expect((await getProduct(product)).available).toBe(8);
    await expectBalanced(product);
  });

  it.each([
    ['AUTHORISATION with success "false"', 'AUTHORISATION', 'false'],
    ['CANCELLATION', 'CANCELLATION', 'true'],
  ] as const)('%s cancels the order and gives its units back', async (_name, code, success) => {
    const { product, orderId, total } = await pendingOrder(10, 3);

    const answer = await notify(item(orderId, code, total, { success }));

    expect(answer.text).toBe('[accepted]');
    expect((await getOrder(orderId)).status).toBe('cancelled');
    expect((await getProduct(product)).available).toBe(10);
    await expectBalanced(product);
  });

  it.each([
    ['CANCELLATION', 'false'],
    ['CAPTURE', 'true'],
    ['REFUND', 'true'],
    ['REPORT_AVAILABLE', 'true'],
  ] as const)('acknowledges %s (success %s) and changes nothing', async (code, success) => {
    const { product, orderId, total } = await pendingOrder(10, 2);

    const answer = await notify(item(orderId, code, total, { success }));

    expect(answer.text).toBe('[accepted]');
    await expectStillPending(product, orderId, 8);
  });

  it('acknowledges items of another shop on the same account (a merchantReference that is not ours)', async () => {
    const { orderId, total } = await pendingOrder(10, 2);

    const answer = await notify(
      item('shop-b/order 7', 'AUTHORISATION', total),
      item(crypto.randomUUID(), 'AUTHORISATION', total),
    );

    expect(answer.text).toBe('[accepted]');
    expect((await getOrder(orderId)).status).toBe('pending');
  });
});

describe('batches and signatures', () => {
  it('applies the two verified items of a 3-item batch whose middle item is forged, and only those', async () => {
    const paid = await pendingOrder(10, 2);
    const forged = await pendingOrder(10, 2);
    const cancelled = await pendingOrder(10, 1);
    const tampered = { ...item(forged.orderId, 'AUTHORISATION', forged.total), success: 'false' as const };

    const answer = await notify(
      item(paid.orderId, 'AUTHORISATION', paid.total),
      tampered,
      item(cancelled.orderId, 'CANCELLATION', cancelled.total),
    );

    expect(answer.status).toBe(200);
    expect(answer.text).toBe('[accepted]');
    expect((await getOrder(paid.orderId)).status).toBe('paid');
    expect((await getOrder(forged.orderId)).status).toBe('pending');
    expect((await getOrder(cancelled.orderId)).status).toBe('cancelled');
    for (const { product } of [paid, forged, cancelled]) await expectBalanced(product);
  });

  it.each([
    [
      'signed with a key we do not hold',
      (orderId: string, total: number) => item(orderId, 'CANCELLATION', total, {}, '11'.repeat(32)),
    ],
    [
      'without hmacSignature',
      (orderId: string, total: number) => ({ ...item(orderId, 'CANCELLATION', total), additionalData: {} }),
    ],
    [
      'with its amount changed after signing',
      (orderId: string, total: number) => ({
        ...item(orderId, 'CANCELLATION', total),
        amount: { value: 1, currency: 'USD' },
      }),
    ],
  ])(
    'answers 401 INVALID_ADYEN_SIGNATURE when no item verifies (%s), and nothing changes',
    async (_name, itemOf) => {
      const { product, orderId, total } = await pendingOrder(10, 2);

      const answer = await notify(itemOf(orderId, total));

      expect(answer.status).toBe(401);
      expect(answer.body.error?.code).toBe('INVALID_ADYEN_SIGNATURE');
      await expectStillPending(product, orderId, 8);
    },
  );

  it('accepts items signed with the old key while the new one is being rolled out', async () => {
    const { orderId, total } = await pendingOrder(10, 2);

    const answer = await notify(item(orderId, 'AUTHORISATION', total, {}, KEY_OLD));

    expect(answer.text).toBe('[accepted]');
    expect((await getOrder(orderId)).status).toBe('paid');
  });

  it("answers 422 for a body that is not Adyen's notification, and 400 for one that is not JSON", async () => {
    const wrongShape = await invoke(handler, { body: { notificationItems: [] } });
    const notJson = await invoke(handler, { rawBody: '[accepted]' });

    expect(wrongShape.status).toBe(422);
    expect(wrongShape.body.error?.code).toBe('VALIDATION_ERROR');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error?.code).toBe('INVALID_JSON');
  });
});

describe('exactly once, whatever the order of delivery', () => {
  it('applies a notification delivered 6 times at once (Adyen retries) once', async () => {
    const { product, orderId, total } = await pendingOrder(10, 3);
    const body = adyenNotificationOf([item(orderId, 'CANCELLATION', total)]);

    const answers = await Promise.all(Array.from({ length: 6 }, () => invoke(handler, { body })));

    for (const answer of answers) expect(answer.text).toBe('[accepted]');
    expect((await getOrder(orderId)).status).toBe('cancelled');
    expect((await getProduct(product)).available).toBe(10);
    await expectBalanced(product);
  });

  it('keys by pspReference and eventCode: a CANCELLATION after the AUTHORISATION of one payment is a conflict', async () => {
    const { product, orderId, total } = await pendingOrder(10, 2);
    const authorised = item(orderId, 'AUTHORISATION', total);
    await notify(authorised);

    const answer = await notify(
      item(orderId, 'CANCELLATION', total, { pspReference: authorised.pspReference }),
    );

    expect(answer.text).toBe('[accepted]');
    expect((await getOrder(orderId)).status).toBe('paid');
    await expectBalanced(product);
  });

  it('parks an AUTHORISATION that arrives before its order; the order is created paid', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 2, new Date());

    const answer = await notify(item(hold.hold_id, 'AUTHORISATION', 2 * PRICE));
    const { order } = await createOrder(hold.hold_id, new Date());

    expect(answer.text).toBe('[accepted]');
    expect(order.status).toBe('paid');
    await expectBalanced(product);
  });
});

describe('amounts', () => {
  it.each([
    ['another value', (total: number) => ({ value: total + 1, currency: 'USD' })],
    ['another currency', (total: number) => ({ value: total, currency: 'EUR' })],
  ])(
    'records an AUTHORISATION for %s as a mismatch, acknowledges it, and never pays the order',
    async (_name, amountOf) => {
      const { product, orderId, total } = await pendingOrder(10, 2);
      const mismatched = item(orderId, 'AUTHORISATION', 0, { amount: amountOf(total) });

      const answer = await notify(mismatched);

      expect(answer.text).toBe('[accepted]');
      expect((await getOrder(orderId)).status).toBe('pending');
      expect(
        await getItem<PaymentEventItem>(paymentEventKey(`adyen:${mismatched.pspReference}:AUTHORISATION`)),
      ).toMatchObject({ kind: 'amount_mismatch', order_id: orderId, due_minor: total });
      await expectBalanced(product);
    },
  );
});
