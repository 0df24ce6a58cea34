// POST /api/payments/stripe/webhook: Stripe's events as Stripe signs them, each taking effect once (200 when final).
import { httpHandler } from '#shared/http/handler.ts';
import { ok } from '#shared/http/responses.ts';
import { authenticateStripe, handleStripeEvent } from '#shared/payments/provider-routes.ts';
import { stripeEventBody } from '#shared/schemas.ts';

export const handler = httpHandler(
  { body: stripeEventBody },
  async ({ body }) => ok(await handleStripeEvent(body, new Date())),
  { authenticate: (rawBody, headers) => authenticateStripe(rawBody, headers, new Date()) },
);
