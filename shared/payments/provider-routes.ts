// What the provider routes do around the payment service: check each provider's signature with its own secrets,
// count and log what is refused, then apply each verified event exactly once (docs/payments-stripe.md, -adyen.md).
import { InvalidAdyenSignature, InvalidStripeSignature } from '../errors.ts';
import { adyenSignatureMatches, stripeSignatureMatches } from '../http/signature.ts';
import { logger } from '../logger.ts';
import { Metric } from '../metric-names.ts';
import { countMetric } from '../metrics.ts';
import type { AdyenNotificationItem, StripeEventBody } from '../schemas.ts';
import { secretsOf } from '../webhook-secrets.ts';
import { adyenEvent } from './adyen.ts';
import { applyProviderEvent, type ProviderEventResult } from './service.ts';
import { stripeEvent } from './stripe.ts';

/** Before the body is parsed: one `v1` of `Stripe-Signature` must match one of the endpoint's secrets. */
export async function authenticateStripe(
  rawBody: string,
  headers: Record<string, string | undefined>,
  now: Date,
): Promise<void> {
  // Without a configured secret nothing verifies: the route never runs unsigned, not even locally.
  const secrets = (await secretsOf('stripe')) ?? [];
  if (stripeSignatureMatches(headers['stripe-signature'], rawBody, secrets, now)) return;
  countMetric(Metric.ProviderSignaturesRejected);
  logger.warn('stripe_signature_rejected', {
    has_header: headers['stripe-signature'] !== undefined,
    secrets_configured: secrets.length,
  });
  throw new InvalidStripeSignature();
}

/** One verified Stripe event, applied; the answer's `data`. */
export async function handleStripeEvent(event: StripeEventBody, now: Date) {
  const result = await applyProviderEvent(stripeEvent(event), now);
  logger.info('stripe_event', { event_id: event.id, type: event.type, livemode: event.livemode, ...result });
  return { event_id: event.id, ...result };
}

/**
 * An Adyen notification: each item verified on its own (its HMAC covers its fields, not the raw body), each
 * verified item applied in turn. Throws InvalidAdyenSignature when no item verifies; an unverified item beside
 * verified ones changes nothing and is logged. Returns once every verified item is stored.
 */
export async function acceptAdyenNotification(
  items: readonly AdyenNotificationItem[],
  now: Date,
): Promise<ProviderEventResult[]> {
  const keys = (await secretsOf('adyen')) ?? [];
  const verified = items.filter((item) => {
    const signature = item.additionalData?.hmacSignature;
    const matches = adyenSignatureMatches(item, typeof signature === 'string' ? signature : undefined, keys);
    if (!matches) {
      countMetric(Metric.ProviderSignaturesRejected);
      logger.warn('adyen_signature_rejected', {
        psp_reference: item.pspReference,
        event_code: item.eventCode,
        has_signature: signature !== undefined,
        keys_configured: keys.length,
      });
    }
    return matches;
  });
  if (verified.length === 0) throw new InvalidAdyenSignature();
  const results: ProviderEventResult[] = [];
  // In turn, not at once: a batch is small, and a busy table then fails the request before more is attempted.
  for (const item of verified) {
    const result = await applyProviderEvent(adyenEvent(item), now);
    logger.info('adyen_event', {
      psp_reference: item.pspReference,
      event_code: item.eventCode,
      success: item.success,
      ...result,
    });
    results.push(result);
  }
  return results;
}
