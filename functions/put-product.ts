// PUT /api/admin/products/{id}: create (201) or update/restock (200).
import { putProduct } from '#shared/domain/products.ts';
import { httpHandler } from '#shared/http/handler.ts';
import { created, ok } from '#shared/http/responses.ts';
import { idParams, putProductBody } from '#shared/schemas.ts';

export const handler = httpHandler({ params: idParams, body: putProductBody }, async ({ params, body }) => {
  const result = await putProduct(params.id, body, new Date());
  return result.created ? created(result.product) : ok(result.product);
});
