// Stripe's and Adyen's signatures, checked by our node:crypto code against what their own libraries sign and accept.
import { describe, expect, it } from 'vitest';
import {
  adyenSignature,
  adyenSignatureMatches,
  sign,
  stripeSignatureMatches,
} from '../../shared/http/signature.ts';
import {
  adyenAccepts,
  adyenItemOf,
  signedAdyenItem,
  stripeAccepts,
  stripeSignature,
} from '../support/providers.ts';

const payload = JSON.stringify({ id: 'evt_1', type: 'payment_intent.succeeded', data: { object: {} } });
const secret = 'whsec_current';
const t = Math.floor(Date.now() / 1000);
const now = new Date(t * 1000);

describe('Stripe-Signature, as stripe-node signs and checks it', () => {
  it('accepts a header the SDK generated, with its secret', () => {
    const header = stripeSignature(payload, secret, t);

    expect(stripeAccepts(payload, header, secret)).toBe(true);
    expect(stripeSignatureMatches(header, payload, [secret], now)).toBe(true);
  });

  it('accepts either of two active secrets, and a header with one v1 per secret (rotation)', () => {
    const header = `t=${t},v1=${sign('whsec_old', t, payload)},v1=${sign('whsec_new', t, payload)}`;

    expect(stripeSignatureMatches(header, payload, ['whsec_new'], now)).toBe(true);
    expect(stripeSignatureMatches(header, payload, ['whsec_old'], now)).toBe(true);
    expect(
      stripeSignatureMatches(stripeSignature(payload, 'whsec_old', t), payload, ['x', 'whsec_old'], now),
    ).toBe(true);
    expect(stripeAccepts(payload, header, 'whsec_old')).toBe(true);
  });

  it.each([
    ['signed with another secret', () => stripeSignature(payload, 'whsec_attacker', t)],
    ['301 s old', () => stripeSignature(payload, secret, t - 301)],
    ['v0 only (test mode downgrade)', () => `t=${t},v0=${sign(secret, t, payload)}`],
    ['signed under another scheme name', () => stripeSignature(payload, secret, t, 'v2')],
    ['without t', () => `v1=${sign(secret, t, payload)}`],
    ['empty', () => ''],
    ['garbage', () => 't=abc,v1=zz'],
  ])('refuses a header %s, as the SDK does', (_name, headerOf) => {
    const header = headerOf();

    expect(stripeAccepts(payload, header, secret)).toBe(false);
    expect(stripeSignatureMatches(header, payload, [secret], now)).toBe(false);
  });

  it('accepts a t up to 300 s old and one ahead of our clock, as the SDK does', () => {
    // The SDK reads the real clock, a moment after `t`: 290 s old for it is at most 300 s old for us.
    for (const timestamp of [t - 290, t + 600]) {
      const header = stripeSignature(payload, secret, timestamp);
      expect(stripeAccepts(payload, header, secret), `t=${timestamp}`).toBe(true);
      expect(stripeSignatureMatches(header, payload, [secret], now), `t=${timestamp}`).toBe(true);
    }
    const edge = stripeSignature(payload, secret, t - 300);
    expect(stripeSignatureMatches(edge, payload, [secret], now)).toBe(true);
  });

  it('refuses the same event re-serialised after signing (spacing, key order)', () => {
    const header = stripeSignature(payload, secret, t);
    const pretty = JSON.stringify(JSON.parse(payload), null, 2);
    const reordered = JSON.stringify({ type: 'payment_intent.succeeded', id: 'evt_1', data: { object: {} } });

    for (const body of [pretty, reordered]) {
      expect(stripeAccepts(body, header, secret)).toBe(false);
      expect(stripeSignatureMatches(header, body, [secret], now)).toBe(false);
    }
  });

  it('signs the raw bytes: a non-ASCII body verifies only byte for byte', () => {
    const unicode = JSON.stringify({ id: 'evt_é', note: 'Grüße 🎟' });
    const header = stripeSignature(unicode, secret, t);

    expect(stripeSignatureMatches(header, unicode, [secret], now)).toBe(true);
    expect(stripeSignatureMatches(header, unicode.normalize('NFD'), [secret], now)).toBe(false);
  });

  it('refuses everything when no secret is configured', () => {
    expect(stripeSignatureMatches(stripeSignature(payload, secret, t), payload, [], now)).toBe(false);
  });
});

describe('Adyen hmacSignature, as @adyen/api-library computes and validates it', () => {
  const key = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';
  const item = adyenItemOf({
    eventCode: 'AUTHORISATION',
    merchantReference: 'order-1',
    amount: { value: 9998, currency: 'EUR' },
  });

  it('computes the same base64 HMAC as HmacValidator over the same fields', () => {
    const signed = signedAdyenItem(item, key);

    expect(adyenSignature(item, key)).toBe(signed.additionalData?.hmacSignature);
    expect(adyenSignatureMatches(item, String(signed.additionalData?.hmacSignature), [key])).toBe(true);
  });

  it('signs missing fields as empty strings, as HmacValidator does', () => {
    const bare = adyenItemOf({ eventCode: 'CANCELLATION', merchantReference: 'order-2' });
    delete bare.originalReference;
    const signed = signedAdyenItem({ ...bare, originalReference: undefined }, key);

    expect(adyenSignatureMatches(bare, String(signed.additionalData?.hmacSignature), [key])).toBe(true);
  });

  it('accepts any of several active keys, and a lower-case hex key', () => {
    const signature = String(signedAdyenItem(item, key).additionalData?.hmacSignature);

    expect(adyenSignatureMatches(item, signature, ['00'.repeat(32), key])).toBe(true);
    expect(adyenSignatureMatches(item, signature, [key.toLowerCase()])).toBe(true);
  });

  it.each([
    ['another key', (signature: string) => ({ item, signature, keys: ['11'.repeat(32)] })],
    [
      'a changed amount',
      (signature: string) => ({
        item: { ...item, amount: { value: 1, currency: 'EUR' } },
        signature,
        keys: [key],
      }),
    ],
    [
      'a changed success flag',
      (signature: string) => ({ item: { ...item, success: 'false' as const }, signature, keys: [key] }),
    ],
    ['no signature', () => ({ item, signature: undefined, keys: [key] })],
    ['a signature that is not base64', () => ({ item, signature: 'not base64!', keys: [key] })],
    ['no keys configured', (signature: string) => ({ item, signature, keys: [] })],
  ])('refuses %s, as HmacValidator does', (_name, caseOf) => {
    const signature = String(signedAdyenItem(item, key).additionalData?.hmacSignature);
    const { item: sent, signature: carried, keys } = caseOf(signature);

    expect(adyenSignatureMatches(sent, carried, keys)).toBe(false);
    const withSignature = {
      ...sent,
      additionalData: carried === undefined ? {} : { hmacSignature: carried },
    };
    expect(adyenAccepts(withSignature, keys[0] ?? key) && keys.length > 0).toBe(false);
  });
});
