// The app as the bench calls it: API Gateway v2 events for the routes it measures, and the handlers run in this
// process (the one-process figure). Imported only after cli.ts's prepareEnvironment and main.ts set the environment.
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { handler as createHoldHandler } from '../../functions/create-hold.ts';
import { handler as getProductHandler } from '../../functions/get-product.ts';
import { handler as putProductHandler } from '../../functions/put-product.ts';
import { lambdaContext } from '../../infra/local/gateway.ts';
import { type RawOutcome, rawGetProduct, rawHoldTxn, rawTakeOnce } from './raw.ts';

export interface Request {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  body?: unknown;
  pathParameters?: Record<string, string>;
}

/** An API Gateway v2 event as the local gateway builds it, with the authorizer's `sub` for an identified buyer. */
export function apiEvent(request: Request, customer?: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: request.path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    pathParameters: request.pathParameters,
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
    isBase64Encoded: false,
    requestContext: {
      requestId: randomUUID(),
      http: { method: request.method, path: request.path },
      ...(customer ? { authorizer: { jwt: { claims: { sub: customer }, scopes: null } } } : {}),
    },
  } as unknown as APIGatewayProxyEventV2;
}

export const holdRequest = (productId: string): Request => ({
  method: 'POST',
  path: '/api/holds',
  body: { product_id: productId, qty: 1 },
});

export const productRequest = (productId: string): Request => ({
  method: 'GET',
  path: `/api/products/${productId}`,
  pathParameters: { id: productId },
});

export interface Answer {
  status: number;
  body: string;
}

/**
 * How a measurement reaches the handlers and the raw floors: in this process, or through execution environments.
 * Both sides of every comparison go the same way.
 */
export interface Caller {
  /** Printed beside every figure it produced. */
  readonly label: string;
  /** What `n` concurrent callers are: `32 environments`, `32 buyers in one process`. */
  concurrent(n: number): string;
  postHold(productId: string, customer?: string): Promise<Answer>;
  getProduct(productId: string): Promise<Answer>;
  rawTake(productId: string): Promise<RawOutcome>;
  rawHold(productId: string, customer?: string): Promise<RawOutcome[]>;
  rawGet(productId: string): Promise<RawOutcome>;
}

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

async function invokeHere(
  handler: Handler,
  functionName: string,
  event: APIGatewayProxyEventV2,
): Promise<Answer> {
  const result = await handler(event, lambdaContext(functionName));
  return { status: result.statusCode ?? 0, body: result.body ?? '' };
}

/** Every handler in this process, concurrent invocations sharing one module instance (not how Lambda runs them). */
export const oneProcess: Caller = {
  label: 'one process',
  concurrent: (n) => `${n} buyers in one process`,
  postHold: (productId, customer) =>
    invokeHere(createHoldHandler, 'create-hold', apiEvent(holdRequest(productId), customer)),
  getProduct: (productId) =>
    invokeHere(getProductHandler, 'get-product', apiEvent(productRequest(productId))),
  rawTake: rawTakeOnce,
  rawHold: rawHoldTxn,
  rawGet: rawGetProduct,
};

/** Creates a product through PUT /api/admin/products/{id} (in this process); returns its bucket count. */
export async function createProduct(productId: string, stock: number, buckets?: number, limit?: number) {
  const answer = await invokeHere(
    putProductHandler,
    'put-product',
    apiEvent({
      method: 'PUT',
      path: `/api/admin/products/${productId}`,
      pathParameters: { id: productId },
      body: {
        name: `Bench ${productId}`,
        price: '12.50',
        currency: 'USD',
        stock,
        stock_buckets: buckets,
        max_per_customer: limit,
      },
    }),
  );
  if (answer.status !== 201) throw new Error(`PUT product ${productId}: ${answer.status} ${answer.body}`);
  return Number((JSON.parse(answer.body) as { data: { stock_buckets: number } }).data.stock_buckets);
}
