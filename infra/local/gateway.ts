// The local HTTP gateway: serves infra/routes.ts like API Gateway HTTP API (payload 2.0) in front of the real handlers.

import { isUtf8 } from 'node:buffer';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { type RouteDefinition, routes as routeTable } from '../routes.ts';
import { localPages } from './docs.ts';
import { type Authorizer, createAuthorizer, type IdentitySettings } from './identity.ts';

/** API Gateway accepts 10 MB; the gateway refuses far less so one client cannot make the process buffer much. */
export const MAX_REQUEST_BYTES = 1024 * 1024;
/** The functions' configured timeout; only drives `getRemainingTimeInMillis` and an overrun warning. */
export const FUNCTION_TIMEOUT_MS = 10_000;
const MEMORY_MB = '1024';
const ACCOUNT_ID = '000000000000';
const API_ID = 'local';
const REGION = process.env.AWS_REGION ?? 'us-east-1';

const log = new Logger({ serviceName: 'local-gateway' });

/** Any entry's `handler`; an HTTP one may answer a structured result or any value API Gateway JSON-encodes. */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

const modules = new Map<string, Promise<LambdaHandler>>();

/** Imports an entry (path relative to the repository root) once; a failed import is retried on the next call. */
export function loadHandler(entry: string): Promise<LambdaHandler> {
  let loaded = modules.get(entry);
  if (!loaded) {
    loaded = import(new URL(`../../${entry}`, import.meta.url).href).then((module: { handler?: unknown }) => {
      if (typeof module.handler !== 'function')
        throw new Error(`${entry} does not export a handler function`);
      return module.handler as LambdaHandler;
    });
    loaded.catch(() => modules.delete(entry));
    modules.set(entry, loaded);
  }
  return loaded;
}

/** A Lambda-like context; the remaining time uses a monotonic clock so tests that fake `Date` do not run it out. */
export function lambdaContext(functionName: string, timeoutMs = FUNCTION_TIMEOUT_MS): Context {
  const deadline = performance.now() + timeoutMs;
  const unsupported = () => {
    throw new Error('done/fail/succeed are not supported by async handlers');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: MEMORY_MB,
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, Math.floor(deadline - performance.now())),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

/** Runs a handler, warning (not failing) on overrun: one local process shares sockets that separate Lambdas would not. */
export async function invoke(functionName: string, handler: LambdaHandler, event: unknown): Promise<unknown> {
  const context = lambdaContext(functionName);
  const started = performance.now();
  const result = await handler(event, context);
  const elapsed = Math.round(performance.now() - started);
  if (elapsed > FUNCTION_TIMEOUT_MS) {
    log.warn('function_exceeded_timeout', {
      function_name: functionName,
      elapsed_ms: elapsed,
      timeout_ms: FUNCTION_TIMEOUT_MS,
    });
  }
  return result;
}

interface CompiledRoute {
  route: RouteDefinition;
  segments: string[];
}

type Match =
  | { kind: 'found'; route: RouteDefinition; pathParameters?: Record<string, string> }
  | { kind: 'wrong-method'; allow: string[] }
  | { kind: 'none' };

const decode = (value: string) => {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
};

function matchPath(segments: string[], path: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (const [index, segment] of segments.entries()) {
    const name = /^\{(\w+)(\+?)\}$/.exec(segment);
    if (name?.[1] && name[2] === '+') {
      const rest = path.slice(index);
      if (rest.length === 0 || rest.join('/') === '') return undefined;
      params[name[1]] = decode(rest.join('/'));
      return params;
    }
    const actual = path[index];
    if (actual === undefined || actual === '') return undefined;
    if (name?.[1]) params[name[1]] = decode(actual);
    else if (segment !== actual) return undefined;
  }
  return path.length === segments.length ? params : undefined;
}

function router(routes: readonly RouteDefinition[]) {
  const compiled: CompiledRoute[] = routes.map((route) => ({
    route,
    segments: route.path.split('/').slice(1),
  }));
  return (method: string, rawPath: string): Match => {
    const path = rawPath.split('/').slice(1);
    const allow: string[] = [];
    for (const { route, segments } of compiled) {
      const params = matchPath(segments, path);
      if (!params) continue;
      if (route.method !== method) {
        allow.push(route.method);
        continue;
      }
      return { kind: 'found', route, ...(Object.keys(params).length > 0 ? { pathParameters: params } : {}) };
    }
    return allow.length > 0 ? { kind: 'wrong-method', allow } : { kind: 'none' };
  };
}

function envelopeError(status: number, code: string, message: string, headers: Record<string, string> = {}) {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify({ success: false, error: { code, message } }),
  } satisfies APIGatewayProxyStructuredResultV2;
}

class BodyTooLarge extends Error {}

/** Reads the body, refusing early on a declared or streamed size above the cap. */
async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_REQUEST_BYTES) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** `12/Mar/2020:19:03:58 +0000`, the format of `requestContext.time`. */
function apiGatewayTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

function queryParameters(rawQueryString: string): Record<string, string> | undefined {
  if (rawQueryString === '') return undefined;
  const params: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    params[name] = name in params ? `${params[name]},${value}` : value;
  }
  return params;
}

export function buildEvent(
  req: IncomingMessage,
  route: RouteDefinition,
  pathParameters: Record<string, string> | undefined,
  body: Buffer,
  requestId: string,
): APIGatewayProxyEventV2 {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const rawPath = queryAt === -1 ? url : url.slice(0, queryAt);
  const rawQueryString = queryAt === -1 ? '' : url.slice(queryAt + 1);
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  // API Gateway lower-cases names, joins repeated headers with commas and moves cookies to their own field.
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (!values) continue;
    if (name === 'cookie') cookies = values.flatMap((value) => value.split(/;\s*/)).filter((c) => c !== '');
    else headers[name] = values.join(',');
  }
  const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  const domainName = headers.host ?? 'localhost';
  headers['x-forwarded-for'] = headers['x-forwarded-for']
    ? `${headers['x-forwarded-for']},${sourceIp}`
    : sourceIp;
  headers['x-forwarded-port'] = String(req.socket.localPort ?? '');
  headers['x-forwarded-proto'] = 'http';
  headers['x-amzn-trace-id'] =
    `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
  const routeKey = `${route.method} ${route.path}`;
  const now = new Date();
  const text = body.length > 0 && isUtf8(body);
  return {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString,
    ...(cookies ? { cookies } : {}),
    headers,
    ...(rawQueryString === '' ? {} : { queryStringParameters: queryParameters(rawQueryString) }),
    requestContext: {
      accountId: ACCOUNT_ID,
      apiId: API_ID,
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method: req.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey,
      stage: '$default',
      time: apiGatewayTime(now),
      timeEpoch: now.getTime(),
    },
    ...(pathParameters ? { pathParameters } : {}),
    ...(body.length === 0 ? {} : { body: text ? body.toString('utf8') : body.toString('base64') }),
    isBase64Encoded: body.length > 0 && !text,
  };
}

const isStructured = (result: unknown): result is APIGatewayProxyStructuredResultV2 =>
  typeof result === 'object' && result !== null && 'statusCode' in result;

/** Payload 2.0 response rules: a result without `statusCode` is a 200 JSON body of the whole value. */
function toHttpResult(result: unknown): APIGatewayProxyStructuredResultV2 {
  if (isStructured(result)) return result;
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: typeof result === 'string' ? result : JSON.stringify(result),
  };
}

function send(res: ServerResponse, result: APIGatewayProxyStructuredResultV2, requestId: string): void {
  const headers: Record<string, string | string[]> = { 'apigw-requestid': requestId };
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  if (result.cookies && result.cookies.length > 0) headers['set-cookie'] = result.cookies;
  const body =
    result.body === undefined
      ? Buffer.alloc(0)
      : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  headers['content-length'] = String(body.length);
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(body);
}

export interface GatewayOptions {
  /** 0 picks a free port; the chosen one is in `url`. */
  port: number;
  host?: string;
  /** Defaults to the project's route table; tests may pass their own. */
  routes?: readonly RouteDefinition[];
  /** Resolves a route's entry to its handler; defaults to importing the entry once. Tests may inject handlers. */
  load?: (entry: string) => Promise<LambdaHandler>;
  /**
   * Whose bearer tokens `identity: 'buyer'` routes require, checked as API Gateway's JWT authorizer does (`npm start`
   * passes JWT_ISSUER / JWT_AUDIENCE). Without it the routes stay anonymous, whatever the environment says.
   */
  identity?: IdentitySettings;
}

export interface Gateway {
  url: string;
  server: Server;
  close: () => Promise<void>;
}

/**
 * A buyer route's token checked: the authorizer context for the function, or the 401 to send, made by the handlers'
 * own error mapping (loaded only when identity is on: it reads the configuration).
 */
async function checkIdentity(
  authorize: Authorizer,
  route: RouteDefinition,
  authorization: string | undefined,
  requestId: string,
): Promise<
  | { refused: APIGatewayProxyStructuredResultV2 }
  | { authorizer: APIGatewayProxyEventV2WithJWTAuthorizer['requestContext']['authorizer'] }
> {
  const verdict = await authorize(authorization);
  if (verdict.ok) return { authorizer: verdict.authorizer };
  const details = { route: route.id, request_id: requestId, reason: verdict.reason };
  // An issuer that cannot be reached is a setup problem worth an error line; a bad token is the caller's.
  if (verdict.keysUnavailable)
    log.error('identity_keys_unavailable', { ...details, issuer: authorize.settings.issuer });
  else log.info('identity_refused', { ...details, code: verdict.error.code });
  const { errorResponse } = await import('../../shared/http/errors.ts');
  return { refused: errorResponse(verdict.error, requestId) };
}

/**
 * Serves `routes` on `port`. Routes with `auth: 'iam'` are not SigV4-checked here: API Gateway does that in the cloud.
 * Buyer routes check bearer tokens when an issuer is configured (`identity`), as the cloud's JWT authorizer does.
 */
export async function startGateway({
  port,
  host = '127.0.0.1',
  routes = routeTable,
  load = loadHandler,
  identity,
}: GatewayOptions): Promise<Gateway> {
  const match = router(routes);
  const authorize = identity ? createAuthorizer(identity) : undefined;
  // GET /api/openapi.json and /api/docs describe the project's route table: served only in front of it.
  const pages = routes === routeTable ? localPages : {};

  const handle = async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> => {
    const method = req.method ?? 'GET';
    const rawPath = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const page = Object.hasOwn(pages, rawPath) ? pages[rawPath] : undefined;
    if (page) {
      if (method === 'GET') return send(res, await page(), requestId);
      const message = `${method} is not allowed on ${rawPath}; use GET`;
      return send(res, envelopeError(405, 'METHOD_NOT_ALLOWED', message, { allow: 'GET' }), requestId);
    }
    const found = match(method, rawPath);
    if (found.kind === 'none') {
      return send(res, envelopeError(404, 'ROUTE_NOT_FOUND', `No route for ${method} ${rawPath}`), requestId);
    }
    if (found.kind === 'wrong-method') {
      const allow = found.allow.join(', ');
      return send(
        res,
        envelopeError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${rawPath}; use ${allow}`, {
          allow,
        }),
        requestId,
      );
    }
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (error) {
      if (!(error instanceof BodyTooLarge)) throw error;
      // Closing the connection stops Node from draining the rest of the oversized body.
      return send(
        res,
        envelopeError(413, 'PAYLOAD_TOO_LARGE', `Request body exceeds ${MAX_REQUEST_BYTES} bytes`, {
          connection: 'close',
        }),
        requestId,
      );
    }
    let event: APIGatewayProxyEventV2 | APIGatewayProxyEventV2WithJWTAuthorizer = buildEvent(
      req,
      found.route,
      found.pathParameters,
      body,
      requestId,
    );
    // API Gateway's JWT authorizer runs before the function; only buyer routes have one, and only with an issuer.
    if (authorize && found.route.identity === 'buyer') {
      const checked = await checkIdentity(authorize, found.route, event.headers.authorization, requestId);
      if ('refused' in checked) return send(res, checked.refused, requestId);
      event = { ...event, requestContext: { ...event.requestContext, authorizer: checked.authorizer } };
    }
    const handler = await load(found.route.entry);
    send(res, toHttpResult(await invoke(found.route.id, handler, event)), requestId);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomBytes(10).toString('base64url');
    handle(req, res, requestId).catch((error: unknown) => {
      // A client that hung up mid-body is not a server fault.
      if (req.destroyed && !req.complete) return;
      log.error('gateway_request_failed', {
        method: req.method,
        path: req.url,
        request_id: requestId,
        error,
      });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const message = `Unexpected error (request ${requestId})`;
      send(res, envelopeError(500, 'INTERNAL_ERROR', message), requestId);
    });
  };
  const server = createServer({ keepAlive: true, requestTimeout: 30_000 }, onRequest);
  // `Expect: 100-continue`: refuse an oversized declared body before the client sends it.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (Number(req.headers['content-length'] ?? 0) <= MAX_REQUEST_BYTES) res.writeContinue();
    onRequest(req, res);
  });
  // Room for a 2,000-request burst (each client may hold a keep-alive socket) without exhausting descriptors.
  server.maxConnections = 8192;
  server.keepAliveTimeout = 5_000;
  server.on('clientError', (error, socket) => {
    if (socket.writable && !socket.writableEnded)
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy(error);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // The default backlog (511) drops connections in a burst of thousands; the kernel caps it at somaxconn.
    server.listen({ port, host, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: actualPort } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? 'localhost' : host;

  return {
    url: `http://${urlHost}:${actualPort}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Finish in-flight requests; cut lingering connections after a grace period.
        const force = setTimeout(() => server.closeAllConnections(), 5_000);
        force.unref();
        server.close((error) => {
          clearTimeout(force);
          if (error) reject(error);
          else resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
