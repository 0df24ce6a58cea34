// Fuzzed bearer tokens against the buyer routes of the local gateway with identity on: whatever is wrong with a token
// (its form, its signature, its key, its algorithm, its times, its issuer or audience), the answer is 401 in the
// error envelope with WWW-Authenticate, no function runs and nothing reaches DynamoDB.
import {
  constants,
  createHmac,
  createPrivateKey,
  createPublicKey,
  type JsonWebKeyInput,
  sign,
} from 'node:crypto';
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, type LambdaHandler, loadHandler, startGateway } from '../../infra/local/gateway.ts';
import {
  generateSigningKey,
  type LocalIssuer,
  type SigningKey,
  startLocalIssuer,
} from '../../infra/local/issuer.ts';
import { countCommandsTouching, productWithStock } from '../support/fixtures.ts';
import { readEnvelope } from '../support/http.ts';
import { fuzzRuns } from './harness.ts';

const AUDIENCE = 'flash-sale-fuzz';

let issuer: LocalIssuer;
/** Another issuer with its own keys: its tokens are well made, just not ours. */
let foreign: LocalIssuer;
/** A key nobody publishes. */
let stray: SigningKey;
let gateway: Gateway;
let product: string;
let calls = 0;
let lastEvent: APIGatewayProxyEventV2WithJWTAuthorizer | undefined;

const counting = async (entry: string): Promise<LambdaHandler> => {
  const real = await loadHandler(entry);
  return (event, context) => {
    calls += 1;
    lastEvent = event as APIGatewayProxyEventV2WithJWTAuthorizer;
    return real(event, context);
  };
};

beforeAll(async () => {
  [issuer, foreign, stray] = await Promise.all([
    generateSigningKey().then((key) => startLocalIssuer({ port: 0, key, audience: AUDIENCE })),
    generateSigningKey().then((key) => startLocalIssuer({ port: 0, key, audience: AUDIENCE })),
    generateSigningKey(),
  ]);
  gateway = await startGateway({
    port: 0,
    load: counting,
    identity: { issuer: issuer.url, audiences: [AUDIENCE] },
  });
  product = await productWithStock(50);
});
afterAll(async () => {
  await gateway?.close();
  await Promise.all([issuer?.close(), foreign?.close()]);
});

// ---- the requests ---------------------------------------------------------------------------------------------

type Route = 'POST /api/holds' | 'POST /api/orders' | 'GET /api/orders/{id}';
const buyerRoute = fc.constantFrom<Route>('POST /api/holds', 'POST /api/orders', 'GET /api/orders/{id}');

function send(route: Route, authorization: string | undefined): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization !== undefined) headers.authorization = authorization;
  if (route === 'GET /api/orders/{id}') return fetch(`${gateway.url}/api/orders/fz-order`, { headers });
  const [path, body] =
    route === 'POST /api/holds'
      ? ['/api/holds', { product_id: product, qty: 1 }]
      : ['/api/orders', { hold_id: 'fz-hold' }];
  return fetch(`${gateway.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
}

const WWW_AUTHENTICATE = {
  AUTHENTICATION_REQUIRED: 'Bearer',
  INVALID_TOKEN: 'Bearer error="invalid_token"',
} as const;

/** 401 with `code` in the envelope and its WWW-Authenticate, and no function ran. */
async function expectRefused(
  route: Route,
  authorization: string | undefined,
  code: keyof typeof WWW_AUTHENTICATE,
): Promise<void> {
  const before = calls;
  const response = await send(route, authorization);
  const label = `${route} with Authorization ${JSON.stringify(authorization)}`;
  const body = await readEnvelope(response, label);
  expect({ status: response.status, body }, label).toEqual({
    status: 401,
    body: { success: false, error: { code, message: expect.any(String) } },
  });
  expect(response.headers.get('www-authenticate'), label).toBe(WWW_AUTHENTICATE[code]);
  expect(calls, `${label}: the function ran`).toBe(before);
}

/** Runs `property` with a count of every DynamoDB command sent meanwhile, which must stay at none. */
async function withoutDynamoCalls(property: () => Promise<void>): Promise<void> {
  const commands = countCommandsTouching('');
  try {
    await property();
  } finally {
    commands.stop();
  }
  expect(commands.counts, 'DynamoDB commands sent while refusing tokens').toEqual({});
}

const refuses = (arbitrary: fc.Arbitrary<string>, code: keyof typeof WWW_AUTHENTICATE = 'INVALID_TOKEN') =>
  withoutDynamoCalls(() =>
    fc.assert(
      fc.asyncProperty(buyerRoute, arbitrary, (route, token) =>
        expectRefused(route, `Bearer ${token}`, code),
      ),
      { numRuns: fuzzRuns },
    ),
  );

// ---- making tokens by hand ------------------------------------------------------------------------------------

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Claims that would pass, fresh for each token. */
const goodClaims = (): Record<string, unknown> => ({
  iss: issuer.url,
  aud: AUDIENCE,
  sub: 'fuzz-buyer',
  iat: nowSeconds(),
  exp: nowSeconds() + 600,
});
const goodHeader = (key: SigningKey = issuer.key): Record<string, unknown> => ({
  alg: 'RS256',
  kid: key.kid,
  typ: 'JWT',
});

type RsaAlg = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512';

/** `header.payload.signature` with the segments as given (text or JSON), signed by `key` with `alg`. */
function signed(
  header: unknown,
  payload: unknown,
  key: SigningKey = issuer.key,
  alg: RsaAlg = 'RS256',
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const privateKey = createPrivateKey({ key: key.privateJwk as JsonWebKeyInput['key'], format: 'jwk' });
  const hash = `sha${alg.slice(2)}`;
  const signature = alg.startsWith('PS')
    ? sign(hash, Buffer.from(input), {
        key: privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: Number(alg.slice(2)) / 8,
      })
    : sign(hash, Buffer.from(input), privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

/** A well-made token from our issuer, to take apart. */
const goodToken = () => signed(goodHeader(), goodClaims());

// ---- arbitraries ----------------------------------------------------------------------------------------------

const PRINTABLE = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i));
/** Printable ASCII with inner spaces: what an HTTP header value can carry (its ends are trimmed on the wire). */
const headerText = (maxLength = 300) =>
  fc
    .string({ unit: fc.constantFrom(...PRINTABLE, ' '), minLength: 1, maxLength })
    .map((text) => text.trim())
    .filter((text) => text !== '');
const base64urlText = fc.string({
  unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'),
  maxLength: 60,
});
/** JSON that is not an object: a header or claims set must be one. */
const notAnObject = fc.oneof(
  fc.constantFrom('[]', '[{}]', '1', '"x"', 'null', 'true', '{', '{"alg":"RS256"', '', ' ', '\u0000', '{}}'),
  fc.string({ maxLength: 40 }).filter((text) => {
    try {
      const value: unknown = JSON.parse(text);
      return value === null || typeof value !== 'object' || Array.isArray(value);
    } catch {
      return true;
    }
  }),
);
const otherString = fc.string({ maxLength: 40 }).filter((text) => text !== AUDIENCE);

describe('malformed tokens', () => {
  it('refuses random text as a bearer token', () => refuses(headerText()));

  it('refuses any Authorization header that is not Bearer <valid token>, with the right code', () =>
    withoutDynamoCalls(() =>
      fc.assert(
        fc.asyncProperty(buyerRoute, fc.option(headerText(), { nil: undefined }), (route, header) =>
          expectRefused(
            route,
            header,
            header !== undefined && /^Bearer +\S/.test(header) ? 'INVALID_TOKEN' : 'AUTHENTICATION_REQUIRED',
          ),
        ),
        { numRuns: fuzzRuns },
      ),
    ));

  it('refuses a token with other than three segments', () =>
    refuses(
      fc
        .array(fc.oneof(base64urlText, fc.constantFrom(...goodToken().split('.'))), { maxLength: 6 })
        .filter((segments) => segments.length !== 3)
        .map((segments) => segments.join('.'))
        .filter((token) => token !== ''),
    ));

  it('refuses a token with a character outside base64url, or padding, in any segment', () =>
    refuses(
      fc
        .record({
          segment: fc.integer({ min: 0, max: 2 }),
          at: fc.nat(),
          char: fc.constantFrom('+', '/', '=', '==', '!', '*', '~', '%', ' ', '\t', ',', ':', '"', '\\'),
        })
        .map(({ segment, at, char }) => {
          const parts = goodToken().split('.');
          const target = parts[segment] ?? '';
          // Whitespace at either end of the header value is trimmed on the wire (OWS): keep it inside the segment.
          const blank = char.trim() === '';
          const position = blank ? 1 + (at % (target.length - 1)) : at % (target.length + 1);
          parts[segment] = `${target.slice(0, position)}${char}${target.slice(position)}`;
          return parts.join('.');
        }),
    ));

  it('refuses a header or claims set that is not a JSON object, even when properly signed', () =>
    refuses(
      fc
        .record({ part: fc.constantFrom('header', 'payload'), text: notAnObject })
        .map(({ part, text }) =>
          part === 'header' ? signed(text, goodClaims()) : signed(goodHeader(), text),
        ),
    ));
});

describe('signatures, keys and algorithms', () => {
  it('refuses alg none, with or without a signature', () =>
    refuses(
      fc
        .record({
          alg: fc.constantFrom('none', 'None', 'NONE', 'nOnE'),
          signature: fc.oneof(fc.constant(''), base64urlText),
        })
        .map(({ alg, signature }) => `${b64({ ...goodHeader(), alg })}.${b64(goodClaims())}.${signature}`),
    ));

  it('refuses HMAC tokens keyed with the public key (key confusion)', () =>
    refuses(
      fc
        .record({
          alg: fc.constantFrom('HS256', 'HS384', 'HS512'),
          secret: fc.constantFrom<() => Buffer | string>(
            () => JSON.stringify(issuer.key.publicJwk),
            () =>
              createPublicKey({ key: issuer.key.publicJwk as JsonWebKeyInput['key'], format: 'jwk' }).export({
                type: 'spki',
                format: 'pem',
              }),
            () =>
              createPublicKey({ key: issuer.key.publicJwk as JsonWebKeyInput['key'], format: 'jwk' }).export({
                type: 'pkcs1',
                format: 'pem',
              }),
            () => Buffer.from(String(issuer.key.publicJwk.n), 'base64url'),
            () => String(issuer.key.publicJwk.n),
          ),
        })
        .map(({ alg, secret }) => {
          const input = `${b64({ ...goodHeader(), alg })}.${b64(goodClaims())}`;
          const mac = createHmac(`sha${alg.slice(2)}`, secret())
            .update(input)
            .digest('base64url');
          return `${input}.${mac}`;
        }),
    ));

  it('refuses other RSA algorithms even with the right key: RS256 only', () =>
    refuses(
      fc
        .constantFrom<RsaAlg>('RS384', 'RS512', 'PS256', 'PS384', 'PS512')
        .map((alg) => signed({ ...goodHeader(), alg }, goodClaims(), issuer.key, alg)),
    ));

  it('refuses a kid that is not in the key set, or no kid at all', () =>
    refuses(
      fc
        .option(
          fc.oneof(
            fc.string({ maxLength: 50 }).filter((kid) => kid !== issuer.key.kid),
            fc.constant(foreign.key.kid),
            fc.constant(`${issuer.key.kid}x`),
          ),
          { nil: undefined },
        )
        .map((kid) => {
          const { kid: _kid, ...header } = goodHeader();
          return signed(kid === undefined ? header : { ...header, kid }, goodClaims());
        }),
    ));

  it('refuses a token signed by a key the issuer does not publish, whatever kid it names', () =>
    refuses(
      fc
        .constantFrom(issuer.key.kid, stray.kid, foreign.key.kid)
        .map((kid) => signed({ ...goodHeader(), kid }, goodClaims(), stray)),
    ));

  it('refuses a token whose signature belongs to another token', () =>
    refuses(
      fc
        .record({ sub: fc.string({ maxLength: 20 }), other: fc.string({ maxLength: 20 }) })
        .map(({ sub, other }) => {
          const [head, body] = signed(goodHeader(), { ...goodClaims(), sub }).split('.');
          const [, , signature] = signed(goodHeader(), { ...goodClaims(), sub: `${other}-other` }).split('.');
          return `${head}.${body}.${signature}`;
        }),
    ));
});

describe('times', () => {
  it('refuses an expired token, including one expiring this very second (no leeway)', () =>
    refuses(
      fc
        .integer({ min: 0, max: 10_000_000 })
        .map((ago) => signed(goodHeader(), { ...goodClaims(), exp: nowSeconds() - ago })),
    ));

  it('refuses a token not valid yet (nbf in the future)', () =>
    refuses(
      fc
        .integer({ min: 5, max: 10_000_000 })
        .map((ahead) => signed(goodHeader(), { ...goodClaims(), nbf: nowSeconds() + ahead })),
    ));

  it('refuses a token without exp, or with a time that is not a number', () =>
    refuses(
      fc
        .oneof(
          fc.constant({ exp: undefined }),
          fc.record({ exp: fc.constantFrom('9999999999', null, true, [9999999999], {}) }),
          fc.record({ nbf: fc.constantFrom('0', null, false) }),
        )
        .map((times) => {
          const claims: Record<string, unknown> = { ...goodClaims(), ...times };
          if (claims.exp === undefined) delete claims.exp;
          return signed(goodHeader(), claims);
        }),
    ));
});

describe('issuer and audience', () => {
  it("refuses a foreign issuer's tokens (its own keys and iss)", () =>
    refuses(
      fc
        .string({ minLength: 1, maxLength: 30 })
        .map((sub) =>
          signed(goodHeader(foreign.key), { ...goodClaims(), iss: foreign.url, sub }, foreign.key),
        ),
    ));

  it('refuses a token with our keys but another iss, or none', () =>
    refuses(
      fc
        .option(
          fc.oneof(
            fc.constant(foreign.url),
            fc.constant(`${issuer.url}/`),
            fc.constant(issuer.url.replace('127.0.0.1', 'localhost')),
            fc.constant(issuer.url.toUpperCase()),
            fc.constant(` ${issuer.url}`),
            fc.webUrl(),
            fc.string({ maxLength: 40 }),
          ),
          { nil: undefined },
        )
        .filter((iss) => iss !== issuer.url)
        .map((iss) => {
          const { iss: _iss, ...claims } = goodClaims();
          return signed(goodHeader(), iss === undefined ? claims : { ...claims, iss });
        }),
    ));

  it('refuses a token for another audience: wrong aud, none, or a wrong client_id without aud', () =>
    refuses(
      fc
        .oneof(
          otherString.map((aud) => ({ aud })),
          fc.array(otherString, { maxLength: 4 }).map((aud) => ({ aud })),
          fc.constantFrom(
            { aud: 1 },
            { aud: null },
            { aud: { AUDIENCE } },
            { aud: [[AUDIENCE]] },
            { aud: AUDIENCE.toUpperCase() },
          ),
          fc.record({ aud: otherString, client_id: fc.constant(AUDIENCE) }),
          fc
            .option(otherString, { nil: undefined })
            .map((clientId) => ({ aud: undefined, client_id: clientId })),
        )
        .map((audience) => {
          const claims: Record<string, unknown> = { ...goodClaims(), ...audience };
          for (const name of ['aud', 'client_id']) if (claims[name] === undefined) delete claims[name];
          return signed(goodHeader(), claims);
        }),
    ));
});

describe('the control', () => {
  it('lets every well-made token through, its claims reaching the function as strings', async () => {
    const reached = calls;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.dictionary(
          fc
            .string({ minLength: 1, maxLength: 12 })
            .filter((name) => !['iss', 'aud', 'sub', 'exp', 'nbf', 'iat'].includes(name)),
          fc.jsonValue({ maxDepth: 2 }),
          { maxKeys: 5 },
        ),
        async (sub, extra) => {
          runs += 1;
          const payload = { ...extra, ...goodClaims(), sub };
          const response = await send('GET /api/orders/{id}', `Bearer ${signed(goodHeader(), payload)}`);
          const label = `claims ${JSON.stringify(payload)}`;
          const body = await readEnvelope(response, label);
          expect({ status: response.status, body }, label).toMatchObject({
            status: 404,
            body: { error: { code: 'ORDER_NOT_FOUND' } },
          });
          const { claims, scopes } = lastEvent?.requestContext.authorizer.jwt ?? {};
          // What the token carried, as JSON carries it; API Gateway leaves null claims out.
          const sent = Object.entries(JSON.parse(JSON.stringify(payload)) as Record<string, unknown>).filter(
            ([, value]) => value !== null,
          );
          expect(Object.keys(claims ?? {}).sort(), label).toEqual(sent.map(([name]) => name).sort());
          expect(
            Object.values(claims ?? {}).every((value) => typeof value === 'string'),
            label,
          ).toBe(true);
          for (const [name, value] of sent) {
            if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
              expect(claims?.[name], `${label}: ${name}`).toBe(String(value));
            }
          }
          expect(scopes, label).toBeNull();
        },
      ),
      { numRuns: Math.max(10, Math.floor(fuzzRuns / 5)) },
    );
    expect(calls - reached).toBe(runs);
  });
});
