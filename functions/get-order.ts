// GET /api/orders/{id}

import { httpHandler } from '#shared/http/handler.ts';
import { ok } from '#shared/http/responses.ts';
import { getOrder } from '#shared/orders/service.ts';
import { idParams } from '#shared/schemas.ts';

export const handler = httpHandler({ params: idParams }, async ({ params, customer }) =>
  ok(await getOrder(params.id, customer)),
);
