// Invokes a Lambda handler directly with an API Gateway HTTP API (payload 2.0) event, for handler-level tests.
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface Invocation {
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  pathParameters?: Record<string, string>;
}

export function lambdaContext(functionName = 'test', timeoutMs = 10_000): Context {
  const started = Date.now();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

export interface Answer {
  status: number;
  body: {
    success: boolean;
    data?: Record<string, unknown>;
    error?: { code: string; message: string; details?: unknown };
  };
  headers: Record<string, unknown>;
}

export async function invoke(handler: Handler, request: Invocation = {}): Promise<Answer> {
  const body = request.rawBody ?? (request.body === undefined ? undefined : JSON.stringify(request.body));
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...request.headers },
    pathParameters: request.pathParameters,
    body,
    isBase64Encoded: false,
    requestContext: { requestId: randomUUID(), http: { method: 'POST', path: '/' } },
  } as unknown as APIGatewayProxyEventV2;
  const result = await handler(event, lambdaContext());
  return {
    status: result.statusCode ?? 0,
    body: JSON.parse(result.body ?? 'null'),
    headers: result.headers ?? {},
  };
}
