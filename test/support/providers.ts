// Provider events as Stripe and Adyen send them, signed with the providers' own libraries (dev dependencies only).
import { hmacValidator as HmacValidator } from '@adyen/api-library';
import Stripe from 'stripe';
import type { AdyenNotificationItem } from '../../shared/schemas.ts';

const stripe = new Stripe('sk_test_signing_only');

/** A Stripe event envelope around `object` (as Stripe posts it: id, type, created, data.object, livemode, ...). */
export function stripeEventOf(
  type: string,
  object: Record<string, unknown>,
  id = `evt_${crypto.randomUUID()}`,
) {
  return {
    id,
    object: 'event',
    api_version: '2025-09-30.clover',
    created: 1764064800,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

/** A PaymentIntent for `orderId` (metadata.order_id), `amount` minor units received. */
export const paymentIntentOf = (orderId: string | undefined, amount: number, currency = 'usd') => ({
  id: `pi_${crypto.randomUUID().slice(0, 8)}`,
  object: 'payment_intent',
  amount,
  amount_received: amount,
  currency,
  metadata: orderId === undefined ? {} : { order_id: orderId },
  status: 'succeeded',
});

/** A Checkout Session for `orderId` (client_reference_id), `amount` minor units in total. */
export const checkoutSessionOf = (
  orderId: string | undefined,
  amount: number,
  paymentStatus = 'paid',
  currency = 'usd',
) => ({
  id: `cs_test_${crypto.randomUUID().slice(0, 8)}`,
  object: 'checkout.session',
  amount_total: amount,
  currency,
  client_reference_id: orderId ?? null,
  metadata: {},
  payment_status: paymentStatus,
  status: 'complete',
});

/** `Stripe-Signature` as Stripe's Node SDK writes it (one secret, `t` = now unless given). */
export const stripeSignature = (payload: string, secret: string, timestamp?: number, scheme?: string) =>
  stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp, ...(scheme ? { scheme } : {}) });

/** Whether Stripe's own SDK accepts `header` for `payload` with `secret` (its default 300 s tolerance). */
export function stripeAccepts(payload: string, header: string, secret: string): boolean {
  try {
    stripe.webhooks.constructEvent(payload, header, secret);
    return true;
  } catch {
    return false;
  }
}

/** An Adyen NotificationRequestItem, unsigned. */
export const adyenItemOf = (
  fields: Partial<AdyenNotificationItem> & Pick<AdyenNotificationItem, 'eventCode'>,
): AdyenNotificationItem => ({
  pspReference: `PSP${crypto.randomUUID().replaceAll('-', '').slice(0, 13).toUpperCase()}`,
  merchantAccountCode: 'FlashSaleECOM',
  merchantReference: 'unset',
  amount: { value: 0, currency: 'EUR' },
  eventDate: '2026-11-25T10:00:00+01:00',
  success: 'true',
  ...fields,
});

/** The item with `additionalData.hmacSignature` as Adyen's own HmacValidator computes it for `hexKey`. */
export function signedAdyenItem(item: AdyenNotificationItem, hexKey: string): AdyenNotificationItem {
  const hmacSignature = new HmacValidator().calculateHmac(
    item as unknown as Parameters<HmacValidator['calculateHmac']>[0],
    hexKey,
  );
  return { ...item, additionalData: { ...item.additionalData, hmacSignature } };
}

/** Whether Adyen's own HmacValidator accepts the item's signature with `hexKey`. */
export function adyenAccepts(item: AdyenNotificationItem, hexKey: string): boolean {
  try {
    return new HmacValidator().validateHMAC(
      item as unknown as Parameters<HmacValidator['validateHMAC']>[0],
      hexKey,
    );
  } catch {
    return false;
  }
}

/** Adyen's notification body around `items`. */
export const adyenNotificationOf = (items: readonly AdyenNotificationItem[]) => ({
  live: 'false',
  notificationItems: items.map((NotificationRequestItem) => ({ NotificationRequestItem })),
});
