// GET /api/health: liveness only; touches no dependency so a throttled table cannot fail health checks.
import { httpHandler } from '#shared/http/handler.ts';
import { ok } from '#shared/http/responses.ts';

export const handler = httpHandler({}, async () => ok({ status: 'ok' }));
