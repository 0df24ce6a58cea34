import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Gateway, type LambdaHandler, loadHandler, startGateway } from '../../infra/local/gateway.ts';
import type { RouteDefinition } from '../../infra/routes.ts';
import { envelope, rawRequest } from '../support/http.ts';

// Handlers injected per route id, so the tests see exactly what the gateway hands a function and what it sends back.
const route = (id: string, method: RouteDefinition['method'], path: string): RouteDefinition => ({
  id,
  method,
  path,
  entry: `test-only/${id}.ts`,
  access: 'read',
  auth: 'none',
});
const testRoutes = [
  route('echo', 'POST', '/echo/{name}'),
  route('plain', 'GET', '/plain'),
  route('teapot', 'GET', '/teapot'),
  route('bare', 'GET', '/bare'),
  route('throws', 'GET', '/throws'),
  { ...route('missing', 'GET', '/missing'), entry: 'functions/does-not-exist.ts' },
];

let seen: { event: APIGatewayProxyEventV2; context: Context; remaining: number } | undefined;
const capture: LambdaHandler = async (event, context) => {
  seen = { event: event as APIGatewayProxyEventV2, context, remaining: context.getRemainingTimeInMillis() };
  return { statusCode: 200, body: '{}' };
};
const handlers: Record<string, LambdaHandler> = {
  'test-only/echo.ts': capture,
  'test-only/plain.ts': capture,
  'test-only/teapot.ts': async () => ({
    statusCode: 418,
    headers: { 'X-Brew': 'earl grey', 'content-type': 'text/plain' },
    cookies: ['session=abc; Path=/; HttpOnly', 'theme=dark'],
    body: "I'm a teapot",
  }),
  'test-only/bare.ts': async () => ({ ok: true, items: [1, 2] }),
  'test-only/throws.ts': async () => {
    throw new Error('boom');
  },
};

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway({
    port: 0,
    routes: testRoutes,
    load: async (entry) => handlers[entry] ?? loadHandler(entry),
  });
});
afterAll(() => gateway.close());
beforeEach(() => {
  seen = undefined;
});

describe('the event a function receives', () => {
  it('is an API Gateway HTTP API payload 2.0 event', async () => {
    const before = Date.now();
    const response = await rawRequest(`${gateway.url}/echo/abc%20d?x=1&x=2&y=z%20z`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-Repeated': ['a', 'b'],
        Cookie: 'first=1; second=2',
        'User-Agent': 'e2e-test',
      },
      body: '{"hello":"wörld"}',
    });

    expect(response.status).toBe(200);
    if (!seen) throw new Error('the handler was not called');
    const { event, context, remaining } = seen;
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /echo/{name}',
      rawPath: '/echo/abc%20d',
      rawQueryString: 'x=1&x=2&y=z%20z',
      queryStringParameters: { x: '1,2', y: 'z z' },
      pathParameters: { name: 'abc d' },
      cookies: ['first=1', 'second=2'],
      body: '{"hello":"wörld"}',
      isBase64Encoded: false,
    });
    expect(event.headers).toMatchObject({
      'content-type': 'application/json',
      'x-repeated': 'a,b',
      'user-agent': 'e2e-test',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
    });
    expect(event.headers).not.toHaveProperty('cookie');
    expect(Object.keys(event.headers).every((name) => name === name.toLowerCase())).toBe(true);
    expect(event.requestContext).toMatchObject({
      http: {
        method: 'POST',
        path: '/echo/abc%20d',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'e2e-test',
      },
      routeKey: 'POST /echo/{name}',
      stage: '$default',
      requestId: response.headers['apigw-requestid'],
      accountId: expect.any(String),
      apiId: expect.any(String),
      domainName: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    });
    expect(event.requestContext.timeEpoch).toBeGreaterThanOrEqual(before);
    expect(event.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(context).toMatchObject({ functionName: 'echo', memoryLimitInMB: expect.any(String) });
    expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(remaining).toBeGreaterThan(9_000);
    expect(remaining).toBeLessThanOrEqual(10_000);
  });

  it('has no body, query or path parameters when the request has none', async () => {
    const response = await fetch(`${gateway.url}/plain`);

    expect(response.status).toBe(200);
    expect(seen?.event).toMatchObject({ rawPath: '/plain', rawQueryString: '', isBase64Encoded: false });
    expect(seen?.event).not.toHaveProperty('body');
    expect(seen?.event).not.toHaveProperty('queryStringParameters');
    expect(seen?.event).not.toHaveProperty('pathParameters');
    expect(seen?.event).not.toHaveProperty('cookies');
  });

  it('base64-encodes a body that is not UTF-8', async () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80]);

    await rawRequest(`${gateway.url}/echo/bin`, { method: 'POST', body: bytes });

    expect(seen?.event).toMatchObject({ isBase64Encoded: true, body: bytes.toString('base64') });
  });

  it('gets a fresh request id and context per request', async () => {
    await fetch(`${gateway.url}/plain`);
    const first = seen;
    await fetch(`${gateway.url}/plain`);

    expect(seen?.event.requestContext.requestId).not.toBe(first?.event.requestContext.requestId);
    expect(seen?.context.awsRequestId).not.toBe(first?.context.awsRequestId);
  });
});

describe('the response the gateway writes', () => {
  it("sends the function's status, headers, cookies and body", async () => {
    const response = await fetch(`${gateway.url}/teapot`);

    expect(response.status).toBe(418);
    expect(response.headers.get('x-brew')).toBe('earl grey');
    expect(response.headers.getSetCookie()).toEqual(['session=abc; Path=/; HttpOnly', 'theme=dark']);
    expect(await response.text()).toBe("I'm a teapot");
  });

  it('sends a result without statusCode as a 200 JSON body, as API Gateway does', async () => {
    const response = await fetch(`${gateway.url}/bare`);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ ok: true, items: [1, 2] });
  });

  it.each([
    ['throws', '/throws'],
    ['cannot be imported', '/missing'],
  ])('answers 500 INTERNAL_ERROR when the function %s, and keeps serving', async (_what, path) => {
    const response = await fetch(`${gateway.url}${path}`);

    expect(response.status).toBe(500);
    expect(envelope.parse(await response.json())).toMatchObject({
      success: false,
      error: { code: 'INTERNAL_ERROR' },
    });
    expect((await fetch(`${gateway.url}/plain`)).status).toBe(200);
  });
});
