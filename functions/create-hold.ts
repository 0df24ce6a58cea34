// POST /api/holds, with an optional Idempotency-Key header (a retry returns the original hold).
import { makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { createHold } from '#shared/holds/service.ts';
import { httpHandler, validate } from '#shared/http/handler.ts';
import { created } from '#shared/http/responses.ts';
import { idempotencyConfig, idempotencyStore } from '#shared/idempotency.ts';
import { addMetricMetadata, holdGranted } from '#shared/metrics.ts';
import { createHoldBody, idempotencyKeyHeader } from '#shared/schemas.ts';

const keyed = idempotencyConfig('[product_id, qty]');

const createHoldOnce = makeIdempotent(
  async (request: { idempotency_key: string; product_id: string; qty: number; customer?: string }) =>
    createHold(request.product_id, request.qty, new Date(), request.customer).then(holdGranted),
  { persistenceStore: idempotencyStore('create-hold'), config: keyed },
);

export const handler = httpHandler({ body: createHoldBody }, async ({ body, headers, customer, context }) => {
  const rawKey = headers['idempotency-key'];
  addMetricMetadata('product_id', body.product_id);
  if (rawKey === undefined)
    return created(holdGranted(await createHold(body.product_id, body.qty, new Date(), customer)));
  const key = validate(idempotencyKeyHeader, rawKey, 'header.idempotency-key');
  keyed.registerLambdaContext(context);
  // Keys are the buyer's own: the same key from another customer is another request, never their hold.
  const scopedKey = customer === undefined ? key : JSON.stringify([customer, key]);
  return created(
    await createHoldOnce({
      idempotency_key: scopedKey,
      product_id: body.product_id,
      qty: body.qty,
      customer,
    }),
  );
});
