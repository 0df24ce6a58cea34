// Fuzzed request bodies for every route: 4xx in the error envelope (or a normal success), never 5xx, nothing moved.
import { isUtf8 } from 'node:buffer';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  process.env.WEBHOOK_SECRET = 'whsec_fuzz';
});

import fc from 'fast-check';
import { T0 } from '../support/fixtures.ts';
import type { Answer } from '../support/lambda.ts';
import {
  anythingAsJson,
  bodyRoutes,
  createSentinel,
  deepArray,
  deepObject,
  expectError,
  expectLedgerBalanced,
  expectPrototypeClean,
  expectSentinelUnmoved,
  expectWellFormed,
  fuzzRuns,
  type Route,
  routes,
  type Sentinel,
  send,
  sendBase64,
} from './harness.ts';

let sentinel: Sentinel;

beforeAll(async () => {
  // A frozen clock: the sentinel's hold never expires mid-run and webhook signatures stay fresh.
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
  sentinel = await createSentinel();
});
afterAll(() => {
  vi.useRealTimers();
});
afterEach(async () => {
  expectPrototypeClean('after the property');
  await expectLedgerBalanced('after the property');
});

const MAX_BODY_BYTES = 16 * 1024;
const bodyRoute = () => fc.constantFrom(...bodyRoutes(sentinel));
const anyRoute = () => fc.constantFrom(...routes(sentinel));

async function afterEachRequest(answer: Answer, label: string): Promise<void> {
  expectPrototypeClean(label);
  await expectSentinelUnmoved(sentinel, answer, label);
}

const isObject = (value: unknown) => value !== null && typeof value === 'object' && !Array.isArray(value);

// ---- near-valid bodies: a valid body with one field replaced ----------------------------------------------------

type Kind = 'id' | 'qty' | 'stock' | 'name' | 'price' | 'currency' | 'key' | 'status';
/** JSON text of a replacement value (undefined: the field is left out) and whether the schema must refuse it. */
interface Mutation {
  text: string | undefined;
  invalid: boolean;
}

const FIELDS: Record<string, Record<string, Kind>> = {
  'PUT /api/admin/products/{id}': { name: 'name', price: 'price', currency: 'currency', stock: 'stock' },
  'POST /api/holds': { product_id: 'id', qty: 'qty' },
  'POST /api/orders': { hold_id: 'id' },
  'POST /api/payments/webhook': { idempotency_key: 'key', order_id: 'id', status: 'status' },
};
const OPTIONAL = new Set(['currency']);

const json = (value: unknown) => JSON.stringify(value);
const invalid = (...texts: string[]): Mutation[] => texts.map((text) => ({ text, invalid: true }));
const maybe = (...texts: string[]): Mutation[] => texts.map((text) => ({ text, invalid: false }));

/** Replacements every field refuses: other JSON types, 1,000 levels of nesting. */
const wrongShapes = invalid('null', 'true', 'false', '[]', '{}', '[1]', deepObject(1000), '{"value":"x"}');

const MUTATIONS: Record<Kind, Mutation[]> = {
  qty: [
    ...invalid('"1"', '"NaN"', '"Infinity"', '1.5', '-1', '0', '-0', '11', '1e308', '1e999', '-1e999'),
    ...invalid('9007199254740993', '1e21', '0.1', json('１')),
  ],
  stock: [
    ...invalid('"5"', '"NaN"', '1.5', '-1', '1000001', '1e308', '1e999', '2.5e-8'),
    ...maybe('-0', '0', '1000000', '1.0', '5e0'),
  ],
  id: [
    ...invalid('""', json('a/b'), json('..'), json('../x'), json('é'), json('🔥'), json('\u202Eabc')),
    ...invalid(
      json('a\u0000b'),
      json('a'.repeat(65)),
      json(' x'),
      json('x\n'),
      '0',
      '-1',
      '1.5',
      '1e308',
      '-0',
    ),
    ...invalid(json('%2F'), '9007199254740992'),
    ...maybe(json('a'.repeat(64)), '9007199254740991', json('__proto__'), json('constructor'), '42'),
  ],
  name: [
    ...invalid('""', json('   '), json('n'.repeat(201)), '5'),
    ...maybe(json('🔥 sale'), json('\u202Eevil'), json('a\u0000b'), json('n'.repeat(200)), json(' padded ')),
    ...maybe(json('x'.repeat(5000))),
  ],
  price: [
    ...invalid(json('1.234'), json('-1'), json('1e3'), json('NaN'), '12.5', '""', json('０'), json('01')),
    ...invalid(json('1,00'), json('1234567890'), json(' 1'), json('1.'), json('.5')),
    ...maybe(json('12.5'), json('0'), json('999999999.99')),
  ],
  currency: [...invalid(json('usd'), json('USDD'), json('€'), '""', '1'), ...maybe(json('EUR'))],
  key: [
    ...invalid('""', json('k'.repeat(256)), '1'),
    ...maybe(json('🔥'), json('a\u0000b'), json('k'.repeat(255)), json('\u202Ekey'), json('__proto__')),
  ],
  status: invalid(json('paid'), json('SUCCESS'), '""', '1', json('success ')),
};

function mutationsOf(field: string, kind: Kind): fc.Arbitrary<Mutation> {
  const missing: Mutation = { text: undefined, invalid: !OPTIONAL.has(field) };
  return fc.constantFrom(...wrongShapes, ...MUTATIONS[kind], missing);
}

/** The route's valid body as JSON text, with `field` replaced by `text` (or removed). */
function withField(route: Route, field: string, text: string | undefined): string {
  const { [field]: _replaced, ...rest } = route.body?.() ?? {};
  const others = JSON.stringify(rest).slice(1, -1);
  const parts = [
    ...(text === undefined ? [] : [`${JSON.stringify(field)}:${text}`]),
    ...(others ? [others] : []),
  ];
  return `{${parts.join(',')}}`;
}

const nearValid = () =>
  bodyRoute().chain((route) => {
    const fields = Object.entries(FIELDS[route.name] ?? {});
    return fc
      .constantFrom(...fields)
      .chain(([field, kind]) => fc.record({ field: fc.constant(field), mutation: mutationsOf(field, kind) }))
      .map(({ field, mutation }) => ({ route, field, mutation }));
  });

// ---- properties ---------------------------------------------------------------------------------------------------

describe('fuzzed request bodies', () => {
  it('answers any JSON value with 400 INVALID_JSON unless it is an object, and an object never with a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(bodyRoute(), fc.jsonValue(), async (route, value) => {
        const label = `${route.name} ${JSON.stringify(value).slice(0, 200)}`;

        const answer = await send(route, JSON.stringify(value));

        if (isObject(value)) expectWellFormed(answer, label);
        else expectError(answer, 400, 'INVALID_JSON', label);
        await afterEachRequest(answer, label);
      }),
      { numRuns: fuzzRuns },
    );
  });

  it('answers the JSON text of arbitrary values (boxed, maps, sparse and typed arrays) in the envelope, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(bodyRoute(), anythingAsJson, async (route, text) => {
        const label = `${route.name} ${text.slice(0, 200)}`;

        const answer = await send(route, text);

        if (isObject(JSON.parse(text))) expectWellFormed(answer, label);
        else expectError(answer, 400, 'INVALID_JSON', label);
        await afterEachRequest(answer, label);
      }),
      { numRuns: fuzzRuns },
    );
  });

  it('refuses a valid body with one field made invalid with 422 naming that field, and changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(nearValid(), async ({ route, field, mutation }) => {
        const body = withField(route, field, mutation.text);
        const label = `${route.name} ${body.slice(0, 300)}`;

        const answer = await send(route, body);

        expectWellFormed(answer, label);
        if (mutation.invalid) {
          expectError(answer, 422, 'VALIDATION_ERROR', label);
          const details = (answer.body.error?.details ?? []) as { field: string }[];
          const fields = details.map((d) => d.field);
          expect(fields, label).toContainEqual(expect.stringMatching(new RegExp(`^body\\.${field}(\\.|$)`)));
        } else {
          expect(answer.status, label).not.toBe(400);
        }
        await afterEachRequest(answer, label);
      }),
      { numRuns: fuzzRuns * 3 },
    );
  });

  it('refuses text that is not JSON with 400 INVALID_JSON', async () => {
    const notJson = fc
      .oneof(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.constantFrom(
          '',
          '{',
          '{"a":1',
          "{'a':1}",
          'undefined',
          'NaN',
          '{"a":1}}',
          '\u0000',
          '\uFEFF{}',
          '{"a":01}',
        ),
        fc.jsonValue().map((value) => `${JSON.stringify(value)},`),
      )
      .filter((text) => {
        try {
          JSON.parse(text);
          return false;
        } catch {
          return true;
        }
      });

    await fc.assert(
      fc.asyncProperty(bodyRoute(), notJson, async (route, text) => {
        const label = `${route.name} ${JSON.stringify(text).slice(0, 200)}`;

        const answer = await send(route, text);

        expectError(answer, 400, 'INVALID_JSON', label);
        await afterEachRequest(answer, label);
      }),
      { numRuns: fuzzRuns },
    );
  });

  it('decodes base64 bodies (binary from API Gateway) and refuses bytes that are not a JSON object with 400', async () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.jsonValue().map((value) => new TextEncoder().encode(JSON.stringify(value))),
      fc.constant(new Uint8Array([0xff, 0xfe, 0x7b, 0x7d])),
      // {"a":"<0xff>"}: an object once decoded lossily, but not UTF-8.
      fc.constant(new Uint8Array([...Buffer.from('{"a":"'), 0xff, ...Buffer.from('"}')])),
    );

    await fc.assert(
      fc.asyncProperty(bodyRoute(), bytes, async (route, raw) => {
        const text = Buffer.from(raw).toString('utf8');
        const label = `${route.name} base64 of ${JSON.stringify(text).slice(0, 200)}`;
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }

        const answer = await sendBase64(route, raw);

        // Bytes that are not UTF-8 are refused even when their lossy decoding would parse.
        if (isUtf8(raw) && isObject(parsed)) expectWellFormed(answer, label);
        else expectError(answer, 400, 'INVALID_JSON', label);
        await afterEachRequest(answer, label);
      }),
      { numRuns: fuzzRuns },
    );
  });

  it('refuses any body over 16 KiB on every route with 413 before parsing it or checking its signature', async () => {
    const oversized = fc.oneof(
      fc.integer({ min: MAX_BODY_BYTES + 1, max: 64 * 1024 }).map((size) => 'x'.repeat(size)),
      // Under the limit in UTF-16 units, over it in UTF-8 bytes.
      fc
        .integer({ min: MAX_BODY_BYTES / 4 + 1, max: MAX_BODY_BYTES / 2 })
        .map((n) => JSON.stringify({ name: '🔥'.repeat(n) })),
      fc
        .integer({ min: MAX_BODY_BYTES, max: 20_000 })
        .map((n) => JSON.stringify({ qty: 1, pad: 'p'.repeat(n) })),
    );

    await fc.assert(
      fc.asyncProperty(anyRoute(), oversized, fc.boolean(), async (route, body, forged) => {
        const label = `${route.name} ${Buffer.byteLength(body)} bytes`;

        const answer = await send(route, body, forged ? { headers: { 'x-signature': 't=1,v1=00' } } : {});

        expectError(answer, 413, 'PAYLOAD_TOO_LARGE', label);
        await afterEachRequest(answer, label);
      }),
      { numRuns: Math.max(10, Math.floor(fuzzRuns / 2)) },
    );
  });

  it('never lets __proto__, constructor or prototype keys (top level or nested) pollute Object.prototype or supply fields', async () => {
    const pollution = fc.record({
      route: bodyRoute(),
      key: fc.constantFrom('__proto__', 'constructor', 'prototype'),
      payload: fc.constantFrom(
        '{"polluted":"yes","isAdmin":true}',
        '{"prototype":{"polluted":"yes"}}',
        '{"__proto__":{"polluted":"yes"}}',
        '{"qty":1,"status":"success","product_id":"x"}',
      ),
      placement: fc.constantFrom('beside valid fields', 'instead of valid fields', 'inside a field'),
    });

    await fc.assert(
      fc.asyncProperty(pollution, async ({ route, key, payload, placement }) => {
        // Raw text: JSON.stringify would drop a __proto__ set as a property; JSON.parse makes it an own key.
        const valid = JSON.stringify(route.body?.() ?? {}).slice(1, -1);
        const [firstField = 'x'] = Object.keys(route.body?.() ?? {});
        const body =
          placement === 'beside valid fields'
            ? `{"${key}":${payload},${valid}}`
            : placement === 'instead of valid fields'
              ? `{"${key}":${payload}}`
              : withField(route, firstField, `{"${key}":${payload}}`);
        const label = `${route.name} ${body}`;

        const answer = await send(route, body);

        expectWellFormed(answer, label);
        // Fields only present on a "prototype" object must never count as sent.
        if (placement !== 'beside valid fields') expectError(answer, 422, 'VALIDATION_ERROR', label);
        await afterEachRequest(answer, label);
      }),
      { numRuns: fuzzRuns },
    );
  });
});

describe('deeply nested and boundary-sized bodies', () => {
  it('refuses 1,000 levels of object nesting with 422 and 8,000 levels of arrays with 400', async () => {
    for (const route of bodyRoutes(sentinel)) {
      const nestedObject = await send(route, deepObject(1000));
      const nestedArray = await send(route, deepArray(8000));

      expectError(nestedObject, 422, 'VALIDATION_ERROR', `${route.name} nested object`);
      expectError(nestedArray, 400, 'INVALID_JSON', `${route.name} nested array`);
      await afterEachRequest(nestedObject, route.name);
    }
  });

  it('accepts a body of exactly 16 KiB for parsing and refuses one byte more with 413', async () => {
    const route = bodyRoutes(sentinel).find((r) => r.name === 'POST /api/holds') as Route;
    const padded = (bytes: number) => {
      const start = `{"product_id":"${sentinel.product}","qty":0,"pad":"`;
      return `${start}${'p'.repeat(bytes - start.length - 2)}"}`;
    };

    const atLimit = await send(route, padded(MAX_BODY_BYTES));
    const overLimit = await send(route, padded(MAX_BODY_BYTES + 1));

    expect(Buffer.byteLength(padded(MAX_BODY_BYTES))).toBe(MAX_BODY_BYTES);
    expectError(atLimit, 422, 'VALIDATION_ERROR', 'at the limit: parsed, qty 0 refused');
    expectError(overLimit, 413, 'PAYLOAD_TOO_LARGE', 'one byte over');
  });
});
