// Adyen's notification items as payment outcomes: which event code means what, where the order and amount are. Pure.
import { type AdyenNotificationItem, idText } from '../schemas.ts';
import type { ProviderEvent } from './rules.ts';

/** Our idempotency key for an Adyen item: `pspReference` + `eventCode`, which every redelivery repeats. */
export const adyenEventKey = (item: Pick<AdyenNotificationItem, 'pspReference' | 'eventCode'>) =>
  `adyen:${item.pspReference}:${item.eventCode}`;

/**
 * What a (verified) item means for us. The order is `merchantReference`. AUTHORISATION is a success with
 * `success: "true"` and a failure with `"false"`; a CANCELLATION that happened (`"true"`) is a failure. Captures are
 * not modelled (an authorisation counts as paid, as with automatic capture); every other code is ignored.
 */
export function adyenEvent(item: AdyenNotificationItem): ProviderEvent {
  const key = adyenEventKey(item);
  const succeeded = item.success === 'true';
  const status =
    item.eventCode === 'AUTHORISATION'
      ? succeeded
        ? 'success'
        : 'failure'
      : item.eventCode === 'CANCELLATION' && succeeded
        ? 'failure'
        : undefined;
  if (!status) return { kind: 'ignored', key, reason: 'unhandled_type' };
  const orderId = idText.safeParse(item.merchantReference).success ? item.merchantReference : undefined;
  if (!orderId) return { kind: 'ignored', key, reason: 'no_order_id' };
  const paid = item.amount ? { minor: item.amount.value, currency: item.amount.currency } : undefined;
  if (status === 'success' && !paid) return { kind: 'ignored', key, reason: 'no_amount', orderId };
  return { kind: 'outcome', key, orderId, status, ...(paid ? { paid } : {}) };
}
