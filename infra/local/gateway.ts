// The local HTTP gateway: serves infra/routes.ts like API Gateway HTTP API (payload 2.0), each request invoked
// through the local runtime (infra/local/environments.ts): an execution environment of its function by default.

import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyStructuredResultV2,
} from 'aws-lambda';
import { type AnsweredCode, answerFor, type LocalGatewayCode } from '../../shared/http/error-answers.ts';
import { type RouteDefinition, routes as routeTable } from '../routes.ts';
import { localPages } from './docs.ts';
import { type Invocation, type Runtime, runtimeSettingsFromEnv, startRuntime } from './environments.ts';
import { type Authorizer, createAuthorizer, type IdentitySettings } from './identity.ts';
import { ACCOUNT_ID, type LambdaHandler } from './lambda-context.ts';
import { startOneProcessRuntime } from './one-process.ts';

export { FUNCTION_TIMEOUT_MS, type LambdaHandler, lambdaContext } from './lambda-context.ts';
export { invokeInProcess as invoke, loadHandler } from './one-process.ts';

/** API Gateway accepts 10 MB; the gateway refuses far less so one client cannot make the process buffer much. */
export const MAX_REQUEST_BYTES = 1024 * 1024;
const API_ID = 'local';

const log = new Logger({ serviceName: 'local-gateway' });

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

/** Our envelope for what the gateway refuses itself, with the status and headers the error-answer table gives `code`. */
function envelopeError(
  code: AnsweredCode | LocalGatewayCode,
  message: string,
  headers: Record<string, string> = {},
) {
  const answer = answerFor(code);
  return {
    statusCode: answer.status,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      ...answer.headers,
      ...headers,
    },
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
  /**
   * Who runs the functions. Default: a runtime of `routes` this gateway starts and closes, in the mode and with the
   * caps the environment says (LOCAL_RUNTIME, LOCAL_CONCURRENCY..., see runtimeSettingsFromEnv).
   */
  runtime?: Runtime;
  /**
   * Resolves a route's entry to its handler in this process: the one-process mode with these handlers (tests inject
   * handlers this way). Not together with `runtime`.
   */
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
  /** The runtime the gateway invokes (its own unless one was given). */
  runtime: Runtime;
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

/** API Gateway's own answers when the function cannot answer (not our envelope: API Gateway writes them). */
const apiGatewayAnswer = (statusCode: number, message: string): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ message }),
});

/**
 * What the client gets for an invocation: the function's result; for a throttled function (Lambda's 429
 * TooManyRequestsException) 503 Service Unavailable; for a timed-out one (an unhandled function error, "Task timed
 * out") 500 Internal Server Error (docs/design/lambda-model.md cites both); for a handler that threw or an entry that
 * cannot be loaded our 500 INTERNAL_ERROR envelope, as before the runtime existed.
 */
function answerOf(invocation: Invocation, route: RouteDefinition, requestId: string) {
  switch (invocation.outcome) {
    case 'success':
      return toHttpResult(invocation.result);
    case 'throttled':
      return apiGatewayAnswer(503, 'Service Unavailable');
    case 'timed-out':
      return apiGatewayAnswer(500, 'Internal Server Error');
    case 'error':
      log.error('gateway_request_failed', {
        route: route.id,
        request_id: requestId,
        phase: invocation.phase,
        error: invocation.error,
      });
      return envelopeError('INTERNAL_ERROR', `Unexpected error (request ${requestId})`);
  }
}

type Handle = (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<void>;

/** The request -> route -> event -> (authorizer) -> invocation -> response path, as API Gateway runs it. */
function requestHandler(
  routes: readonly RouteDefinition[],
  runtime: Runtime,
  identity: IdentitySettings | undefined,
): Handle {
  const match = router(routes);
  const authorize = identity ? createAuthorizer(identity) : undefined;
  // GET /api/openapi.json and /api/docs describe the project's route table: served only in front of it.
  const pages = routes === routeTable ? localPages : {};

  return async (req, res, requestId) => {
    const method = req.method ?? 'GET';
    const rawPath = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const page = Object.hasOwn(pages, rawPath) ? pages[rawPath] : undefined;
    if (page) {
      if (method === 'GET') return send(res, await page(), requestId);
      const message = `${method} is not allowed on ${rawPath}; use GET`;
      return send(res, envelopeError('METHOD_NOT_ALLOWED', message, { allow: 'GET' }), requestId);
    }
    const found = match(method, rawPath);
    if (found.kind === 'none') {
      return send(res, envelopeError('ROUTE_NOT_FOUND', `No route for ${method} ${rawPath}`), requestId);
    }
    if (found.kind === 'wrong-method') {
      const allow = found.allow.join(', ');
      return send(
        res,
        envelopeError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${rawPath}; use ${allow}`, {
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
        envelopeError('PAYLOAD_TOO_LARGE', `Request body exceeds ${MAX_REQUEST_BYTES} bytes`, {
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
    const invocation = await runtime.invoke(found.route.id, event);
    send(res, answerOf(invocation, found.route, requestId), requestId);
  };
}

/** The HTTP server around `handle`: a 500 envelope for anything unexpected, body limits, burst-sized limits. */
function httpServer(handle: Handle): Server {
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
      send(res, envelopeError('INTERNAL_ERROR', message), requestId);
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
  return server;
}

/** Listens; resolves to the URL clients use. */
async function listen(server: Server, port: number, host: string): Promise<string> {
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
  return `http://${urlHost}:${actualPort}`;
}

/** Finishes in-flight requests, cutting lingering connections after a grace period. */
function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const force = setTimeout(() => server.closeAllConnections(), 5_000);
    force.unref();
    server.close((error) => {
      clearTimeout(force);
      if (error) reject(error);
      else resolve();
    });
    server.closeIdleConnections();
  });
}

/** The runtime the options name, or one of `routes` this gateway owns (then `owned`: closed with the gateway). */
async function runtimeFor(
  routes: readonly RouteDefinition[],
  { runtime, load }: Pick<GatewayOptions, 'runtime' | 'load'>,
): Promise<{ runtime: Runtime; owned: boolean }> {
  if (runtime && load) throw new Error('startGateway: give `runtime` or `load`, not both');
  if (runtime) return { runtime, owned: false };
  if (load) return { runtime: startOneProcessRuntime(routes, load), owned: true };
  return {
    runtime: await startRuntime({ functions: routes, ...runtimeSettingsFromEnv(process.env, routes) }),
    owned: true,
  };
}

/**
 * Serves `routes` on `port`. Routes with `auth: 'iam'` are not SigV4-checked here: API Gateway does that in the cloud.
 * Buyer routes check bearer tokens when an issuer is configured (`identity`), as the cloud's JWT authorizer does.
 */
export async function startGateway({
  port,
  host = '127.0.0.1',
  routes = routeTable,
  runtime: given,
  load,
  identity,
}: GatewayOptions): Promise<Gateway> {
  const { runtime, owned } = await runtimeFor(routes, { runtime: given, load });
  const server = httpServer(requestHandler(routes, runtime, identity));
  let url: string;
  try {
    url = await listen(server, port, host);
  } catch (error) {
    if (owned) await runtime.close();
    throw error;
  }
  return {
    url,
    server,
    runtime,
    close: async () => {
      await closeServer(server);
      if (owned) await runtime.close();
    },
  };
}
