// The providers' events as payment outcomes: every row of the Stripe and Adyen mapping tables, without DynamoDB.
import { describe, expect, it } from 'vitest';
import { adyenEvent } from '../../shared/payments/adyen.ts';
import { amountMatches, dueOfHold } from '../../shared/payments/rules.ts';
import { STRIPE_EVENT_TYPES, stripeEvent } from '../../shared/payments/stripe.ts';
import { stripeEventBody } from '../../shared/schemas.ts';
import { adyenItemOf, checkoutSessionOf, paymentIntentOf, stripeEventOf } from '../support/providers.ts';

const ORDER = '3f0c1f9e-2b7a-4c1e-9d0a-5e8f7a6b4c21';
const stripe = (type: string, object: Record<string, unknown>) =>
  stripeEvent(stripeEventBody.parse(stripeEventOf(type, object, 'evt_1')));

describe('Stripe events', () => {
  it.each([
    ['payment_intent.succeeded', paymentIntentOf(ORDER, 9998), 'success'],
    ['payment_intent.canceled', paymentIntentOf(ORDER, 9998), 'failure'],
    ['checkout.session.completed', checkoutSessionOf(ORDER, 9998, 'paid'), 'success'],
    ['checkout.session.async_payment_succeeded', checkoutSessionOf(ORDER, 9998, 'paid'), 'success'],
    ['checkout.session.async_payment_failed', checkoutSessionOf(ORDER, 9998, 'unpaid'), 'failure'],
    ['checkout.session.expired', checkoutSessionOf(ORDER, 9998, 'unpaid'), 'failure'],
  ])('%s is a %s for the order, keyed by the event id', (type, object, status) => {
    expect(stripe(type, object)).toEqual({
      kind: 'outcome',
      key: 'stripe:evt_1',
      orderId: ORDER,
      status,
      paid: { minor: 9998, currency: 'usd' },
    });
  });

  it('reads amount_received, not amount, for a PaymentIntent', () => {
    const partly = { ...paymentIntentOf(ORDER, 9998), amount_received: 5000 };

    expect(stripe('payment_intent.succeeded', partly)).toMatchObject({ paid: { minor: 5000 } });
  });

  it('records a declined card (payment_failed) without making it an outcome', () => {
    expect(stripe('payment_intent.payment_failed', paymentIntentOf(ORDER, 0))).toEqual({
      kind: 'declined',
      key: 'stripe:evt_1',
      orderId: ORDER,
      paid: { minor: 0, currency: 'usd' },
    });
  });

  it('ignores a Checkout Session that completed unpaid (an async method reports later) or needed no payment', () => {
    for (const status of ['unpaid', 'no_payment_required']) {
      expect(stripe('checkout.session.completed', checkoutSessionOf(ORDER, 9998, status))).toEqual({
        kind: 'ignored',
        key: 'stripe:evt_1',
        reason: 'session_not_paid',
        orderId: ORDER,
      });
    }
  });

  it("finds a Session's order in client_reference_id first, else in metadata.order_id", () => {
    const both = { ...checkoutSessionOf('from-reference', 9998), metadata: { order_id: 'from-metadata' } };
    const metadataOnly = { ...checkoutSessionOf(undefined, 9998), metadata: { order_id: 'from-metadata' } };

    expect(stripe('checkout.session.completed', both)).toMatchObject({ orderId: 'from-reference' });
    expect(stripe('checkout.session.completed', metadataOnly)).toMatchObject({ orderId: 'from-metadata' });
  });

  it.each([
    ['no metadata at all', { ...paymentIntentOf(undefined, 100), metadata: undefined }],
    ["another integration's metadata", { ...paymentIntentOf(undefined, 100), metadata: { cart: 'c_1' } }],
    ['an order id that cannot be ours', paymentIntentOf('order #7 / shop b', 100)],
    ['a non-string order id', { ...paymentIntentOf(undefined, 100), metadata: { order_id: 42 } }],
    ['an object that is not a PaymentIntent', { id: 'ch_1', object: 'charge' }],
  ])('ignores a PaymentIntent with %s', (_name, object) => {
    expect(stripe('payment_intent.succeeded', object)).toEqual({
      kind: 'ignored',
      key: 'stripe:evt_1',
      reason: 'no_order_id',
    });
  });

  it.each([
    'charge.refunded',
    'payment_intent.processing',
    'payment_intent.requires_action',
    'payment_intent.amount_capturable_updated',
    'customer.created',
  ])('ignores %s, whatever it carries', (type) => {
    expect(stripe(type, paymentIntentOf(ORDER, 9998))).toEqual({
      kind: 'ignored',
      key: 'stripe:evt_1',
      reason: 'unhandled_type',
    });
  });

  it('ignores a paid Session without an amount: it cannot be checked', () => {
    const noAmount = { ...checkoutSessionOf(ORDER, 0), amount_total: null };

    expect(stripe('checkout.session.completed', noAmount)).toMatchObject({
      kind: 'ignored',
      reason: 'no_amount',
    });
  });

  it('lists exactly the event types the mapping acts on, for the endpoint subscription', () => {
    expect([...STRIPE_EVENT_TYPES].sort()).toEqual([
      'checkout.session.async_payment_failed',
      'checkout.session.async_payment_succeeded',
      'checkout.session.completed',
      'checkout.session.expired',
      'payment_intent.canceled',
      'payment_intent.payment_failed',
      'payment_intent.succeeded',
    ]);
  });
});

describe('Adyen notification items', () => {
  const item = (eventCode: string, success: 'true' | 'false', merchantReference = ORDER) =>
    adyenItemOf({
      eventCode,
      success,
      merchantReference,
      pspReference: 'PSP1',
      amount: { value: 9998, currency: 'EUR' },
    });

  it.each([
    ['AUTHORISATION', 'true', 'success'],
    ['AUTHORISATION', 'false', 'failure'],
    ['CANCELLATION', 'true', 'failure'],
  ] as const)('%s with success %s is a %s, keyed by pspReference and eventCode', (code, success, status) => {
    expect(adyenEvent(item(code, success))).toEqual({
      kind: 'outcome',
      key: `adyen:PSP1:${code}`,
      orderId: ORDER,
      status,
      paid: { minor: 9998, currency: 'EUR' },
    });
  });

  it.each([
    ['CANCELLATION', 'false'],
    ['CAPTURE', 'true'],
    ['CAPTURE_FAILED', 'true'],
    ['REFUND', 'true'],
    ['CANCEL_OR_REFUND', 'true'],
    ['CHARGEBACK', 'true'],
    ['REPORT_AVAILABLE', 'true'],
  ] as const)('acknowledges and ignores %s (success %s)', (code, success) => {
    expect(adyenEvent(item(code, success))).toEqual({
      kind: 'ignored',
      key: `adyen:PSP1:${code}`,
      reason: 'unhandled_type',
    });
  });

  it('ignores an item whose merchantReference cannot be one of our orders', () => {
    expect(adyenEvent(item('AUTHORISATION', 'true', 'shop-b/order 7'))).toMatchObject({
      kind: 'ignored',
      reason: 'no_order_id',
    });
  });
});

describe('the amount check', () => {
  const due = dueOfHold({ unit_price_minor: 4999, qty: 2, currency: 'USD' });

  it('counts exactly the total in the same currency, whatever its case', () => {
    expect(due).toEqual({ total_minor: 9998, currency: 'USD' });
    expect(amountMatches(due, { minor: 9998, currency: 'usd' })).toBe(true);
    expect(amountMatches(due, { minor: 9998, currency: 'USD' })).toBe(true);
  });

  it.each([
    ['one cent short', { minor: 9997, currency: 'usd' }],
    ['one cent over', { minor: 9999, currency: 'usd' }],
    ['another currency', { minor: 9998, currency: 'eur' }],
    ['major units', { minor: 99.98, currency: 'usd' }],
  ])('refuses %s', (_name, paid) => {
    expect(amountMatches(due, paid)).toBe(false);
  });
});
