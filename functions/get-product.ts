// GET /api/products/{id}: this process's view of the product, at most 1 s old (and said so: Cache-Control).
import { httpHandler } from '#shared/http/handler.ts';
import { ok } from '#shared/http/responses.ts';
import { idParams } from '#shared/schemas.ts';
import { getProduct } from '#shared/stock/service.ts';

export const handler = httpHandler({ params: idParams }, async ({ params }) => ({
  ...ok(await getProduct(params.id)),
  headers: { 'cache-control': 'public, max-age=1' },
}));
