// POST /api/orders: 201 for a new order, 200 with the same order when the hold was already ordered.

import { httpHandler } from '#shared/http/handler.ts';
import { created, ok } from '#shared/http/responses.ts';
import { orderCreated } from '#shared/metrics.ts';
import { createOrder } from '#shared/orders/service.ts';
import { createOrderBody } from '#shared/schemas.ts';

export const handler = httpHandler({ body: createOrderBody }, async ({ body, customer }) => {
  const result = await createOrder(body.hold_id, new Date(), customer);
  if (result.created) orderCreated(result.order);
  return result.created ? created(result.order) : ok(result.order);
});
