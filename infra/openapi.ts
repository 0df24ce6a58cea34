// The OpenAPI 3.1 document, built from the route table (infra/routes.ts), the zod schemas (shared/schemas.ts) and the
// error catalogue (infra/error-catalogue.ts). Served by the local gateway at GET /api/openapi.json and written by
// `npm run openapi`; never deployed and never imported by a Lambda (zod-openapi is a devDependency).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  createDocument,
  type oas31,
  type ZodOpenApiOperationObject,
  type ZodOpenApiResponsesObject,
} from 'zod-openapi';
import * as schemas from '../shared/schemas.ts';
import {
  catalogueProblems,
  commonErrors,
  type ErrorCode,
  errorCatalogue,
  headersOf,
} from './error-catalogue.ts';
import { type RouteDefinition, routes as routeTable, type SchemaName } from './routes.ts';
import type { SigningSecret } from './signing-secrets.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** shared/schemas.ts by name (the route table names schemas so the CDK app need not load them). */
const schemaNamed: Readonly<Record<SchemaName, z.ZodType>> = { ...schemas };

/** `productView` -> `ProductView`. */
const pascal = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

/** `idempotency-key` -> `Idempotency-Key` (HTTP names are case-insensitive; the route table keeps them lower-case). */
const headerName = (name: string) =>
  name
    .split('-')
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('-');

/** `PRODUCT_NOT_FOUND` -> `ProductNotFoundError`, `INTERNAL_ERROR` -> `InternalError`. */
const errorComponentName = (code: ErrorCode) => {
  const name = code
    .split('_')
    .map((word) => word.charAt(0) + word.slice(1).toLowerCase())
    .join('');
  return name.endsWith('Error') ? name : `${name}Error`;
};

/** The failure envelope for one code, its `details` as the error class builds them. */
function errorEnvelope(code: ErrorCode) {
  const entry: { description: string; details?: z.ZodType } = errorCatalogue[code];
  return z.object({
    success: z.literal(false),
    error: z.object({
      code: z.literal(code),
      message: z.string().min(1),
      ...(entry.details ? { details: entry.details } : {}),
    }),
  });
}

const errorEnvelopes = Object.fromEntries(
  (Object.keys(errorCatalogue) as ErrorCode[]).map((code) => [code, errorEnvelope(code)]),
) as Record<ErrorCode, ReturnType<typeof errorEnvelope>>;

const successEnvelope = (data: z.ZodType) => z.object({ success: z.literal(true), data });

/** API Gateway's own answer to an unsigned or wrongly signed call on an IAM route (not our envelope). */
const forbidden = z.object({ message: z.string() });

const stringHeader = (description: string, schema: oas31.SchemaObject = { type: 'string' }) => ({
  description,
  schema,
});

/** Every code a route answers: what it declares plus what every route answers, in catalogue order. */
export function errorsOf(route: RouteDefinition): ErrorCode[] {
  const declared = new Set<ErrorCode>([...(route.contract?.errors ?? []), ...commonErrors]);
  return (Object.keys(errorCatalogue) as ErrorCode[]).filter((code) => declared.has(code));
}

function errorResponses(route: RouteDefinition): ZodOpenApiResponsesObject {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorsOf(route)) {
    const { status } = errorCatalogue[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: ZodOpenApiResponsesObject = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const envelopes = codes.map((code) => errorEnvelopes[code]);
    const [only] = envelopes;
    const withRetryAfter = codes.filter((code) => headersOf(code).includes('Retry-After'));
    responses[String(status) as `${1 | 2 | 3 | 4 | 5}${string}`] = {
      description: codes.map((code) => `\`${code}\`: ${errorCatalogue[code].description}`).join('\n\n'),
      'x-error-codes': codes,
      ...(withRetryAfter.length > 0
        ? {
            headers: {
              'Retry-After': {
                ...stringHeader(`Seconds to wait before retrying (with ${withRetryAfter.join(', ')}).`, {
                  type: 'string',
                  pattern: '^\\d+$',
                }),
                required: withRetryAfter.length === codes.length,
              },
            },
          }
        : {}),
      content: {
        'application/json': {
          schema: envelopes.length === 1 && only ? only : z.union(envelopes),
        },
      },
    };
  }
  return responses;
}

/** The header each payment route's signature travels in (Adyen signs each item inside the body instead). */
const signatureHeaders: Record<
  SigningSecret,
  { name: string; in: 'header'; required: true; description: string; schema: oas31.SchemaObject }[]
> = {
  webhook: [
    {
      name: 'X-Signature',
      in: 'header',
      required: true,
      description:
        '`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`; `t` within 5 minutes, several `v1` allowed during secret rotation. The local runtime accepts unsigned calls while WEBHOOK_SECRET is unset.',
      schema: { type: 'string' },
    },
  ],
  stripe: [
    {
      name: 'Stripe-Signature',
      in: 'header',
      required: true,
      description:
        'As Stripe sends it: `t=<unix seconds>,v1=<hex HMAC-SHA256(whsec secret, "<t>.<raw body>")>[,v1=...][,v0=...]`. Any `v1` may match any of the endpoint\'s signing secrets (rotation, several endpoints); other schemes, `v0` included, are ignored; `t` over 300 s old is refused. The signature covers the raw bytes: a body re-serialised after signing does not verify. Without STRIPE_WEBHOOK_SECRET(_ID) nothing verifies.',
      schema: { type: 'string' },
    },
  ],
  adyen: [],
};

/** What a signed route's body must be, besides its schema. */
const requestBodyNotes: Record<SigningSecret, string> = {
  webhook: 'The raw bytes that were signed (the signature covers them before any parsing).',
  stripe:
    'The event exactly as Stripe sent it: the signature is checked over these raw bytes before the body is parsed. Only the envelope (`id`, `type`, `created`, `livemode`, `data.object`) is checked; the order is `data.object.metadata.order_id` for a PaymentIntent, `client_reference_id` or else `metadata.order_id` for a Checkout Session.',
  adyen:
    'Adyen\'s standard notification, `{"live": "true"|"false", "notificationItems": [{"NotificationRequestItem": {...}}]}`. Each item carries its own `additionalData.hmacSignature`: base64 HMAC-SHA256, keyed by the hex-decoded HMAC key, over `pspReference:originalReference:merchantAccountCode:merchantReference:amount.value:amount.currency:eventCode:success`. The order is `merchantReference`; `pspReference` + `eventCode` is the idempotency key.',
};

function operation(route: RouteDefinition): ZodOpenApiOperationObject {
  const { contract } = route;
  if (!contract) throw new Error(`Route ${route.id} has no contract in infra/routes.ts`);
  const { request = {} } = contract;
  const headers = request.headers ?? {};
  const success: ZodOpenApiResponsesObject = {};
  for (const [status, response] of Object.entries(contract.responses)) {
    success[status as `2${string}`] = {
      description: response.description,
      headers: {
        'Cache-Control': stringHeader('How long the answer may be reused.', {
          type: 'string',
          const: contract.cacheControl ?? 'no-store',
        }),
      },
      content:
        'plainText' in response && response.plainText
          ? { 'text/plain': { schema: schemaNamed[response.schema] } }
          : { 'application/json': { schema: successEnvelope(schemaNamed[response.schema]) } },
    };
  }
  return {
    operationId: route.id,
    summary: contract.summary,
    ...(route.auth === 'iam' ? { security: [{ sigv4: [] }] } : {}),
    // Required when the deployment has a JWT issuer; without one the route stays anonymous (`{}`).
    ...(route.identity === 'buyer' ? { security: [{ buyerJwt: [] }, {}] } : {}),
    ...(request.params ? { requestParams: { path: schemaNamed[request.params] as z.ZodObject } } : {}),
    parameters: [
      ...Object.entries(headers).map(([name, schema]) => ({
        name: headerName(name),
        in: 'header' as const,
        required: false,
        description:
          name === 'idempotency-key'
            ? 'Retry-safe key (1..255 chars, kept 24 h): the same key and body answer the original hold; another body 422 IDEMPOTENCY_KEY_REUSED.'
            : undefined,
        schema: z.toJSONSchema(schemaNamed[schema], { io: 'input' }) as oas31.SchemaObject,
      })),
      ...(route.signingSecret ? signatureHeaders[route.signingSecret] : []),
    ].map(({ schema, description, ...parameter }) => ({
      ...parameter,
      ...(description ? { description } : {}),
      schema: withoutDialect(schema),
    })),
    ...(request.body
      ? {
          requestBody: {
            required: true,
            ...(route.signingSecret ? { description: requestBodyNotes[route.signingSecret] } : {}),
            content: { 'application/json': { schema: schemaNamed[request.body] } },
          },
        }
      : {}),
    responses: {
      ...success,
      ...(route.auth === 'iam'
        ? {
            '403': {
              description:
                'API Gateway refused the call: not SigV4-signed by an allowed principal (cloud only).',
              content: { 'application/json': { schema: forbidden } },
            },
          }
        : {}),
      ...errorResponses(route),
    },
  };
}

const withoutDialect = ({ $schema: _, ...schema }: oas31.SchemaObject & { $schema?: string }) => schema;

/** The answers' schemas and the error envelopes, as components (request bodies stay inline: they transform ids). */
function components(routes: readonly RouteDefinition[]): Record<string, z.ZodType> {
  const named = new Set<SchemaName>();
  for (const { contract } of routes) {
    for (const response of Object.values(contract?.responses ?? {})) named.add(response.schema);
  }
  return {
    ...Object.fromEntries([...named].map((name) => [pascal(name), schemaNamed[name]])),
    ...Object.fromEntries(
      (Object.keys(errorEnvelopes) as ErrorCode[]).map((code) => [
        errorComponentName(code),
        errorEnvelopes[code],
      ]),
    ),
  };
}

export type OpenApiDocument = oas31.OpenAPIObject;

/** Builds the document; throws when shared/errors.ts and the error catalogue disagree. */
export function buildOpenApiDocument(routes: readonly RouteDefinition[] = routeTable): OpenApiDocument {
  const problems = catalogueProblems();
  if (problems.length > 0) throw new Error(`The error catalogue is out of date:\n${problems.join('\n')}`);
  const paths: Record<string, Record<string, ZodOpenApiOperationObject>> = {};
  for (const route of routes) {
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: operation(route) };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Flash-sale checkout API',
      version,
      description: [
        'Holds, orders and exactly-once payment webhooks. Every answer is an envelope: `{"success": true, "data": ...}` or `{"success": false, "error": {"code", "message", "details"?}}`.',
        'Ids are strings in answers; requests accept a string (1-64 of `A-Z a-z 0-9 _ -`) or a positive integer. Money is a two-decimal string plus `currency`; timestamps are ISO-8601 UTC.',
        'Every route may answer 400 `INVALID_JSON`, 413 `PAYLOAD_TOO_LARGE`, 503 `SERVICE_UNAVAILABLE` (with Retry-After) and 500 `INTERNAL_ERROR`. The local runtime (`npm start`) adds 404 `ROUTE_NOT_FOUND` and 405 `METHOD_NOT_ALLOWED` and serves this document at `/api/openapi.json`; the cloud API does not serve it.',
      ].join('\n\n'),
    },
    servers: [{ url: 'http://localhost:3000', description: 'Local runtime (npm start)' }],
    paths,
    components: {
      schemas: components(routes),
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description:
            'AWS Signature Version 4 (API Gateway IAM authorization). The local runtime does not check it.',
          'x-amazon-apigateway-authtype': 'awsSigv4',
        },
        buyerJwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            "The shop's identity provider's token (RS256, `iss` = the configured issuer, `aud` = one of the configured audiences, within `nbf`..`exp`); its `sub` is the customer id. Required on buyer routes when a JWT issuer is configured (the stage setting `jwtIssuer`, or `JWT_ISSUER` locally), ignored when none is. Orders are readable only by their buyer; a product's `max_per_customer` needs it.",
        },
      },
    },
  });
}
