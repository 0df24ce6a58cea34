// Buyer identity on the local gateway: the checks API Gateway's JWT authorizer makes before a buyer route's function
// runs, and the authorizer context (payload 2.0) it hands the function. The cloud never loads this file.
//
// What API Gateway does (HTTP API JWT authorizers, developer guide "Control access to HTTP APIs with JWT
// authorizers" and "Troubleshooting issues with HTTP API JWT authorizers"), and what is mirrored here:
// - the token comes from the Authorization header;
// - the issuer's `/.well-known/openid-configuration` names its `jwks_uri`; keys are cached and a token signed with
//   an unknown `kid` makes it fetch the key set again;
// - only RSA signatures; the token's `kid` must name the key that signed it;
// - `iss` equals the configured issuer exactly; `aud` contains one of the configured audiences, or, only when the
//   token has no `aud`, `client_id` is one of them (access tokens of Cognito and others);
// - `exp` after now, `nbf` (when present) not after now. The guide names no clock tolerance, so there is none.
// Every failure is a 401 there. Here it is our envelope (AUTHENTICATION_REQUIRED, INVALID_TOKEN) through the
// handlers' error mapping; the cloud answers `{"message":"Unauthorized"}` with its own WWW-Authenticate.
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  jwtVerify,
  type RemoteJWKSet,
} from 'jose';
import { type AppError, AuthenticationRequired, InvalidToken } from '../../shared/errors.ts';
import type { JwtAuthorizerContext } from '../../shared/http/identity.ts';

/** Whose tokens a buyer route accepts: JWT_ISSUER and JWT_AUDIENCE (comma-separated) of the local runtime. */
export interface IdentitySettings {
  issuer: string;
  audiences: readonly string[];
}

/** The only signing algorithm accepted. API Gateway takes any RSA one; every issuer we use signs RS256. */
const ALGORITHMS = ['RS256'] as const;
/** How long fetched keys are used before the key set is read again: an hour, as API Gateway documents. */
const KEYS_MAX_AGE_MS = 60 * 60_000;
/** After a fetch, an unknown `kid` waits this long before it may trigger another one. */
const KEYS_COOLDOWN_MS = 30_000;
const FETCH_TIMEOUT_MS = 5_000;

/** The identity settings in `env`; undefined when JWT_ISSUER is unset (buyer routes stay anonymous). */
export function identityFromEnv(env: NodeJS.ProcessEnv = process.env): IdentitySettings | undefined {
  const issuer = env.JWT_ISSUER?.trim();
  if (!issuer) return undefined;
  if (!URL.canParse(issuer)) throw new Error(`JWT_ISSUER ${issuer} is not a URL`);
  const audiences = (env.JWT_AUDIENCE ?? '')
    .split(',')
    .map((audience) => audience.trim())
    .filter((audience) => audience !== '');
  // API Gateway requires at least one audience on a JWT authorizer; so does the local one.
  if (audiences.length === 0) {
    throw new Error(
      'JWT_ISSUER is set but JWT_AUDIENCE is not: give the audiences a token may carry (comma-separated)',
    );
  }
  return { issuer, audiences };
}

/** `<issuer>/.well-known/openid-configuration` (OpenID Connect Discovery: a trailing `/` of the issuer is dropped). */
function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

class KeysUnavailable extends Error {}

/** Reads the issuer's discovery document and returns its `jwks_uri`. */
async function discoverJwksUri(issuer: string, timeoutMs: number): Promise<URL> {
  const url = discoveryUrl(issuer);
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    // fetch says "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND, "bad port"), or it timed out.
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new KeysUnavailable(
      `cannot fetch ${url} (${cause?.code ?? cause?.message ?? (error as Error).message})`,
    );
  }
  if (response.status !== 200) throw new KeysUnavailable(`${url} answered ${response.status}`);
  let metadata: unknown;
  try {
    metadata = await response.json();
  } catch {
    throw new KeysUnavailable(`${url} is not JSON`);
  }
  const jwksUri = (metadata as { jwks_uri?: unknown } | null)?.jwks_uri;
  if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri)) {
    throw new KeysUnavailable(`${url} names no jwks_uri`);
  }
  return new URL(jwksUri);
}

/** Checks that `issuer` publishes its discovery document; a reason when it does not (for the start banner). */
export async function probeIssuer(issuer: string, timeoutMs = 3_000): Promise<string | undefined> {
  try {
    await discoverJwksUri(issuer, timeoutMs);
    return undefined;
  } catch (error) {
    return error instanceof KeysUnavailable ? error.message : String(error);
  }
}

/**
 * A claim as API Gateway puts it in `requestContext.authorizer.jwt.claims`: every value a string. Numbers and
 * booleans are their JSON text (`"exp": "1764064800"`), arrays the space-separated bracket form API Gateway writes
 * (`["a","b"]` → `"[a b]"`, not JSON), objects JSON text; null claims are left out.
 */
function claimValue(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    return `[${value.map((item) => (typeof item === 'string' ? item : JSON.stringify(item))).join(' ')}]`;
  }
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Every claim of a verified token, stringified the way API Gateway hands them to the function. */
function apiGatewayClaims(payload: JWTPayload): Record<string, string> {
  // fromEntries defines own properties, so a `__proto__` claim stays a claim.
  return Object.fromEntries(
    Object.entries(payload).flatMap(([name, value]) => {
      const text = claimValue(value);
      return text === undefined ? [] : [[name, text]];
    }),
  );
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Three unpadded base64url segments in canonical form. jose decodes through `atob`, which skips whitespace and
 * padding and ignores a last character's spare bits; checking first keeps one signed token to one spelling.
 */
function wellFormed(token: string): boolean {
  const segments = token.split('.');
  return (
    segments.length === 3 &&
    segments.every(
      (segment) =>
        SEGMENT.test(segment) && Buffer.from(segment, 'base64url').toString('base64url') === segment,
    )
  );
}

/** `aud` contains one of the audiences; without `aud`, `client_id` is one of them (API Gateway evaluates `aud` first). */
function audienceMatches(payload: JWTPayload, audiences: readonly string[]): boolean {
  const { aud } = payload;
  if (aud !== undefined) {
    const values: unknown[] = Array.isArray(aud) ? aud : [aud];
    return values.some((value) => typeof value === 'string' && audiences.includes(value));
  }
  const clientId = payload.client_id;
  return typeof clientId === 'string' && audiences.includes(clientId);
}

/** The outcome of checking one request: the authorizer context, or the error to answer and why (for the log). */
export type Verdict =
  | { ok: true; authorizer: JwtAuthorizerContext & { jwt: { claims: Record<string, string> } } }
  | { ok: false; error: AppError; reason: string; keysUnavailable?: boolean };

const refuse = (error: AppError, reason: string, keysUnavailable = false): Verdict => ({
  ok: false,
  error,
  reason,
  ...(keysUnavailable ? { keysUnavailable } : {}),
});

/** Errors that say the key set could not be had, as opposed to what is wrong with the token. */
function keysUnavailable(error: unknown): boolean {
  if (!(error instanceof errors.JOSEError)) return true; // fetch failed: refused, DNS, reset
  return (
    error instanceof errors.JWKSTimeout ||
    error instanceof errors.JWKSInvalid ||
    error.code === 'ERR_JOSE_GENERIC'
  );
}

export interface Authorizer {
  /** Checks the Authorization header of a request to a buyer route. Never throws. */
  (authorization: string | undefined): Promise<Verdict>;
  readonly settings: IdentitySettings;
}

/**
 * The local JWT authorizer for `settings`. Discovery runs on the first token and its result (the key set's address)
 * is kept for the authorizer's life, as API Gateway reads it once; a failed discovery is retried by the next token,
 * never remembered.
 */
export function createAuthorizer(settings: IdentitySettings, timeoutMs = FETCH_TIMEOUT_MS): Authorizer {
  let keys: Promise<RemoteJWKSet> | undefined;
  const keySet = () => {
    keys ??= discoverJwksUri(settings.issuer, timeoutMs).then((jwksUri) =>
      createRemoteJWKSet(jwksUri, {
        timeoutDuration: timeoutMs,
        cooldownDuration: KEYS_COOLDOWN_MS,
        cacheMaxAge: KEYS_MAX_AGE_MS,
      }),
    );
    keys.catch(() => {
      keys = undefined;
    });
    return keys;
  };

  const authorize = async (authorization: string | undefined): Promise<Verdict> => {
    // `Bearer ` and the token, as API Gateway documents it; more whitespace makes the token malformed, not absent.
    const token = /^Bearer (.*)$/.exec(authorization ?? '')?.[1];
    if (!token) {
      const reason = authorization?.trim() ? 'not a Bearer authorization' : 'no Authorization header';
      return refuse(new AuthenticationRequired(), reason);
    }
    if (!wellFormed(token)) return refuse(new InvalidToken(), 'malformed token');
    let kid: unknown;
    try {
      ({ kid } = decodeProtectedHeader(token));
    } catch {
      return refuse(new InvalidToken(), 'malformed token');
    }
    if (typeof kid !== 'string' || kid === '')
      return refuse(new InvalidToken(), 'no kid in the token header');

    let jwks: RemoteJWKSet;
    try {
      jwks = await keySet();
    } catch (error) {
      return refuse(new InvalidToken(), (error as Error).message, true);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        algorithms: [...ALGORITHMS],
        issuer: settings.issuer,
        requiredClaims: ['exp'],
        clockTolerance: 0,
      }));
    } catch (error) {
      const unavailable = keysUnavailable(error);
      const reason = error instanceof errors.JOSEError ? `${error.code}: ${error.message}` : String(error);
      return refuse(new InvalidToken(), reason, unavailable);
    }
    if (!audienceMatches(payload, settings.audiences)) {
      return refuse(new InvalidToken(), 'the token does not have a valid audience');
    }
    // No route declares authorization scopes, and API Gateway then gives `scopes: null` whatever the token carries.
    return { ok: true, authorizer: { jwt: { claims: apiGatewayClaims(payload), scopes: null } } };
  };
  return Object.assign(authorize, { settings });
}
