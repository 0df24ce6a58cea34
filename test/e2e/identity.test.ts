// Buyer identity over real HTTP: the local gateway checks bearer tokens on the buyer routes the way API Gateway's JWT
// authorizer does, against a local issuer the test starts, and hands the function API Gateway's authorizer context.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { decodeJwt, importJWK, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, type LambdaHandler, loadHandler, startGateway } from '../../infra/local/gateway.ts';
import { type LocalIssuer, startLocalIssuer } from '../../infra/local/issuer.ts';
import { routes } from '../../infra/routes.ts';
import { customerOf } from '../../shared/http/identity.ts';
import { type ApiClient, apiClient, dataOf, errorOf } from '../support/http.ts';
import { collectOutput } from '../support/processes.ts';

const AUDIENCE = 'flash-sale-e2e';
const TSX = join(process.cwd(), 'node_modules/tsx/dist/cli.mjs');

/** Every event a function received, with the entry it was for: what the gateway handed over, and whether it ran. */
const calls: Array<{ entry: string; event: APIGatewayProxyEventV2 }> = [];
const recording = async (entry: string): Promise<LambdaHandler> => {
  const real = await loadHandler(entry);
  return (event, context) => {
    calls.push({ entry, event: event as APIGatewayProxyEventV2 });
    return real(event, context);
  };
};
const lastEvent = () => {
  const call = calls.at(-1);
  if (!call) throw new Error('no function ran');
  return call.event;
};

let stateDir: string;
let issuer: LocalIssuer;
let gateway: Gateway;
let anonymousGateway: Gateway;
let api: ApiClient;
let anonymous: ApiClient;
const PRODUCT = 'id-e2e';

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'identity-e2e-'));
  issuer = await startLocalIssuer({
    port: 0,
    keyFile: join(stateDir, 'identity', 'signing-key.json'),
    audience: AUDIENCE,
  });
  gateway = await startGateway({
    port: 0,
    load: recording,
    identity: { issuer: issuer.url, audiences: ['another-app', AUDIENCE] },
  });
  anonymousGateway = await startGateway({ port: 0, load: recording });
  api = apiClient(gateway.url);
  anonymous = apiClient(anonymousGateway.url);
  const product = await api.put(`/api/admin/products/${PRODUCT}`, { name: 'Id', price: '5.00', stock: 1000 });
  expect(product.status).toBe(201);
});
afterAll(async () => {
  await gateway?.close();
  await anonymousGateway?.close();
  await issuer?.close();
  await rm(stateDir, { recursive: true, force: true });
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const holdBody = { product_id: PRODUCT, qty: 1 };

/** The buyer routes of the route table, each with a request that would succeed or fail in the function. */
const buyerRequests: Array<
  [string, (client: ApiClient, headers?: Record<string, string>) => ReturnType<ApiClient['get']>]
> = [
  ['POST /api/holds', (client, headers) => client.post('/api/holds', holdBody, headers)],
  ['POST /api/orders', (client, headers) => client.post('/api/orders', { hold_id: 'no-such-hold' }, headers)],
  ['GET /api/orders/{id}', (client, headers) => client.get('/api/orders/no-such-order', headers)],
];

describe('with identity on (a local issuer)', () => {
  it('marks exactly the three buyer routes of the route table', () => {
    const buyer = routes.filter((route) => 'identity' in route && route.identity === 'buyer');
    expect(buyer.map((route) => `${route.method} ${route.path}`).sort()).toEqual(
      buyerRequests.map(([name]) => name).sort(),
    );
  });

  it("lets a valid token through and hands the function API Gateway's authorizer context with its sub", async () => {
    const token = await issuer.mint('alice');

    const hold = await api.post('/api/holds', holdBody, bearer(token));

    expect(hold.status).toBe(201);
    const event = lastEvent();
    const { iat, exp, jti } = decodeJwt(token);
    expect(event.requestContext).toMatchObject({
      authorizer: {
        jwt: {
          claims: {
            sub: 'alice',
            iss: issuer.url,
            aud: AUDIENCE,
            iat: String(iat),
            exp: String(exp),
            jti,
          },
          scopes: null,
        },
      },
    });
    expect(customerOf(event)).toBe('alice');
    // The function still sees the header, as behind API Gateway.
    expect(event.headers.authorization).toBe(`Bearer ${token}`);
  });

  it('takes a hold to an order and reads it back with the same token', async () => {
    const token = await issuer.mint('bob');
    const hold = await api.post('/api/holds', holdBody, bearer(token));
    const holdId = String(dataOf(hold).hold_id);

    const order = await api.post('/api/orders', { hold_id: holdId }, bearer(token));
    const read = await api.get(`/api/orders/${holdId}`, bearer(token));

    expect(order.status).toBe(201);
    expect(read.status).toBe(200);
    expect(dataOf(read)).toMatchObject({ order_id: holdId, status: 'pending' });
    expect(customerOf(lastEvent())).toBe('bob');
  });

  it.each(buyerRequests)(
    'answers %s without a token with 401 AUTHENTICATION_REQUIRED, running nothing',
    async (_, send) => {
      const before = calls.length;

      const response = await send(api);

      expect(response.status).toBe(401);
      expect(errorOf(response).code).toBe('AUTHENTICATION_REQUIRED');
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(calls.length).toBe(before);
    },
  );

  it.each([
    ['Basic', 'Basic YWxpY2U6c2VjcmV0'],
    ['an empty Bearer', 'Bearer '],
    ['a lower-case scheme', 'bearer <token>'],
    ['a bare token', '<token>'],
  ])('treats %s authorization as no bearer token: 401 AUTHENTICATION_REQUIRED', async (_, header) => {
    const token = await issuer.mint('carol');
    const before = calls.length;

    const response = await api.post('/api/holds', holdBody, {
      authorization: header.replace('<token>', token),
    });

    expect(response.status).toBe(401);
    expect(errorOf(response).code).toBe('AUTHENTICATION_REQUIRED');
    expect(calls.length).toBe(before);
  });

  it('answers a forged, expired or foreign token with 401 INVALID_TOKEN and WWW-Authenticate invalid_token', async () => {
    const valid = await issuer.mint('dave');
    const [head, body] = valid.split('.');
    const tampered = `${head}.${body}.${'A'.repeat(342)}`;
    const expired = await issuer.mint('dave', { now: new Date(Date.now() - 2 * 3600_000) });
    const before = calls.length;

    for (const token of [tampered, expired, 'not-a-jwt', `${valid}x`]) {
      const response = await api.get('/api/orders/no-such-order', bearer(token));

      expect(response.status, token).toBe(401);
      expect(errorOf(response)).toEqual({ code: 'INVALID_TOKEN', message: 'The bearer token is not valid' });
      expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    }
    expect(calls.length).toBe(before);
  });

  it('gives every claim as a string, arrays in [a b] form, null claims left out, scopes null', async () => {
    const token = await issuer.mint('erin', {
      claims: {
        email_verified: true,
        'cognito:groups': ['admin', 'vip'],
        level: 3,
        ratio: 0.5,
        address: { country: 'JP' },
        nickname: null,
        scope: 'orders/read orders/write',
      },
    });

    const response = await api.get('/api/orders/no-such-order', bearer(token));

    expect(errorOf(response).code).toBe('ORDER_NOT_FOUND');
    const { claims, scopes } = (
      lastEvent().requestContext as { authorizer?: { jwt?: Record<string, unknown> } }
    ).authorizer?.jwt ?? { claims: undefined };
    expect(claims).toMatchObject({
      sub: 'erin',
      email_verified: 'true',
      'cognito:groups': '[admin vip]',
      level: '3',
      ratio: '0.5',
      address: '{"country":"JP"}',
      scope: 'orders/read orders/write',
    });
    expect(claims).not.toHaveProperty('nickname');
    expect(Object.values(claims as object).every((value) => typeof value === 'string')).toBe(true);
    expect(scopes).toBeNull();
  });

  it('accepts an access token without aud whose client_id is an accepted audience, as API Gateway does', async () => {
    const key = await importJWK(issuer.key.privateJwk, 'RS256');
    const accessToken = (claims: Record<string, unknown>) =>
      new SignJWT({ sub: 'frank', token_use: 'access', ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: issuer.key.kid })
        .setIssuer(issuer.url)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(key);

    const withClientId = await api.get('/api/orders/x', bearer(await accessToken({ client_id: AUDIENCE })));
    // With an aud, API Gateway judges the aud alone.
    const wrongAud = await api.get(
      '/api/orders/x',
      bearer(await accessToken({ client_id: AUDIENCE, aud: 'someone-else' })),
    );
    const neither = await api.get('/api/orders/x', bearer(await accessToken({ client_id: 'someone-else' })));

    expect(errorOf(withClientId).code).toBe('ORDER_NOT_FOUND');
    expect(errorOf(wrongAud).code).toBe('INVALID_TOKEN');
    expect(errorOf(neither).code).toBe('INVALID_TOKEN');
  });

  it('accepts any of several audiences, and an aud array containing one', async () => {
    const key = await importJWK(issuer.key.privateJwk, 'RS256');
    const token = await new SignJWT({ sub: 'gina' })
      .setProtectedHeader({ alg: 'RS256', kid: issuer.key.kid })
      .setIssuer(issuer.url)
      .setAudience(['unrelated', 'another-app'])
      .setExpirationTime('5m')
      .sign(key);

    const response = await api.get('/api/orders/x', bearer(token));

    expect(errorOf(response).code).toBe('ORDER_NOT_FOUND');
    expect(lastEvent().requestContext).toMatchObject({
      authorizer: { jwt: { claims: { aud: '[unrelated another-app]' } } },
    });
  });

  it('never asks for a token on the other routes (health, product, admin, webhook), even a broken one', async () => {
    const before = calls.length;
    const variants: Array<Record<string, string>> = [{}, { authorization: 'Bearer not-a-jwt' }];
    for (const headers of variants) {
      const health = await api.get('/api/health', headers);
      const product = await api.get(`/api/products/${PRODUCT}`, headers);
      const admin = await api.put(
        `/api/admin/products/${PRODUCT}-2`,
        { name: 'Other', price: '1.00', stock: 1 },
        headers,
      );
      const webhook = await api.post(
        '/api/payments/webhook',
        { idempotency_key: `evt-${Math.random()}`, order_id: 'not-yet', status: 'failure' },
        headers,
      );

      expect(health.status).toBe(200);
      expect(product.status).toBe(200);
      expect([200, 201]).toContain(admin.status);
      expect(webhook.status).toBe(202);
    }
    expect(calls.length).toBe(before + 8);
    expect(calls.slice(before).every(({ event }) => !('authorizer' in event.requestContext))).toBe(true);
  });

  it('answers 401 INVALID_TOKEN when the issuer cannot be reached, and runs nothing', async () => {
    const closedPort = await freePort();
    const unreachable = `http://127.0.0.1:${closedPort}`;
    const orphan = await startGateway({
      port: 0,
      load: recording,
      identity: { issuer: unreachable, audiences: [AUDIENCE] },
    });
    try {
      const token = await issuer.mint('hank');
      const before = calls.length;

      const response = await apiClient(orphan.url).get('/api/orders/x', bearer(token));

      expect(response.status).toBe(401);
      expect(errorOf(response).code).toBe('INVALID_TOKEN');
      expect(calls.length).toBe(before);
    } finally {
      await orphan.close();
    }
  });

  it('keeps its key across a restart, so tokens minted before it still work', async () => {
    const keyFile = join(stateDir, 'restart', 'signing-key.json');
    const first = await startLocalIssuer({ port: 0, keyFile, audience: AUDIENCE });
    const port = new URL(first.url).port;
    const token = await first.mint('ivy');
    await first.close();

    const second = await startLocalIssuer({ port: Number(port), keyFile, audience: AUDIENCE });
    const fresh = await startGateway({
      port: 0,
      load: recording,
      identity: { issuer: second.url, audiences: [AUDIENCE] },
    });
    try {
      const response = await apiClient(fresh.url).get('/api/orders/x', bearer(token));

      expect(second.key.kid).toBe(first.key.kid);
      expect(errorOf(response).code).toBe('ORDER_NOT_FOUND');
    } finally {
      await fresh.close();
      await second.close();
    }
  });
});

describe('with identity off', () => {
  it('keeps the buyer routes anonymous: no token needed, no authorizer in the event', async () => {
    const hold = await anonymous.post('/api/holds', holdBody);
    const holdId = String(dataOf(hold).hold_id);
    const holdEvent = lastEvent();
    const order = await anonymous.post('/api/orders', { hold_id: holdId });
    const read = await anonymous.get(`/api/orders/${holdId}`);

    expect([hold.status, order.status, read.status]).toEqual([201, 201, 200]);
    expect(holdEvent.requestContext).not.toHaveProperty('authorizer');
    expect(customerOf(holdEvent)).toBeUndefined();
  });

  it('does not look at a token either', async () => {
    const response = await anonymous.get('/api/orders/no-such-order', bearer('not-a-jwt'));

    expect(errorOf(response).code).toBe('ORDER_NOT_FOUND');
    expect(lastEvent().requestContext).not.toHaveProperty('authorizer');
  });
});

// ---- npm run token and npm start -- --identity ----------------------------------------------------------------

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function run(script: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [TSX, script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const output = collectOutput(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited };
}

/** A port nothing listens on (it was free a moment ago). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host: '127.0.0.1' }, () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('npm run token', () => {
  it("prints just a token from the running instance's local issuer, which the gateway accepts", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'token-cli-'));
    try {
      await writeFile(
        join(dir, 'instance.json'),
        JSON.stringify({
          endpoint: 'http://127.0.0.1:1',
          table: 'unused',
          api: gateway.url,
          pid: process.pid,
          started_at: new Date().toISOString(),
          identity: {
            issuer: issuer.url,
            audiences: [AUDIENCE],
            key_file: join(stateDir, 'identity', 'signing-key.json'),
          },
        }),
      );
      const script = run('scripts/token.ts', ['--sub', 'judy', '--ttl', '10m'], {
        ...process.env,
        LOCAL_STATE_DIR: dir,
      });

      expect(await script.exited).toBe(0);
      const { stdout } = script.output();
      expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
      const token = stdout.trim();
      const claims = decodeJwt(token);
      expect(claims).toMatchObject({ sub: 'judy', iss: issuer.url, aud: AUDIENCE });
      expect(Number(claims.exp) - Number(claims.iat)).toBe(600);
      const response = await api.get('/api/orders/x', bearer(token));
      expect(errorOf(response).code).toBe('ORDER_NOT_FOUND');
      expect(customerOf(lastEvent())).toBe('judy');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says in one line why it cannot, exit 2: no running instance, or no --sub', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'token-cli-'));
    try {
      const none = run('scripts/token.ts', ['--sub', 'kim'], { ...process.env, LOCAL_STATE_DIR: dir });
      const noSub = run('scripts/token.ts', [], { ...process.env, LOCAL_STATE_DIR: dir });

      expect(await none.exited).toBe(2);
      expect(await noSub.exited).toBe(2);
      expect(none.output().stderr.trim().split('\n')).toEqual([
        'token: no running npm start found: start one with its local issuer: npm start -- --identity',
      ]);
      expect(noSub.output().stderr.trim()).toBe('token: say whose token: --sub <id> (see --help)');
      expect(none.output().stdout).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('npm start -- --identity', () => {
  it('runs a local issuer, prints it and the token command, and requires its tokens on buyer routes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'start-identity-'));
    const env = { ...process.env, LOCAL_STATE_DIR: dir };
    try {
      const started = run('infra/local/start.ts', ['--identity'], {
        ...env,
        PORT: '0',
        TABLE_NAME: `${process.env.TABLE_NAME}-identity`,
        EXPIRY_SWEEP_SECONDS: '0',
      });
      const url = await new Promise<string>((resolve, reject) => {
        const check = () => {
          const { stdout } = started.output();
          const match = /listening on (http:\/\/\S+)/.exec(stdout);
          if (match?.[1] && stdout.includes('Ctrl-C stops everything')) resolve(match[1]);
        };
        started.child.stdout?.on('data', check);
        void started.exited.then(() => reject(new Error(`exited: ${JSON.stringify(started.output())}`)));
      });
      const { stdout } = started.output();
      expect(stdout).toMatch(
        /buyer identity on: .* local issuer http:\/\/127\.0\.0\.1:\d+ \(audience flash-sale-local\)/,
      );
      expect(stdout).toContain('TOKEN=$(npm --silent run token -- --sub alice)');
      expect(stdout).toContain(`-H "authorization: Bearer $TOKEN" -d '{"product_id":1,"qty":2}'`);

      const script = run('scripts/token.ts', ['--sub', 'alice'], env);
      expect(await script.exited).toBe(0);
      const token = script.output().stdout.trim();
      const client = apiClient(url);
      const without = await client.post('/api/holds', { product_id: 1, qty: 1 });
      const withToken = await client.post('/api/holds', { product_id: 1, qty: 1 }, bearer(token));
      const product = await client.get('/api/products/1');

      expect(errorOf(without).code).toBe('AUTHENTICATION_REQUIRED');
      expect(withToken.status).toBe(201);
      expect(product.status).toBe(200);
      started.child.kill('SIGINT');
      expect(await started.exited).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
