// The envelope every route answers with, and the result type handlers return.
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export interface HttpResult {
  status: number;
  data: unknown;
  headers?: Record<string, string>;
  /** A plain-text body instead of the envelope, for a caller that requires one (Adyen's `[accepted]`). */
  text?: string;
}

export const ok = (data: unknown): HttpResult => ({ status: 200, data });
export const created = (data: unknown): HttpResult => ({ status: 201, data });

/** 200 with `text` as the whole body. */
export const plainText = (text: string): HttpResult => ({ status: 200, data: undefined, text });

const jsonHeaders = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export function success({ status, data, headers, text }: HttpResult): APIGatewayProxyStructuredResultV2 {
  if (text !== undefined) {
    return {
      statusCode: status,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers },
      body: text,
    };
  }
  return {
    statusCode: status,
    headers: { ...jsonHeaders, ...headers },
    body: JSON.stringify({ success: true, data }),
  };
}

export function failure(
  status: number,
  error: { code: string; message: string; details?: unknown },
  headers?: Record<string, string>,
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: { ...jsonHeaders, ...headers },
    body: JSON.stringify({ success: false, error }),
  };
}
