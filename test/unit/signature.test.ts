// Signature verification rules, without a network: format, tolerance, rotation, tampering.
import { describe, expect, it } from 'vitest';
import { sign, signatureHeader, verifySignature } from '../../shared/http/signature.ts';

const body =
  '{"idempotency_key":"evt_123","order_id":"3f0c1f9e-2b7a-4c1e-9d0a-5e8f7a6b4c21","status":"success"}';
const t = 1764064800;
const now = new Date(t * 1000);

describe('webhook signatures', () => {
  it('matches the README worked example', () => {
    expect(sign('whsec_example', t, body)).toBe(
      '9642c323a78a2a888680a203b8cdf1daceb2f70b93e76d24afeafb644246af31',
    );
  });

  it('accepts a valid signature within the 5-minute tolerance on either side', () => {
    const header = signatureHeader('s1', body, t);
    expect(() => verifySignature(header, body, ['s1'], new Date((t + 300) * 1000))).not.toThrow();
    expect(() => verifySignature(header, body, ['s1'], new Date((t - 300) * 1000))).not.toThrow();
  });

  it('refuses a timestamp just outside the tolerance, past or future', () => {
    const header = signatureHeader('s1', body, t);
    expect(() => verifySignature(header, body, ['s1'], new Date((t + 301) * 1000))).toThrow('X-Signature');
    expect(() => verifySignature(header, body, ['s1'], new Date((t - 301) * 1000))).toThrow('X-Signature');
  });

  it('accepts any of several v1 values and any of several secrets (rotation)', () => {
    const header = `t=${t},v1=${'0'.repeat(64)},v1=${sign('old', t, body)}`;
    expect(() => verifySignature(header, body, ['new', 'old'], now)).not.toThrow();
  });

  it.each([
    ['missing header', undefined],
    ['empty header', ''],
    ['no timestamp', `v1=${sign('s1', t, body)}`],
    ['no v1', `t=${t}`],
    ['short hex', `t=${t},v1=abcd`],
    ['wrong scheme', `t=${t},v0=${sign('s1', t, body)}`],
    ['non-numeric timestamp', `t=abc,v1=${sign('s1', t, body)}`],
  ])('refuses a %s', (_name, header) => {
    expect(() => verifySignature(header, body, ['s1'], now)).toThrow('X-Signature');
  });

  it('refuses a signature over a body that differs by one byte', () => {
    const header = signatureHeader('s1', body, t);
    expect(() => verifySignature(header, `${body} `, ['s1'], now)).toThrow('X-Signature');
  });
});
