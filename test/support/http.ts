// HTTP helpers for e2e tests: a fetch client that checks every answer against the envelope, and a raw node:http call.
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import { z } from 'zod';
import {
  type FunctionDefinition,
  type Runtime,
  runtimeSettingsFromEnv,
  stackFunctions,
  startRuntime,
} from '../../infra/local/environments.ts';
import { type Gateway, startGateway } from '../../infra/local/gateway.ts';
import { runSweepOnce } from '../../infra/local/sweeper.ts';
import { routes } from '../../infra/routes.ts';

/** The contract every route answers with: exactly these keys, error codes in UPPER_SNAKE. */
export const envelope = z.union([
  z.strictObject({ success: z.literal(true), data: z.record(z.string(), z.unknown()) }),
  z.strictObject({
    success: z.literal(false),
    error: z.strictObject({
      code: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
      message: z.string().min(1),
      details: z.unknown().optional(),
    }),
  }),
]);
export type Envelope = z.infer<typeof envelope>;

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Envelope;
}

export interface RequestOptions {
  /** Sent as JSON with `content-type: application/json`. */
  json?: unknown;
  /** Sent exactly as given. */
  raw?: string;
  headers?: Record<string, string>;
}

/** Parses and checks the envelope; a response that breaks the contract fails the test that made it. */
export async function readEnvelope(response: Response, what: string): Promise<Envelope> {
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  if (!contentType.startsWith('application/json')) {
    throw new Error(
      `${what} answered ${response.status} with content-type "${contentType}": ${text.slice(0, 200)}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(
      `${what} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`,
    );
  }
  const parsed = envelope.safeParse(json);
  if (!parsed.success)
    throw new Error(`${what} answered ${response.status} outside the envelope: ${text.slice(0, 500)}`);
  return parsed.data;
}

export function apiClient(baseUrl: string | (() => string)) {
  async function request(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | undefined = options.raw;
    if (body === undefined && 'json' in options) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    }
    const base = typeof baseUrl === 'string' ? baseUrl : baseUrl();
    const response = await fetch(new URL(path, base), { method, headers, body });
    return {
      status: response.status,
      headers: response.headers,
      body: await readEnvelope(response, `${method} ${path}`),
    };
  }
  return {
    request,
    /** The gateway's base URL, for a request whose answer is not an envelope (Adyen's text/plain `[accepted]`). */
    baseUrl: () => (typeof baseUrl === 'string' ? baseUrl : baseUrl()),
    get: (path: string, headers?: Record<string, string>) => request('GET', path, { headers }),
    post: (path: string, json: unknown, headers?: Record<string, string>) =>
      request('POST', path, { json, headers }),
    put: (path: string, json: unknown, headers?: Record<string, string>) =>
      request('PUT', path, { json, headers }),
  };
}
export type ApiClient = ReturnType<typeof apiClient>;

/**
 * The runtime behind `apiForThisFile`: the default one (execution environments unless LOCAL_RUNTIME says otherwise),
 * with two differences, both because these suites test the domain through HTTP, not the runtime:
 * - get-product reads the product afresh on every request. These tests read a product right after another function
 *   changed it; get-product's own view (up to STOCK_VIEW_MAX_AGE_MS old, 1 s) may answer what it saw before, as it
 *   may in the cloud. The in-process runtime hid that: every function shared one view.
 * - A request past its function's cap waits up to a test's timeout for an environment (LOCAL_THROTTLE_WAIT_MS
 *   still decides when set): the bursts here are far larger than a laptop's caps, and the throttle answer has its
 *   own test (test/e2e/local-runtime-environments.test.ts).
 */
function runtimeForTests(
  functions: readonly FunctionDefinition[],
  options: LocalRuntimeOptions,
): Promise<Runtime> {
  const settings = runtimeSettingsFromEnv({ LOCAL_THROTTLE_WAIT_MS: '60000', ...process.env }, functions);
  return startRuntime({
    functions,
    ...settings,
    caps: { ...settings.caps, ...options.caps },
    functionEnv: {
      ...options.functionEnv,
      'get-product': { STOCK_VIEW_MAX_AGE_MS: '0', ...options.functionEnv?.['get-product'] },
    },
  });
}

/** What a suite may change in the runtime around it: caps and variables per function id. */
export interface LocalRuntimeOptions {
  caps?: Readonly<Record<string, number>>;
  functionEnv?: Readonly<Record<string, NodeJS.ProcessEnv>>;
}

/** The gateway and every function of the stack around the calling test file (see `stackForThisFile`). */
export interface LocalStack {
  api: ApiClient;
  /** The runtime serving the routes and the sweeper: its `stats()` say which environments ran what. */
  runtime: () => Runtime;
  /** One scheduled run of the sweeper (expire-holds), in an environment of its own; resolves to its report. */
  sweep: () => Promise<unknown>;
}

/** Starts a runtime of `functions` and the gateway in front of it around the calling test file (`beforeAll`). */
function aroundThisFile(
  functions: readonly FunctionDefinition[],
  options: LocalRuntimeOptions,
): () => { gateway: Gateway; runtime: Runtime } {
  let gateway: Gateway | undefined;
  let runtime: Runtime | undefined;
  beforeAll(async () => {
    runtime = await runtimeForTests(functions, options);
    gateway = await startGateway({ port: 0, runtime });
  });
  afterAll(async () => {
    await gateway?.close();
    await runtime?.close();
  });
  return () => {
    if (!gateway || !runtime)
      throw new Error('The gateway starts in beforeAll; call the API from inside a test');
    return { gateway, runtime };
  };
}

/**
 * The local gateway around the calling test file, with every function of the stack (the routes and the sweeper) in
 * execution environments of one runtime: each function its own pool, sharing only DynamoDB. The client reaches it
 * once `beforeAll` has run.
 */
export function stackForThisFile(options: LocalRuntimeOptions = {}): LocalStack {
  const started = aroundThisFile(stackFunctions, options);
  return {
    api: apiClient(() => started().gateway.url),
    runtime: () => started().runtime,
    sweep: () => runSweepOnce(started().runtime),
  };
}

/** Starts the local gateway around the calling test file; the client reaches it once `beforeAll` has run. */
export function apiForThisFile(): ApiClient {
  const started = aroundThisFile(routes, {});
  return apiClient(() => started().gateway.url);
}

/** The `data` of a success envelope; fails loudly with the whole answer otherwise. */
export function dataOf(response: ApiResponse): Record<string, unknown> {
  if (!response.body.success) {
    throw new Error(`expected success, got ${response.status} ${JSON.stringify(response.body)}`);
  }
  return response.body.data;
}

/** The `error` of a failure envelope; fails loudly with the whole answer otherwise. */
export function errorOf(response: ApiResponse) {
  if (response.body.success)
    throw new Error(`expected an error, got ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.error;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Whether the client sent the body (false when the server refused after `Expect: 100-continue`). */
  bodySent: boolean;
}

/**
 * One request through node:http, for what fetch cannot express: repeated header lines, `Expect: 100-continue`.
 * With `expectContinue`, the body is written only if the server says 100 Continue.
 */
export function rawRequest(
  url: string,
  options: {
    method: string;
    headers?: OutgoingHttpHeaders;
    body?: string | Buffer;
    expectContinue?: boolean;
  },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let bodySent = false;
    const req = httpRequest(url, {
      method: options.method,
      headers: { ...options.headers, ...(options.expectContinue ? { expect: '100-continue' } : {}) },
    });
    const writeBody = () => {
      bodySent = options.body !== undefined;
      req.end(options.body);
    };
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        // A refused `100-continue` request was never finished; drop it rather than send the body late.
        if (!bodySent && options.body !== undefined) req.destroy();
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          bodySent,
        });
      });
    });
    if (options.expectContinue) req.on('continue', writeBody);
    else writeBody();
  });
}
