// Invokes a Lambda handler directly with an API Gateway HTTP API (payload 2.0) event, for handler-level tests.
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { lambdaContext as gatewayContext } from '../../infra/local/lambda-context.ts';

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface Invocation {
  body?: unknown;
  rawBody?: string;
  /** Sends `rawBytes` as API Gateway sends a binary body: base64 with `isBase64Encoded: true`. */
  rawBytes?: Uint8Array;
  headers?: Record<string, string>;
  pathParameters?: Record<string, string>;
  /** The Lambda context's function name (default `test`). */
  functionName?: string;
  /** The function's timeout: its context's remaining time starts there when it is called (default the gateway's). */
  timeoutMs?: number;
  /**
   * The verified buyer (`sub`), as API Gateway's JWT authorizer hands it to the function (payload 2.0:
   * `requestContext.authorizer.jwt`); omitted, the request is anonymous.
   */
  customer?: string;
}

/** The local gateway's Lambda context (monotonic remaining-time clock, so faking `Date` cannot run it out). */
export const lambdaContext = (functionName = 'test', timeoutMs?: number): Context =>
  gatewayContext(functionName, timeoutMs);

export interface Answer {
  status: number;
  body: {
    success: boolean;
    data?: Record<string, unknown>;
    error?: { code: string; message: string; details?: unknown };
  };
  headers: Record<string, unknown>;
  /** The body as sent; `body` is its JSON (undefined for a plain-text answer such as Adyen's `[accepted]`). */
  text?: string;
  /** The invocation's `context.awsRequestId` (set by `invoke`). */
  requestId?: string;
}

/** The API Gateway HTTP API (payload 2.0) event of `request`, as a handler or the local runtime receives it. */
export function apiEvent(request: Invocation = {}): APIGatewayProxyEventV2 {
  const base64 = request.rawBytes !== undefined;
  const body = base64
    ? Buffer.from(request.rawBytes ?? []).toString('base64')
    : (request.rawBody ?? (request.body === undefined ? undefined : JSON.stringify(request.body)));
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...request.headers },
    pathParameters: request.pathParameters,
    body,
    isBase64Encoded: base64,
    requestContext: {
      requestId: randomUUID(),
      http: { method: 'POST', path: '/' },
      ...(request.customer === undefined
        ? {}
        : { authorizer: { jwt: { claims: { sub: request.customer }, scopes: null } } }),
    },
  } as unknown as APIGatewayProxyEventV2;
}

/** A handler's structured result as a test reads it. */
export function answerOf(result: APIGatewayProxyStructuredResultV2, requestId?: string): Answer {
  const text = result.body ?? 'null';
  const isJson = String(result.headers?.['content-type'] ?? 'application/json').startsWith(
    'application/json',
  );
  return {
    status: result.statusCode ?? 0,
    body: isJson ? JSON.parse(text) : undefined,
    headers: result.headers ?? {},
    text,
    ...(requestId === undefined ? {} : { requestId }),
  };
}

export async function invoke(handler: Handler, request: Invocation = {}): Promise<Answer> {
  const context = lambdaContext(request.functionName, request.timeoutMs);
  const result = await handler(apiEvent(request), context);
  return answerOf(result, context.awsRequestId);
}
