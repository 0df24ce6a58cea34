// POST /api/payments/webhook: signed, exactly-once payment outcomes (200 applied, 202 parked until the order exists).
import { makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { applyPayment, type PaymentInput } from '#shared/domain/payments.ts';
import { InvalidSignature } from '#shared/errors.ts';
import { httpHandler } from '#shared/http/handler.ts';
import { verifySignature } from '#shared/http/signature.ts';
import { idempotencyConfig, idempotencyStore } from '#shared/idempotency.ts';
import { logger } from '#shared/logger.ts';
import { webhookBody } from '#shared/schemas.ts';
import { webhookSecrets } from '#shared/webhook-secrets.ts';

const keyed = idempotencyConfig('[order_id, status]');

// The replay store keeps the first answer; the order's conditional writes keep the effect once-only on their own.
const applyPaymentOnce = makeIdempotent(async (input: PaymentInput) => applyPayment(input, new Date()), {
  persistenceStore: idempotencyStore('payment-webhook'),
  config: keyed,
});

async function authenticate(rawBody: string, headers: Record<string, string | undefined>): Promise<void> {
  const secrets = await webhookSecrets();
  if (!secrets) return;
  try {
    verifySignature(headers['x-signature'], rawBody, secrets, new Date());
  } catch (error) {
    if (error instanceof InvalidSignature)
      logger.warn('webhook_rejected_signature', { has_header: 'x-signature' in headers });
    throw error;
  }
}

export const handler = httpHandler(
  { body: webhookBody },
  async ({ body, context }) => {
    keyed.registerLambdaContext(context);
    return applyPaymentOnce(body);
  },
  { authenticate },
);
