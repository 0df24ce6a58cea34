// POST /api/payments/webhook: signed, exactly-once payment outcomes (200 applied, 202 parked until the order exists).
import { makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { InvalidSignature } from '#shared/errors.ts';
import { httpHandler } from '#shared/http/handler.ts';
import { verifySignature } from '#shared/http/signature.ts';
import { idempotencyConfig, idempotencyStore } from '#shared/idempotency.ts';
import { logger } from '#shared/logger.ts';
import { applyPayment, type PaymentInput, type PaymentResult } from '#shared/payments/service.ts';
import { webhookBody } from '#shared/schemas.ts';
import { webhookSecrets } from '#shared/webhook-secrets.ts';

const keyed = idempotencyConfig('[order_id, status]');

/** 200 when applied (or already applied), 202 while it waits for its order. */
const toHttp = ({ outcome, ...data }: PaymentResult) => ({
  status: outcome === 'awaiting_order' ? 202 : 200,
  data,
});

// The replay store keeps the first answer (as sent); the order's conditional writes keep the effect once-only.
const applyPaymentOnce = makeIdempotent(
  async (input: PaymentInput) => toHttp(await applyPayment(input, new Date())),
  {
    persistenceStore: idempotencyStore('payment-webhook'),
    config: keyed,
  },
);

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
