// The envelope every route answers with, and the result type handlers return.
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export interface HttpResult {
  status: number;
  data: unknown;
  headers?: Record<string, string>;
}

export const ok = (data: unknown): HttpResult => ({ status: 200, data });
export const created = (data: unknown): HttpResult => ({ status: 201, data });

const jsonHeaders = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export function success({ status, data, headers }: HttpResult): APIGatewayProxyStructuredResultV2 {
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
