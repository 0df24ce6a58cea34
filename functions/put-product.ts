// PUT /api/admin/products/{id}: create (201) or update/restock (200).

import { httpHandler } from '#shared/http/handler.ts';
import { created, ok } from '#shared/http/responses.ts';
import { idParams, putProductBody } from '#shared/schemas.ts';
import { putProduct } from '#shared/stock/service.ts';

export const handler = httpHandler({ params: idParams, body: putProductBody }, async ({ params, body }) => {
  const result = await putProduct(params.id, body, new Date());
  return result.created ? created(result.product) : ok(result.product);
});
