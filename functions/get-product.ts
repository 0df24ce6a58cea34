// GET /api/products/{id}
import { getProduct } from '#shared/domain/products.ts';
import { httpHandler } from '#shared/http/handler.ts';
import { ok } from '#shared/http/responses.ts';
import { idParams } from '#shared/schemas.ts';

export const handler = httpHandler({ params: idParams }, async ({ params }) =>
  ok(await getProduct(params.id)),
);
