// The middy stack every HTTP function uses: logger context, body limit + JSON parse, zod validation, error envelope.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { ZodError, type z } from 'zod';
import { config } from '../config.ts';
import { withInvocationBudget } from '../deadline.ts';
import { InvalidJson, PayloadTooLarge, ValidationFailed } from '../errors.ts';
import { logger } from '../logger.ts';
import { flushMetrics } from '../metrics.ts';
import { rawBodyOf } from './body.ts';
import { errorResponse } from './errors.ts';
import { customerOf } from './identity.ts';
import { type HttpResult, success } from './responses.ts';

export interface RequestSchemas {
  body?: z.ZodType;
  params?: z.ZodType;
}

type Parsed<S extends RequestSchemas, K extends keyof RequestSchemas> = S[K] extends z.ZodType
  ? z.output<S[K]>
  : undefined;

export interface ParsedRequest<S extends RequestSchemas> {
  body: Parsed<S, 'body'>;
  params: Parsed<S, 'params'>;
  /** Lower-case header names (API Gateway HTTP API and the local gateway both normalise them). */
  headers: Record<string, string | undefined>;
  /** The body exactly as received, for signature checks (empty for bytes that are not UTF-8 on a route without a body). */
  rawBody: string;
  /** The identified buyer (`sub` of the JWT the authorizer verified); undefined when the request is anonymous. */
  customer: string | undefined;
  context: Context;
}

export type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

function parseJsonObject(raw: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new InvalidJson('Request body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidJson();
  return value;
}

export function validate<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  try {
    return schema.parse(value);
  } catch (error) {
    if (!(error instanceof ZodError)) throw error;
    const details = error.issues.map((issue) => ({
      field: [where, ...issue.path.map(String)].join('.'),
      message: issue.message,
    }));
    throw new ValidationFailed(`Invalid ${where}`, details);
  }
}

export interface HandlerOptions {
  /** Runs on the raw request after the size check and before any parsing (e.g. signature verification). */
  authenticate?: (rawBody: string, headers: Record<string, string | undefined>) => Promise<void>;
}

export async function parseRequest<S extends RequestSchemas>(
  schemas: S,
  event: APIGatewayProxyEventV2,
  context: Context,
  options: HandlerOptions = {},
): Promise<ParsedRequest<S>> {
  const received = rawBodyOf(event);
  if (received.bytes > config.MAX_BODY_BYTES) throw new PayloadTooLarge(config.MAX_BODY_BYTES);
  // JSON is UTF-8 text (RFC 8259): other bytes are refused before a signature check or the parser sees them.
  if (received.text === undefined && schemas.body) throw new InvalidJson('Request body is not valid UTF-8');
  const rawBody = received.text ?? '';
  await options.authenticate?.(rawBody, event.headers ?? {});
  return {
    body: (schemas.body ? validate(schemas.body, parseJsonObject(rawBody), 'body') : undefined) as Parsed<
      S,
      'body'
    >,
    params: (schemas.params
      ? validate(schemas.params, event.pathParameters ?? {}, 'path')
      : undefined) as Parsed<S, 'params'>,
    headers: event.headers ?? {},
    rawBody,
    customer: customerOf(event),
    context,
  };
}

/** Builds a Lambda handler: `httpHandler({ body: schema }, async (req) => created(...))`. */
export function httpHandler<S extends RequestSchemas>(
  schemas: S,
  handle: (request: ParsedRequest<S>) => Promise<HttpResult>,
  options: HandlerOptions = {},
): Handler {
  // Out of time, a request answers 503 instead of being cut off by Lambda: every DynamoDB call ends with the
  // invocation's budget (shared/deadline.ts), and should anything else hang, middy answers halfway into the reserve.
  const stack = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>({
    timeoutEarlyInMillis: Math.max(5, Math.floor(config.INVOCATION_RESERVE_MS / 2)),
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    // Before the error mapping, so its onError runs after it and flushes what the mapping counted.
    .use(flushMetrics())
    .use({
      onError: async (request) => {
        request.response = errorResponse(request.error, request.context.awsRequestId);
      },
    })
    .handler(async (event, context) =>
      success(await handle(await parseRequest(schemas, event, context, options))),
    );
  // Each invocation runs within its own time budget.
  return withInvocationBudget((event: APIGatewayProxyEventV2, context: Context) => stack(event, context));
}
