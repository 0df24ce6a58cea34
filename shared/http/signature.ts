// Webhook signatures: `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
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
  const parsed = header ? parseHeader(header) : undefined;
  if (!parsed) throw new InvalidSignature();
  if (Math.abs(Math.floor(now.getTime() / 1000) - parsed.timestamp) > SIGNATURE_TOLERANCE_SECONDS) {
    throw new InvalidSignature();
  }
  let matched = false;
  for (const secret of secrets) {
    const expected = Buffer.from(sign(secret, parsed.timestamp, rawBody), 'hex');
    for (const candidate of parsed.signatures) {
      // Evaluate every pair (no early exit) so timing does not reveal which secret or position matched.
      matched = timingSafeEqual(expected, Buffer.from(candidate, 'hex')) || matched;
    }
  }
  if (!matched) throw new InvalidSignature();
}
