// The request body exactly as API Gateway delivered it. Dependency-free: the health function uses it without the
// shared stack (shared/http/handler.ts).
import { isUtf8 } from 'node:buffer';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** The body as received: its size in bytes, and its text (`undefined` when the bytes are not UTF-8). */
export function rawBodyOf(event: APIGatewayProxyEventV2): { bytes: number; text: string | undefined } {
  if (event.body === undefined) return { bytes: 0, text: '' };
  if (!event.isBase64Encoded) return { bytes: Buffer.byteLength(event.body, 'utf8'), text: event.body };
  // API Gateway base64-encodes a body that is not UTF-8 text; measure and check the bytes, never a lossy decode
  // (each invalid byte would become U+FFFD, 3 bytes, and the text would no longer be what was sent).
  const bytes = Buffer.from(event.body, 'base64');
  return { bytes: bytes.length, text: isUtf8(bytes) ? bytes.toString('utf8') : undefined };
}
