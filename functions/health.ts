// GET /api/health: liveness only; touches no dependency so a throttled table cannot fail health checks.
//
// Standalone on purpose: the shared stack (shared/http/handler.ts) brings zod, the configuration and, through the
// error mapping, the AWS SDK; none of that is needed to say "ok", and it made this bundle 1 MB. It answers exactly
// what the shared stack answers: the 200 envelope, and 413 PAYLOAD_TOO_LARGE for a body over MAX_BODY_BYTES.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { PayloadTooLarge } from '#shared/errors.ts';
import { rawBodyOf } from '#shared/http/body.ts';
import { answerFor } from '#shared/http/error-answers.ts';
import { failure, ok, success } from '#shared/http/responses.ts';

/** MAX_BODY_BYTES as shared/config.ts reads it (an integer >= 256, default 16 KiB); a bad value fails the cold start. */
const maxBodyBytes = Number(process.env.MAX_BODY_BYTES ?? 16 * 1024);
if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 256) {
  throw new Error('Invalid configuration: MAX_BODY_BYTES must be an integer >= 256');
}

export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  if (rawBodyOf(event).bytes > maxBodyBytes) {
    const { code, message } = new PayloadTooLarge(maxBodyBytes);
    return failure(answerFor(code).status, { code, message });
  }
  return success(ok({ status: 'ok' }));
};
