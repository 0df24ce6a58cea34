// The local identity provider (`npm start -- --identity`): one RS256 signing key kept in `.local/identity/`, its
// OpenID discovery document and key set on a port of its own, and tokens for any `sub`. Development only.
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { localStateDir } from './instance.ts';

/** The audience local tokens carry and the gateway accepts, unless JWT_AUDIENCE says otherwise. */
export const LOCAL_AUDIENCE = 'flash-sale-local';
/** A token's lifetime when none is asked for. */
export const DEFAULT_TTL_SECONDS = 3600;

export const JWKS_PATH = '/.well-known/jwks.json';
export const DISCOVERY_PATH = '/.well-known/openid-configuration';

/** Where `npm start -- --identity` keeps its key, so tokens outlive a restart as the DynamoDB data does. */
export function signingKeyFile(): string {
  return join(localStateDir(), 'identity', 'signing-key.json');
}

/** A private RSA JWK with its `kid` (the key's RFC 7638 thumbprint). */
export interface SigningKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

async function fromPrivateJwk(privateJwk: JWK): Promise<SigningKey> {
  const { kty, n, e } = privateJwk;
  if (kty !== 'RSA' || !n || !e || !privateJwk.d) throw new Error('not a private RSA JWK');
  const publicJwk: JWK = { kty, n, e };
  const kid = await calculateJwkThumbprint(publicJwk);
  // Importing proves the private parts are usable before any token is signed with them.
  await importJWK(privateJwk, 'RS256');
  return {
    kid,
    privateJwk: { ...privateJwk, kid },
    publicJwk: { ...publicJwk, kid, alg: 'RS256', use: 'sig' },
  };
}

/** A new RS256 key pair. */
export async function generateSigningKey(): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return fromPrivateJwk(await exportJWK(privateKey));
}

/** Reads the key in `file` (throws with the reason if it is not one); undefined when there is no file. */
export async function readSigningKey(file: string): Promise<SigningKey | undefined> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return await fromPrivateJwk(JSON.parse(text) as JWK);
  } catch (error) {
    throw new Error(
      `${file} is not a signing key (${(error as Error).message}): delete it and a new one is made`,
    );
  }
}

/** The key in `file`, or a new one written there (owner-only) when there is none. */
export async function loadOrCreateSigningKey(file: string): Promise<{ key: SigningKey; created: boolean }> {
  const existing = await readSigningKey(file);
  if (existing) return { key: existing, created: false };
  const key = await generateSigningKey();
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(key.privateJwk, null, 2)}\n`, { mode: 0o600 });
  chmodSync(`${file}.tmp`, 0o600);
  renameSync(`${file}.tmp`, file);
  return { key, created: true };
}

export interface MintOptions {
  key: SigningKey;
  issuer: string;
  audience: string;
  sub: string;
  /** Lifetime in seconds (default one hour). */
  ttlSeconds?: number;
  /** More claims; the registered ones above win. */
  claims?: JWTPayload;
  now?: Date;
}

/** A signed RS256 access token for `sub`, as an identity provider would issue it. */
export async function mintToken({
  key,
  issuer,
  audience,
  sub,
  ttlSeconds = DEFAULT_TTL_SECONDS,
  claims = {},
  now = new Date(),
}: MintOptions): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience(audience)
    .setSubject(sub)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .setJti(randomUUID())
    .sign(await importJWK(key.privateJwk, 'RS256'));
}

export interface LocalIssuer {
  /** The issuer URL: tokens' `iss`, and where its discovery document is served. */
  url: string;
  audience: string;
  key: SigningKey;
  /** A token for `sub` from this issuer. */
  mint: (sub: string, options?: Omit<MintOptions, 'key' | 'issuer' | 'audience' | 'sub'>) => Promise<string>;
  close: () => Promise<void>;
}

export interface LocalIssuerOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** The signing key (tests); otherwise the one in `keyFile`, made there on first start. */
  key?: SigningKey;
  keyFile?: string;
  audience?: string;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Serves the discovery document and key set of a local issuer; it signs nothing over HTTP. */
export async function startLocalIssuer({
  port,
  host = '127.0.0.1',
  key: givenKey,
  keyFile = signingKeyFile(),
  audience = LOCAL_AUDIENCE,
}: LocalIssuerOptions): Promise<LocalIssuer> {
  const key = givenKey ?? (await loadOrCreateSigningKey(keyFile)).key;
  let url = '';
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method_not_allowed' });
    if (path === DISCOVERY_PATH) {
      return json(res, 200, {
        issuer: url,
        jwks_uri: `${url}${JWKS_PATH}`,
        response_types_supported: ['token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (path === JWKS_PATH) return json(res, 200, { keys: [key.publicJwk] });
    return json(res, 404, { error: 'not_found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: actualPort } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? 'localhost' : host;
  url = `http://${urlHost}:${actualPort}`;

  return {
    url,
    audience,
    key,
    mint: (sub, options = {}) => mintToken({ ...options, key, issuer: url, audience, sub }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // The gateway's fetch keeps idle connections to the issuer open; they must not hold the port.
        server.closeAllConnections();
      }),
  };
}
