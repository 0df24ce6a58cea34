// POST /api/holds, with an optional Idempotency-Key header (a retry returns the original hold).
import { makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { createHold } from '#shared/holds/service.ts';
import { httpHandler, validate } from '#shared/http/handler.ts';
import { created } from '#shared/http/responses.ts';
import { idempotencyConfig, idempotencyStore } from '#shared/idempotency.ts';
import { createHoldBody, idempotencyKeyHeader } from '#shared/schemas.ts';

const keyed = idempotencyConfig('[product_id, qty]');

const createHoldOnce = makeIdempotent(
  async (request: { idempotency_key: string; product_id: string; qty: number }) =>
    createHold(request.product_id, request.qty, new Date()),
  { persistenceStore: idempotencyStore('create-hold'), config: keyed },
);

export const handler = httpHandler({ body: createHoldBody }, async ({ body, headers, context }) => {
  const rawKey = headers['idempotency-key'];
  if (rawKey === undefined) return created(await createHold(body.product_id, body.qty, new Date()));
  const key = validate(idempotencyKeyHeader, rawKey, 'header.idempotency-key');
  keyed.registerLambdaContext(context);
  return created(await createHoldOnce({ idempotency_key: key, product_id: body.product_id, qty: body.qty }));
});
