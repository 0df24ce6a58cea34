// The body limit counts the bytes received, and bytes that are not UTF-8 are refused as JSON, whatever their size.
import { describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  process.env.WEBHOOK_SECRET = 'whsec_request_body';
});

import { handler as createHold } from '../../functions/create-hold.ts';
import { handler as paymentWebhook } from '../../functions/payment-webhook.ts';
import { getProduct } from '../../shared/stock/service.ts';
import { productWithStock } from '../support/fixtures.ts';
import { invoke } from '../support/lambda.ts';

const MAX_BODY_BYTES = 16 * 1024;
/** Bytes that are never UTF-8 (0xff cannot start or continue a sequence); a lossy decode triples their size. */
const notUtf8 = (size: number) => new Uint8Array(size).fill(0xff);

describe('a binary body (API Gateway: base64, isBase64Encoded)', () => {
  it('answers 6 KB of bytes that are not UTF-8 with 400 INVALID_JSON, not 413 (18 KB once decoded lossily)', async () => {
    const answer = await invoke(createHold, { rawBytes: notUtf8(6 * 1024) });

    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe('INVALID_JSON');
  });

  it('refuses a JSON object with one byte that is not UTF-8 with 400 INVALID_JSON and reserves nothing', async () => {
    const product = await productWithStock(5);
    const json = Buffer.from(JSON.stringify({ product_id: product, qty: 1, note: '#' }));
    json[json.indexOf('#')] = 0xff;

    const answer = await invoke(createHold, { rawBytes: json });

    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe('INVALID_JSON');
    expect((await getProduct(product)).available).toBe(5);
  });

  it('refuses bytes that are not UTF-8 on a signed route with 400 INVALID_JSON before the signature check', async () => {
    const answer = await invoke(paymentWebhook, {
      rawBytes: notUtf8(6 * 1024),
      headers: { 'x-signature': 't=1,v1=00' },
    });

    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe('INVALID_JSON');
  });

  it('measures the decoded bytes: the limit passes, one byte more is 413', async () => {
    const product = await productWithStock(5);
    const padded = (size: number) => {
      const json = JSON.stringify({ product_id: product, qty: 1, pad: '' });
      // Multi-byte characters: the limit counts bytes, not characters.
      const pad = 'é'.repeat(Math.floor((size - Buffer.byteLength(json)) / 2));
      const text = JSON.stringify({ product_id: product, qty: 1, pad });
      return Buffer.from(text + ' '.repeat(size - Buffer.byteLength(text)));
    };
    expect(padded(MAX_BODY_BYTES).length).toBe(MAX_BODY_BYTES);

    const atLimit = await invoke(createHold, { rawBytes: padded(MAX_BODY_BYTES) });
    const over = await invoke(createHold, { rawBytes: padded(MAX_BODY_BYTES + 1) });

    expect(atLimit.status).toBe(201);
    expect(over.status).toBe(413);
    expect(over.body.error?.code).toBe('PAYLOAD_TOO_LARGE');
    expect((await getProduct(product)).available).toBe(4);
  });

  it('still refuses more than the limit of bytes that are not UTF-8 with 413', async () => {
    const answer = await invoke(createHold, { rawBytes: notUtf8(MAX_BODY_BYTES + 1) });

    expect(answer.status).toBe(413);
    expect(answer.body.error?.code).toBe('PAYLOAD_TOO_LARGE');
  });
});
