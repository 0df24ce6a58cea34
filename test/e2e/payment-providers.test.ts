// The Stripe and Adyen routes over HTTP: the local gateway and the Lambda-model runtime (each function in its own
// execution environments, its secret from the environment the runtime gives it), events signed by the providers' own
// libraries, orders made by the domain against DynamoDB Local, and the ledger checked after each.
import { describe, expect, it, vi } from 'vitest';

const STRIPE_SECRET = 'whsec_e2e_providers';
const ADYEN_KEY = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';
vi.hoisted(() => {
  // What `npm start` passes from the shell: the runtime hands its functions this process's environment.
  process.env.STRIPE_WEBHOOK_SECRET = 'whsec_e2e_providers';
  process.env.ADYEN_HMAC_KEY = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';
});

import { getOrder } from '../../shared/orders/service.ts';
import { getProduct } from '../../shared/stock/service.ts';
import { apiForThisFile, dataOf, errorOf, readEnvelope } from '../support/http.ts';
import { expectBalanced, expectStillPending, pendingOrder } from '../support/orders.ts';
import {
  adyenItemOf,
  adyenNotificationOf,
  paymentIntentOf,
  signedAdyenItem,
  stripeEventOf,
  stripeSignature,
} from '../support/providers.ts';

const api = apiForThisFile();
const STRIPE_PATH = '/api/payments/stripe/webhook';
const ADYEN_PATH = '/api/payments/adyen/webhook';

/** Posts `payload` byte for byte, as Stripe does, with its Stripe-Signature header. */
const postStripe = (payload: string, signature: string) =>
  api.request('POST', STRIPE_PATH, {
    raw: payload,
    headers: { 'content-type': 'application/json', 'stripe-signature': signature },
  });

describe('POST /api/payments/stripe/webhook through the gateway', () => {
  it("applies a payment_intent.succeeded that Stripe's SDK signed once: the order is paid, a redelivery changes nothing", async () => {
    const { product, orderId, total } = await pendingOrder(10, 2);
    const payload = JSON.stringify(
      stripeEventOf('payment_intent.succeeded', paymentIntentOf(orderId, total)),
    );
    const signature = stripeSignature(payload, STRIPE_SECRET);

    const first = await postStripe(payload, signature);
    const paid = await getOrder(orderId);
    const duplicate = await postStripe(payload, signature);

    expect(first.status).toBe(200);
    expect(dataOf(first)).toMatchObject({ effect: 'applied', order_id: orderId, order_status: 'paid' });
    expect(paid.status).toBe('paid');
    expect(duplicate.status).toBe(200);
    expect(dataOf(duplicate)).toMatchObject({ effect: 'applied', order_id: orderId, order_status: 'paid' });
    // Nothing moved the second time: the same order item, the same units taken.
    expect(await getOrder(orderId)).toEqual(paid);
    expect((await getProduct(product)).available).toBe(8);
    await expectBalanced(product);
  });

  it('refuses an event signed with another secret with 400 and our envelope, and changes nothing', async () => {
    const { product, orderId, total } = await pendingOrder(10, 2);
    const payload = JSON.stringify(
      stripeEventOf('payment_intent.succeeded', paymentIntentOf(orderId, total)),
    );

    const forged = await postStripe(payload, stripeSignature(payload, 'whsec_not_ours'));

    expect(forged.status).toBe(400);
    expect(errorOf(forged).code).toBe('INVALID_STRIPE_SIGNATURE');
    await expectStillPending(product, orderId, 8);
    await expectBalanced(product);
  });
});

describe('POST /api/payments/adyen/webhook through the gateway', () => {
  /** Posts an Adyen notification; its success answer is text/plain, not an envelope. */
  const postAdyen = (body: unknown) =>
    fetch(new URL(ADYEN_PATH, api.baseUrl()), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  const authorisation = (orderId: string, value: number, key: string) =>
    signedAdyenItem(
      adyenItemOf({
        eventCode: 'AUTHORISATION',
        merchantReference: orderId,
        amount: { value, currency: 'USD' },
      }),
      key,
    );

  it("answers [accepted] to an AUTHORISATION that Adyen's HmacValidator signed, and the order is paid", async () => {
    const { product, orderId, total } = await pendingOrder(10, 3);

    const response = await postAdyen(adyenNotificationOf([authorisation(orderId, total, ADYEN_KEY)]));

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toBe('[accepted]');
    expect((await getOrder(orderId)).status).toBe('paid');
    expect((await getProduct(product)).available).toBe(7);
    await expectBalanced(product);
  });

  it('refuses a notification whose only item is signed with another key with 401 and our envelope', async () => {
    const { product, orderId, total } = await pendingOrder(10, 3);
    const otherKey = '0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';

    const response = await postAdyen(adyenNotificationOf([authorisation(orderId, total, otherKey)]));

    expect(response.status).toBe(401);
    const body = await readEnvelope(response, `POST ${ADYEN_PATH}`);
    expect(body).toMatchObject({ success: false, error: { code: 'INVALID_ADYEN_SIGNATURE' } });
    await expectStillPending(product, orderId, 7);
    await expectBalanced(product);
  });
});
