// The Stripe webhook Lambda against DynamoDB Local, with events signed by Stripe's own SDK: every mapping row,
// duplicates, an event before its order, rotation, forged, stale and re-serialised requests, amounts, foreign events.
import { describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  // Two active secrets: a rolled endpoint secret, or two Stripe endpoints pointing here.
  process.env.STRIPE_WEBHOOK_SECRET = 'whsec_new, whsec_old';
});

import { handler } from '../../functions/stripe-webhook.ts';
import { getItem } from '../../shared/db/client.ts';
import { createHold } from '../../shared/holds/service.ts';
import { sign } from '../../shared/http/signature.ts';
import { createOrder, getOrder, getOrderSlot } from '../../shared/orders/service.ts';
import { type PaymentEventItem, paymentEventKey } from '../../shared/payments/items.ts';
import { getProduct } from '../../shared/stock/service.ts';
import { sweep } from '../../shared/sweep/service.ts';
import { productWithStock } from '../support/fixtures.ts';
import { invoke } from '../support/lambda.ts';
import { expectBalanced, expectStillPending, pendingOrder, UNIT_PRICE_MINOR } from '../support/orders.ts';
import { checkoutSessionOf, paymentIntentOf, stripeEventOf, stripeSignature } from '../support/providers.ts';

const PRICE = UNIT_PRICE_MINOR;

/** A request as Stripe sends it: the raw JSON and its Stripe-Signature, made by stripe-node. */
function delivered(event: object, secret = 'whsec_new', timestamp?: number) {
  const rawBody = JSON.stringify(event);
  return { rawBody, headers: { 'stripe-signature': stripeSignature(rawBody, secret, timestamp) } };
}

const send = (event: object, secret?: string) => invoke(handler, delivered(event, secret));

const recorded = (eventId: string) => getItem<PaymentEventItem>(paymentEventKey(`stripe:${eventId}`));

describe('each Stripe event type, as the mapping table says', () => {
  it.each([
    ['payment_intent.succeeded', (id: string, total: number) => paymentIntentOf(id, total)],
    ['checkout.session.completed', (id: string, total: number) => checkoutSessionOf(id, total, 'paid')],
    ['checkout.session.async_payment_succeeded', (id: string, total: number) => checkoutSessionOf(id, total)],
  ])('%s pays the pending order and keeps its units sold', async (type, objectOf) => {
    const { product, orderId, total } = await pendingOrder(10, 2);
    const event = stripeEventOf(type, objectOf(orderId, total));

    const answer = await send(event);

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      success: true,
      data: { event_id: event.id, effect: 'applied', order_id: orderId, order_status: 'paid' },
    });
    expect((await getOrder(orderId)).status).toBe('paid');
    expect((await getProduct(product)).available).toBe(8);
    await expectBalanced(product);
  });

  it.each([
    ['payment_intent.canceled', (id: string, total: number) => paymentIntentOf(id, total)],
    ['checkout.session.expired', (id: string, total: number) => checkoutSessionOf(id, total, 'unpaid')],
    [
      'checkout.session.async_payment_failed',
      (id: string, total: number) => checkoutSessionOf(id, total, 'unpaid'),
    ],
  ])('%s cancels the pending order and gives its units back once', async (type, objectOf) => {
    const { product, orderId, total } = await pendingOrder(10, 3);

    const answer = await send(stripeEventOf(type, objectOf(orderId, total)));

    expect(answer.status).toBe(200);
    expect(answer.body.data).toMatchObject({ effect: 'applied', order_status: 'cancelled' });
    expect((await getOrder(orderId)).status).toBe('cancelled');
    expect((await getProduct(product)).available).toBe(10);
    await expectBalanced(product);
  });

  it('records a declined card (payment_intent.payment_failed) and leaves the order pending for another card', async () => {
    const { product, orderId, total } = await pendingOrder(10, 2);
    const declined = stripeEventOf('payment_intent.payment_failed', paymentIntentOf(orderId, 0));

    const answer = await send(declined);
    const retried = await send(stripeEventOf('payment_intent.succeeded', paymentIntentOf(orderId, total)));

    expect(answer.status).toBe(200);
    expect(answer.body.data).toEqual({
      event_id: declined.id,
      effect: 'declined',
      order_id: orderId,
      order_status: 'pending',
    });
    expect(await recorded(declined.id)).toMatchObject({ kind: 'declined', order_id: orderId, paid_minor: 0 });
    expect(retried.body.data).toMatchObject({ effect: 'applied', order_status: 'paid' });
    await expectBalanced(product);
  });

  it('ignores a Checkout Session that completed unpaid, then pays on its async success', async () => {
    const { orderId, total } = await pendingOrder(10, 2);

    const unpaid = await send(
      stripeEventOf('checkout.session.completed', checkoutSessionOf(orderId, total, 'unpaid')),
    );
    expect(unpaid.body.data).toMatchObject({ effect: 'ignored', reason: 'session_not_paid' });
    expect((await getOrder(orderId)).status).toBe('pending');

    const paid = await send(
      stripeEventOf('checkout.session.async_payment_succeeded', checkoutSessionOf(orderId, total)),
    );
    expect(paid.body.data).toMatchObject({ effect: 'applied', order_status: 'paid' });
  });

  it.each([
    [
      'an event type we do not act on',
      (id: string, total: number) => stripeEventOf('charge.refunded', paymentIntentOf(id, total)),
      'unhandled_type',
    ],
    [
      'a payment of another integration (no order id)',
      (_id: string, total: number) =>
        stripeEventOf('payment_intent.succeeded', paymentIntentOf(undefined, total)),
      'no_order_id',
    ],
    [
      'an order id that names nothing of ours',
      (_id: string, total: number) =>
        stripeEventOf('payment_intent.succeeded', paymentIntentOf(crypto.randomUUID(), total)),
      'unknown_order',
    ],
  ])('answers 200 and changes nothing for %s (a shared account)', async (_name, eventOf, reason) => {
    const { product, orderId, total } = await pendingOrder(10, 2);
    const event = eventOf(orderId, total);

    const answer = await send(event);

    expect(answer.status).toBe(200);
    expect(answer.body.data).toMatchObject({ event_id: event.id, effect: 'ignored', reason });
    await expectStillPending(product, orderId, 8);
    const named = (event.data.object as { metadata: { order_id?: string } }).metadata.order_id;
    if (named && named !== orderId) expect(await getOrderSlot(named)).toBeUndefined();
    expect(await recorded(event.id)).toBeUndefined();
  });
});

describe('exactly once', () => {
  it('applies 8 concurrent deliveries of one event once, answering each the same', async () => {
    const { product, orderId, total } = await pendingOrder(10, 3);
    const request = delivered(stripeEventOf('payment_intent.canceled', paymentIntentOf(orderId, total)));

    const answers = await Promise.all(Array.from({ length: 8 }, () => invoke(handler, request)));

    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body.data).toMatchObject({ effect: 'applied', order_status: 'cancelled' });
    }
    expect((await getProduct(product)).available).toBe(10);
    await expectBalanced(product);
  });

  it('answers a later redelivery as applied, without a second effect', async () => {
    const { product, orderId, total } = await pendingOrder(10, 2);
    const event = stripeEventOf('payment_intent.succeeded', paymentIntentOf(orderId, total));
    await send(event);

    const again = await send(event);

    expect(again.body.data).toEqual({
      event_id: event.id,
      effect: 'applied',
      order_id: orderId,
      order_status: 'paid',
    });
    expect((await getOrder(orderId)).status).toBe('paid');
    await expectBalanced(product);
  });

  it('takes a Checkout Session and its PaymentIntent (two events, one payment) as one success', async () => {
    const { product, orderId, total } = await pendingOrder(10, 2);

    const session = await send(
      stripeEventOf('checkout.session.completed', checkoutSessionOf(orderId, total)),
    );
    const intent = await send(stripeEventOf('payment_intent.succeeded', paymentIntentOf(orderId, total)));

    expect(session.body.data).toMatchObject({ effect: 'applied', order_status: 'paid' });
    expect(intent.body.data).toMatchObject({ effect: 'applied', order_status: 'paid' });
    expect((await getProduct(product)).available).toBe(8);
    await expectBalanced(product);
  });

  it('answers a conflicting outcome on a finished order with 200 conflict, and the order stays paid', async () => {
    const { product, orderId, total } = await pendingOrder(10, 2);
    await send(stripeEventOf('payment_intent.succeeded', paymentIntentOf(orderId, total)));

    const answer = await send(stripeEventOf('payment_intent.canceled', paymentIntentOf(orderId, total)));

    expect(answer.status).toBe(200);
    expect(answer.body.data).toMatchObject({ effect: 'conflict', order_id: orderId, order_status: 'paid' });
    expect((await getOrder(orderId)).status).toBe('paid');
    expect((await getProduct(product)).available).toBe(8);
    await expectBalanced(product);
  });
});

describe('events out of order', () => {
  it('parks a success that arrives before its order, and the order is created paid', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 2, new Date());

    const answer = await send(
      stripeEventOf('payment_intent.succeeded', paymentIntentOf(hold.hold_id, 2 * PRICE)),
    );
    const { order } = await createOrder(hold.hold_id, new Date());

    expect(answer.status).toBe(200);
    expect(answer.body.data).toMatchObject({ effect: 'parked', order_status: 'awaiting_order' });
    expect(order.status).toBe('paid');
    expect((await getProduct(product)).available).toBe(8);
    await expectBalanced(product);
  });

  it('pays an order whose payment window ended when its units are still free (the paid-after-expiry policy)', async () => {
    const { product, orderId, total } = await pendingOrder(10, 2);
    await sweep(new Date(Date.now() + 1_000_000));
    expect((await getOrder(orderId)).status).toBe('expired');

    const answer = await send(stripeEventOf('payment_intent.succeeded', paymentIntentOf(orderId, total)));

    expect(answer.body.data).toMatchObject({ effect: 'applied', order_status: 'paid' });
    expect((await getProduct(product)).available).toBe(8);
    await expectBalanced(product);
  });

  it('marks a success for a hold that expired unordered refund_required', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 2, new Date());
    await sweep(new Date(Date.now() + 1_000_000));

    const answer = await send(
      stripeEventOf('payment_intent.succeeded', paymentIntentOf(hold.hold_id, 2 * PRICE)),
    );

    expect(answer.body.data).toMatchObject({ effect: 'applied', order_status: 'refund_required' });
    expect((await getProduct(product)).available).toBe(10);
    await expectBalanced(product);
  });
});

describe('amounts', () => {
  it.each([
    ['one cent short', (total: number) => paymentIntentOf('', total - 1)],
    ['in another currency', (total: number) => paymentIntentOf('', total, 'eur')],
  ])('records a success %s as a mismatch (200), never as paid', async (_name, intentOf) => {
    const { product, orderId, total } = await pendingOrder(10, 2);
    const event = stripeEventOf('payment_intent.succeeded', {
      ...intentOf(total),
      metadata: { order_id: orderId },
    });

    const answer = await send(event);
    const again = await send(event);

    expect(answer.status).toBe(200);
    expect(answer.body.data).toEqual({
      event_id: event.id,
      effect: 'amount_mismatch',
      order_id: orderId,
      order_status: 'pending',
    });
    expect(again.body.data).toEqual(answer.body.data);
    expect((await getOrder(orderId)).status).toBe('pending');
    expect(await recorded(event.id)).toMatchObject({
      kind: 'amount_mismatch',
      due_minor: total,
      due_currency: 'USD',
    });
    expect((await getProduct(product)).available).toBe(8);
    await expectBalanced(product);
  });

  it('does not park a mismatched success that arrives before its order: the order is created pending', async () => {
    const product = await productWithStock(10);
    const hold = await createHold(product, 2, new Date());

    const answer = await send(
      stripeEventOf('checkout.session.completed', checkoutSessionOf(hold.hold_id, 100)),
    );
    const { order } = await createOrder(hold.hold_id, new Date());

    expect(answer.body.data).toMatchObject({ effect: 'amount_mismatch', order_id: hold.hold_id });
    expect(order.status).toBe('pending');
    await expectBalanced(product);
  });

  it("accepts Stripe's lower-case currency for the order's upper-case one", async () => {
    const { orderId, total } = await pendingOrder(10, 1);

    const answer = await send(
      stripeEventOf('payment_intent.succeeded', paymentIntentOf(orderId, total, 'usd')),
    );

    expect(answer.body.data).toMatchObject({ effect: 'applied', order_status: 'paid' });
  });
});

describe('Stripe-Signature', () => {
  it('accepts the secret being rolled out and the one being rolled over, each alone or as two v1', async () => {
    for (const secret of ['whsec_old', 'whsec_new']) {
      const { orderId, total } = await pendingOrder(10, 1);
      const answer = await send(
        stripeEventOf('payment_intent.succeeded', paymentIntentOf(orderId, total)),
        secret,
      );
      expect(answer.status, secret).toBe(200);
    }
    const { orderId, total } = await pendingOrder(10, 1);
    const rawBody = JSON.stringify(
      stripeEventOf('payment_intent.succeeded', paymentIntentOf(orderId, total)),
    );
    const t = Math.floor(Date.now() / 1000);
    const twoV1 = `t=${t},v1=${sign('whsec_unknown', t, rawBody)},v1=${sign('whsec_old', t, rawBody)}`;

    const answer = await invoke(handler, { rawBody, headers: { 'stripe-signature': twoV1 } });

    expect(answer.status).toBe(200);
    expect((await getOrder(orderId)).status).toBe('paid');
  });

  it.each([
    ['no Stripe-Signature', (_raw: string) => ({})],
    [
      'signed with a secret we do not hold',
      (raw: string) => ({ 'stripe-signature': stripeSignature(raw, 'whsec_attacker') }),
    ],
    [
      'a stale t (301 s)',
      (raw: string) => ({
        'stripe-signature': stripeSignature(raw, 'whsec_new', Math.floor(Date.now() / 1000) - 301),
      }),
    ],
    [
      'a v0 signature only',
      (raw: string) => {
        const t = Math.floor(Date.now() / 1000);
        return { 'stripe-signature': `t=${t},v0=${sign('whsec_new', t, raw)}` };
      },
    ],
    [
      'our own X-Signature instead',
      (raw: string) => {
        const t = Math.floor(Date.now() / 1000);
        return { 'x-signature': `t=${t},v1=${sign('whsec_new', t, raw)}` };
      },
    ],
  ])('answers 400 INVALID_STRIPE_SIGNATURE for %s, and nothing changes', async (_name, headersOf) => {
    const { product, orderId, total } = await pendingOrder(10, 2);
    const rawBody = JSON.stringify(stripeEventOf('payment_intent.canceled', paymentIntentOf(orderId, total)));

    const answer = await invoke(handler, { rawBody, headers: headersOf(rawBody) });

    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe('INVALID_STRIPE_SIGNATURE');
    await expectStillPending(product, orderId, 8);
  });

  it('refuses the event re-serialised after signing (a parsed-then-stringified body), and nothing changes', async () => {
    const { orderId, total } = await pendingOrder(10, 2);
    const original = delivered(stripeEventOf('payment_intent.canceled', paymentIntentOf(orderId, total)));

    for (const rawBody of [JSON.stringify(JSON.parse(original.rawBody), null, 2), `${original.rawBody}\n`]) {
      const answer = await invoke(handler, { ...original, rawBody });
      expect(answer.status).toBe(400);
      expect(answer.body.error?.code).toBe('INVALID_STRIPE_SIGNATURE');
    }
    expect((await getOrder(orderId)).status).toBe('pending');
  });

  it('answers 400 INVALID_JSON for a signed body that is not JSON', async () => {
    const rawBody = 'id=evt_1&type=payment_intent.succeeded';

    const answer = await invoke(handler, {
      rawBody,
      headers: { 'stripe-signature': stripeSignature(rawBody, 'whsec_new') },
    });

    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe('INVALID_JSON');
  });
});
