// Webhook signatures: ours and Stripe's (`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, several
// `v1` during a rotation) and Adyen's per-item HMAC. Constant-time comparisons over raw bytes, several secrets at once.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidSignature } from '../errors.ts';

export const SIGNATURE_TOLERANCE_SECONDS = 300;

export function sign(secret: string, timestamp: number, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${rawBody}`, 'utf8').digest('hex');
}

/** Builds the header value a payment provider sends (used by tests, the README example and the local curl flow). */
export function signatureHeader(
  secret: string,
  rawBody: string,
  timestamp = Math.floor(Date.now() / 1000),
): string {
  return `t=${timestamp},v1=${sign(secret, timestamp, rawBody)}`;
}

/** `t` and every well-formed `v1`; every other scheme (Stripe's test-mode `v0` included) is ignored. */
function parseHeader(header: string): { timestamp: number; signatures: string[] } | undefined {
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [name, value = ''] = part.trim().split('=', 2);
    if (name === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (name === 'v1' && /^[0-9a-f]{64}$/i.test(value)) signatures.push(value.toLowerCase());
  }
  return timestamp === undefined || signatures.length === 0 ? undefined : { timestamp, signatures };
}

/** Any of `expected` equals any of `received`, every pair compared (no early exit), so timing says nothing. */
function anyEqual(expected: readonly Buffer[], received: readonly Buffer[]): boolean {
  let matched = false;
  for (const mine of expected) {
    for (const theirs of received) {
      matched = (mine.length === theirs.length && timingSafeEqual(mine, theirs)) || matched;
    }
  }
  return matched;
}

/**
 * Whether one `v1` of `header` matches one of `secrets` over the raw body, with `t` at most the tolerance before
 * `now`. `future` says whether a `t` ahead of `now` is also bounded (ours) or accepted (Stripe's SDK).
 */
export function timestampedSignatureMatches(
  header: string | undefined,
  rawBody: string,
  secrets: readonly string[],
  now: Date,
  future: 'bounded' | 'accepted',
): boolean {
  const parsed = header ? parseHeader(header) : undefined;
  if (!parsed) return false;
  const age = Math.floor(now.getTime() / 1000) - parsed.timestamp;
  if (age > SIGNATURE_TOLERANCE_SECONDS) return false;
  if (future === 'bounded' && -age > SIGNATURE_TOLERANCE_SECONDS) return false;
  return anyEqual(
    secrets.map((secret) => Buffer.from(sign(secret, parsed.timestamp, rawBody), 'hex')),
    parsed.signatures.map((candidate) => Buffer.from(candidate, 'hex')),
  );
}

/**
 * Throws InvalidSignature unless one `v1` matches one of `secrets` (several during rotation) over the raw body,
 * and `t` is within the tolerance of `now`. Comparison is constant-time over equal-length digests.
 */
export function verifySignature(
  header: string | undefined,
  rawBody: string,
  secrets: readonly string[],
  now: Date,
): void {
  if (!timestampedSignatureMatches(header, rawBody, secrets, now, 'bounded')) throw new InvalidSignature();
}

/**
 * `Stripe-Signature`, as stripe-node's `constructEvent` checks it: one `v1` over `<t>.<raw body>` with one of the
 * endpoint's `whsec_` secrets, `t` at most 300 s old (a `t` ahead of our clock passes, as in the SDK).
 */
export const stripeSignatureMatches = (
  header: string | undefined,
  rawBody: string,
  secrets: readonly string[],
  now: Date,
): boolean => timestampedSignatureMatches(header, rawBody, secrets, now, 'accepted');

/** The fields of an Adyen NotificationRequestItem its HMAC signs (absent ones sign as empty strings). */
export interface AdyenSignedFields {
  pspReference?: string;
  originalReference?: string;
  merchantAccountCode?: string;
  merchantReference?: string;
  amount?: { value?: number; currency?: string };
  eventCode?: string;
  success?: string;
}

/** `pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success`. */
export const adyenSignedPayload = (item: AdyenSignedFields): string =>
  [
    item.pspReference,
    item.originalReference,
    item.merchantAccountCode,
    item.merchantReference,
    item.amount?.value,
    item.amount?.currency,
    item.eventCode,
    item.success,
  ]
    .map((field) => (field === undefined ? '' : String(field)))
    .join(':');

/** Base64 HMAC-SHA256 of the item's signed payload, keyed by the hex-decoded HMAC key. */
export const adyenSignature = (item: AdyenSignedFields, hexKey: string): string =>
  createHmac('sha256', Buffer.from(hexKey, 'hex')).update(adyenSignedPayload(item), 'utf8').digest('base64');

/** Whether `signature` (the item's `additionalData.hmacSignature`) is the item's HMAC under one of `hexKeys`. */
export function adyenSignatureMatches(
  item: AdyenSignedFields,
  signature: string | undefined,
  hexKeys: readonly string[],
): boolean {
  if (!signature || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
  return anyEqual(
    hexKeys.map((key) => Buffer.from(adyenSignature(item, key), 'base64')),
    [Buffer.from(signature, 'base64')],
  );
}

/** An HMAC key as Adyen shows it: hex, an even number of digits (checked when configured, not per request). */
export const isHexKey = (key: string): boolean => /^(?:[0-9a-fA-F]{2})+$/.test(key);
