// The contention mode as a DynamoDB-compatible HTTP endpoint in front of DynamoDB Local: every client pointed at it
// (each execution environment, the tests, the bench, the audit CLI) shares one set of busy items and partitions.
import { randomUUID } from 'node:crypto';
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { ContentionModel, MODELLED_OPERATIONS, type Upstream } from './model.ts';
import { type ContentionParams, validated } from './params.ts';
import { Refusal } from './refusals.ts';
import { type ContentionStats, Usage } from './state.ts';

export interface ContentionEndpointOptions {
  /** DynamoDB Local's URL, e.g. http://127.0.0.1:8000. */
  upstream: string;
  params: ContentionParams;
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface ContentionEndpoint {
  /** The URL to give any DynamoDB client as its endpoint. */
  endpoint: string;
  /** The parameters in force; undefined while the mode is off (every request forwarded as it is). */
  readonly params: ContentionParams | undefined;
  /** Counters since the start or the last reset (the same as `GET /__contention/stats`). */
  stats(): ContentionStats;
  /** Zeroes the counters (`POST /__contention/reset`); busy items and buckets stay as they are. */
  reset(): void;
  /**
   * New parameters, or undefined to forward every request untouched (`PUT /__contention/params`, body the params
   * or null). Busy items and buckets start afresh; the counters go on.
   */
  setParams(params: ContentionParams | undefined): void;
  /** Stops listening and drops every connection, to clients and to DynamoDB Local. */
  close(): Promise<void>;
}

/** The routes of the endpoint itself, beside DynamoDB's `POST /`. */
export const STATS_PATH = '/__contention/stats';
export const RESET_PATH = '/__contention/reset';
export const PARAMS_PATH = '/__contention/params';

const TARGET_PREFIX = 'DynamoDB_20120810.';
const JSON_1_0 = 'application/x-amz-json-1.0';
/** Hop-by-hop headers stay on their own hop; accept-encoding goes so DynamoDB Local's answers are readable here. */
const NOT_FORWARDED = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'accept-encoding']);
const NOT_RETURNED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);
// Longer than any SDK keeps an idle socket between calls, so a client rarely reuses a socket the server just closed.
const KEEP_ALIVE_MS = 65_000;

function withoutHeaders(headers: IncomingHttpHeaders, left: ReadonlySet<string>): OutgoingHttpHeaders {
  const kept: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!left.has(name)) kept[name] = value;
  return kept;
}

function readBody(incoming: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks)));
    incoming.on('error', reject);
    // Gone before the end (a client's timeout): after 'end' this is a no-op.
    incoming.on('close', () => reject(new Error('connection closed before the body ended')));
  });
}

/** The parsed body of a modelled operation; undefined when it is no JSON object (DynamoDB Local then says why). */
function parsedInput(body: Buffer): unknown {
  try {
    const input: unknown = JSON.parse(body.toString('utf8'));
    return typeof input === 'object' && input !== null ? input : undefined;
  } catch {
    return undefined;
  }
}

function send(response: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: Buffer | string) {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  response.writeHead(status, { ...headers, 'content-length': bytes.length });
  response.end(bytes);
}

function sendError(response: ServerResponse, status: number, type: string, body: string) {
  send(
    response,
    status,
    { 'content-type': JSON_1_0, 'x-amzn-requestid': randomUUID(), 'x-amzn-errortype': type },
    body,
  );
}

export async function startContentionEndpoint(
  options: ContentionEndpointOptions,
): Promise<ContentionEndpoint> {
  const upstream = new URL(options.upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const usage = new Usage();
  let model: ContentionModel | undefined = new ContentionModel(validated(options.params), usage);

  const forwardOnce = (incoming: IncomingMessage, body: Buffer) =>
    new Promise<Upstream & { reused: boolean }>((resolve, reject) => {
      const outgoing = request(
        {
          protocol: upstream.protocol,
          hostname: upstream.hostname,
          port: upstream.port,
          method: incoming.method,
          path: incoming.url,
          headers: { ...withoutHeaders(incoming.headers, NOT_FORWARDED), 'content-length': body.length },
          agent,
        },
        (answer) => {
          readBody(answer).then(
            (answerBody) =>
              resolve({
                status: answer.statusCode ?? 500,
                headers: answer.headers,
                body: answerBody,
                reused: false,
              }),
            reject,
          );
        },
      );
      outgoing.on('error', (error) => reject(Object.assign(error, { reused: outgoing.reusedSocket })));
      outgoing.end(body);
    });

  // DynamoDB Local may close an idle kept-alive socket just as it is reused: that request never reached it, so it
  // is sent once more on a fresh socket (Node's documented pattern) rather than failed.
  const forward = async (incoming: IncomingMessage, body: Buffer): Promise<Upstream> => {
    usage.forwarded++;
    try {
      return await forwardOnce(incoming, body);
    } catch (error) {
      const { reused, code } = error as { reused?: boolean; code?: string };
      if (reused && code === 'ECONNRESET') return forwardOnce(incoming, body);
      throw error;
    }
  };

  const serveDynamo = async (incoming: IncomingMessage, response: ServerResponse) => {
    const body = await readBody(incoming);
    const target = incoming.headers['x-amz-target'];
    const operation =
      typeof target === 'string' && target.startsWith(TARGET_PREFIX)
        ? target.slice(TARGET_PREFIX.length)
        : '';
    const input = model && MODELLED_OPERATIONS.has(operation) ? parsedInput(body) : undefined;
    const call = () => forward(incoming, body);
    try {
      const answer = model && input !== undefined ? await model.handle(operation, input, call) : await call();
      send(response, answer.status, withoutHeaders(answer.headers, NOT_RETURNED), answer.body);
    } catch (error) {
      if (error instanceof Refusal) {
        sendError(response, 400, error.type, error.wireBody());
        return;
      }
      // DynamoDB Local unreachable: a 500, which SDKs retry as transient, as they would the service's own.
      const message = error instanceof Error ? error.message : String(error);
      sendError(
        response,
        500,
        'InternalServerError',
        JSON.stringify({
          __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
          message: `contention endpoint: upstream ${upstream.origin} failed: ${message}`,
        }),
      );
    }
  };

  const handle: ContentionEndpoint = {
    endpoint: '',
    get params() {
      return model?.params;
    },
    stats: () => usage.snapshot(),
    reset: () => usage.reset(),
    setParams: (params) => {
      model = params ? new ContentionModel(validated(params), usage) : undefined;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };

  const serveControl = async (incoming: IncomingMessage, response: ServerResponse, path: string) => {
    const json = { 'content-type': 'application/json' };
    if (path === STATS_PATH && incoming.method === 'GET') {
      send(response, 200, json, JSON.stringify({ params: handle.params ?? null, ...handle.stats() }));
    } else if (path === RESET_PATH && incoming.method === 'POST') {
      handle.reset();
      send(response, 204, {}, '');
    } else if (path === PARAMS_PATH && incoming.method === 'PUT') {
      try {
        const params = JSON.parse((await readBody(incoming)).toString('utf8')) as ContentionParams | null;
        handle.setParams(params ?? undefined);
        send(response, 200, json, JSON.stringify({ params: handle.params ?? null }));
      } catch (error) {
        send(
          response,
          400,
          json,
          JSON.stringify({ error: error instanceof Error ? error.message : 'bad params' }),
        );
      }
    } else {
      send(response, 404, json, JSON.stringify({ error: `no route ${incoming.method} ${path}` }));
    }
  };

  const server = createServer({ keepAliveTimeout: KEEP_ALIVE_MS }, (incoming, response) => {
    const path = (incoming.url ?? '/').split('?')[0] ?? '/';
    const served = path.startsWith('/__contention/')
      ? serveControl(incoming, response, path)
      : serveDynamo(incoming, response);
    served.catch(() => {
      // The client went away mid-answer (an SDK timeout): nothing left to tell it.
      response.destroy();
    });
  });
  server.headersTimeout = KEEP_ALIVE_MS + 1_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  handle.endpoint = `http://${host}:${port}`;
  return handle;
}

/**
 * Whether `url` is already a contention endpoint (its stats route answers): a process handed one as its DynamoDB
 * endpoint (a test's npm start) uses it as it is rather than stacking a second model in front of it.
 */
export async function isContentionEndpoint(url: string): Promise<boolean> {
  try {
    const answer = await fetch(new URL(STATS_PATH, url), { signal: AbortSignal.timeout(2_000) });
    await answer.body?.cancel();
    return answer.ok;
  } catch {
    return false;
  }
}
