// The OpenAPI document (infra/openapi.ts) against the route table, the error classes and real answers over HTTP.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  appErrors,
  catalogueProblems,
  commonErrors,
  type ErrorCode,
  errorCatalogue,
} from '../../infra/error-catalogue.ts';
import { type Gateway, startGateway } from '../../infra/local/gateway.ts';
import { buildOpenApiDocument, errorsOf } from '../../infra/openapi.ts';
import { type RouteDefinition, routes as routeTable } from '../../infra/routes.ts';
import { errorAnswers } from '../../shared/http/error-answers.ts';
import { type ApiClient, type ApiResponse, apiClient, dataOf, errorOf } from '../support/http.ts';

// The committed openapi.json describes the default configuration (qty up to 10): read it before config loads.
vi.hoisted(() => {
  delete process.env.MAX_QTY_PER_HOLD;
});

const routes: readonly RouteDefinition[] = routeTable;
const document = buildOpenApiDocument();
/** The document as a client receives it (no `undefined`, plain JSON). */
const json = JSON.parse(JSON.stringify(document));

type Json = Record<string, unknown>;
/** The JSON schema of a response's `application/json` content. */
const bodySchemaOf = (response: Json | undefined): unknown =>
  ((response?.content as Json | undefined)?.['application/json'] as Json | undefined)?.schema;
const operationOf = (path: string, method: string): Json | undefined =>
  json.paths?.[path]?.[method.toLowerCase()];
const responsesOf = (path: string, method: string): Record<string, Json> =>
  (operationOf(path, method)?.responses ?? {}) as Record<string, Json>;

// The document's schemas as JSON Schema 2020-12 (OpenAPI 3.1's dialect): components become $defs.
const ajv = new Ajv2020({ strict: true, allErrors: true, formats: { 'date-time': true } });
const defs = JSON.parse(
  JSON.stringify(json.components.schemas).replaceAll('"#/components/schemas/', '"#/$defs/'),
) as Json;
const asRoot = (schema: unknown) => ({
  ...JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"#/$defs/')),
  $defs: defs,
});
const compiled = new Map<string, ValidateFunction>();
function validatorFor(key: string, schema: unknown): ValidateFunction {
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(asRoot(schema));
    compiled.set(key, validate);
  }
  return validate;
}

/** The `code` constants a response schema accepts, following $refs and unions. */
function codesAccepted(schema: unknown): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const node = schema as Json;
  if (typeof node.$ref === 'string')
    return codesAccepted(defs[node.$ref.replace('#/components/schemas/', '')]);
  const alternatives = [...((node.anyOf as unknown[]) ?? []), ...((node.oneOf as unknown[]) ?? [])];
  const code = (node.properties as Json | undefined)?.error as Json | undefined;
  const constant = ((code?.properties as Json | undefined)?.code as Json | undefined)?.const;
  return [...(typeof constant === 'string' ? [constant] : []), ...alternatives.flatMap(codesAccepted)];
}

/** Fails unless the document lists this status for the route and its body and headers match what it says. */
function expectDocumented(method: string, path: string, response: ApiResponse): void {
  const where = `${method} ${path} ${response.status}`;
  const documented = responsesOf(path, method)[String(response.status)];
  expect(documented, `${where} is not in the document`).toBeDefined();
  const validate = validatorFor(where, bodySchemaOf(documented));
  if (!validate(response.body)) {
    throw new Error(
      `${where} does not match the document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(response.body)}`,
    );
  }
  if (!response.body.success)
    expect(documented?.['x-error-codes'], where).toContain(response.body.error.code);
  for (const [name, header] of Object.entries((documented?.headers ?? {}) as Record<string, Json>)) {
    const value = response.headers.get(name);
    if (value === null) {
      expect(header.required, `${where} lacks the required ${name} header`).not.toBe(true);
      continue;
    }
    const check = validatorFor(`${where} ${name}`, header.schema);
    expect(check(value), `${where} ${name}: ${value} ${ajv.errorsText(check.errors)}`).toBe(true);
  }
}

describe('the route table in the document', () => {
  it('lists every route with its method, and nothing else', () => {
    for (const route of routes) {
      const operation = operationOf(route.path, route.method);
      expect(operation, `${route.method} ${route.path}`).toBeDefined();
      expect(operation?.operationId).toBe(route.id);
    }
    const documented = Object.entries(json.paths as Record<string, Json>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(routes.map((route) => `${route.method} ${route.path}`).sort());
  });

  it('is OpenAPI 3.1 and its schemas compile as JSON Schema 2020-12', () => {
    expect(json.openapi).toBe('3.1.0');
    for (const [name, schema] of Object.entries(defs))
      expect(() => ajv.compile(asRoot(schema)), name).not.toThrow();
  });

  it('marks the IAM route as SigV4 and the webhook as signed', () => {
    expect(operationOf('/api/admin/products/{id}', 'PUT')?.security).toEqual([{ sigv4: [] }]);
    const parameters = operationOf('/api/payments/webhook', 'POST')?.parameters as Json[];
    expect(parameters).toContainEqual(expect.objectContaining({ name: 'X-Signature', in: 'header' }));
    const holdParameters = operationOf('/api/holds', 'POST')?.parameters as Json[];
    expect(holdParameters).toContainEqual(
      expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false }),
    );
  });
});

describe('error codes in the document', () => {
  it('has a catalogue entry, with the status of shared/http/error-answers.ts, for every error class', () => {
    expect(catalogueProblems()).toEqual([]);
    const classes = appErrors();
    expect(classes.length).toBeGreaterThan(10);
    for (const { className, code } of classes) {
      const entry = errorCatalogue[code as ErrorCode];
      expect(entry?.description, `${className} (${code})`).toEqual(expect.any(String));
      expect(entry?.status, `${className} (${code})`).toBe(errorAnswers[code as ErrorCode].status);
    }
  });

  it("lists, for every route, each code the route table says it answers, at the code's status", () => {
    for (const route of routes) {
      const responses = responsesOf(route.path, route.method);
      const codes = errorsOf(route);
      expect(codes).toEqual(expect.arrayContaining([...commonErrors, ...(route.contract?.errors ?? [])]));
      for (const code of codes) {
        const where = `${route.method} ${route.path} ${code}`;
        const response = responses[String(errorCatalogue[code].status)];
        expect(response?.['x-error-codes'], where).toContain(code);
        expect(codesAccepted(bodySchemaOf(response)), where).toContain(code);
      }
      // Nothing undeclared: each documented error response is exactly the declared codes of its status.
      for (const [status, response] of Object.entries(responses)) {
        if (!response['x-error-codes']) continue;
        expect(codesAccepted(bodySchemaOf(response)).sort()).toEqual(
          codes.filter((code) => String(errorCatalogue[code].status) === status).sort(),
        );
      }
    }
  });

  it('declares the codes the route table implies: validation, idempotency and signatures', () => {
    for (const route of routes) {
      const codes = errorsOf(route);
      const request = route.contract?.request ?? {};
      const where = `${route.method} ${route.path}`;
      if (request.params || request.body || request.headers)
        expect(codes, where).toContain('VALIDATION_ERROR');
      if (route.idempotent) {
        expect(codes, where).toContain('REQUEST_IN_PROGRESS');
        expect(codes, where).toContain('IDEMPOTENCY_KEY_REUSED');
      }
      if (route.signingSecret === 'webhook') expect(codes, where).toContain('INVALID_SIGNATURE');
      if (route.signingSecret === 'stripe') expect(codes, where).toContain('INVALID_STRIPE_SIGNATURE');
      if (route.signingSecret === 'adyen') expect(codes, where).toContain('INVALID_ADYEN_SIGNATURE');
    }
  });

  it("declares every domain error its handler's bundle can construct", async () => {
    // The edge errors (shared/http) are in every bundle; which routes answer them is checked above and in errorsOf.
    const edge = [
      'InvalidJson',
      'PayloadTooLarge',
      'ValidationFailed',
      'RequestInProgress',
      'IdempotencyKeyReused',
      'ServiceBusy',
    ];
    // Reachable in code but not in practice: putProduct re-reads the product it has just written (no route deletes one).
    // The provider routes share the payment path, whose ORDER_ALREADY_FINALIZED applyProviderEvent turns into a 200
    // `conflict` (a provider retries anything else).
    const unreachable: Record<string, readonly string[]> = {
      'put-product': ['PRODUCT_NOT_FOUND'],
      'stripe-webhook': ['ORDER_ALREADY_FINALIZED'],
      'adyen-webhook': ['ORDER_ALREADY_FINALIZED'],
    };
    const classes = new Map(appErrors().map((error) => [error.className, error.code]));
    for (const route of routes) {
      const { outputFiles } = await build({
        entryPoints: [route.entry],
        bundle: true,
        write: false,
        platform: 'node',
        format: 'esm',
        packages: 'external',
        logLevel: 'silent',
      });
      // esbuild tree-shakes what the handler cannot reach and may suffix a renamed class (`ProductNotFound2`).
      const constructed = [...(outputFiles[0]?.text ?? '').matchAll(/\bnew ([A-Za-z]+?)\d*\(/g)]
        .map((match) => match[1] ?? '')
        .filter((name) => classes.has(name) && !edge.includes(name));
      const codes = [...new Set(constructed.map((name) => classes.get(name) ?? ''))];
      const expected = codes.filter((code) => !unreachable[route.id]?.includes(code));
      expect(errorsOf(route), `${route.id} can answer ${codes.join(', ')}`).toEqual(
        expect.arrayContaining(expected),
      );
    }
  });

  it('documents Retry-After wherever a code carries it', () => {
    for (const route of routes) {
      const responses = responsesOf(route.path, route.method);
      for (const code of ['SERVICE_UNAVAILABLE', 'REQUEST_IN_PROGRESS'] as const) {
        if (!errorsOf(route).includes(code)) continue;
        const headers = responses[String(errorCatalogue[code].status)]?.headers as Json | undefined;
        expect(headers?.['Retry-After'], `${route.method} ${route.path} ${code}`).toBeDefined();
      }
    }
  });
});

describe('the generator stays out of the Lambda bundles', () => {
  it('is imported by nothing under functions/ or shared/', () => {
    const root = new URL('../../', import.meta.url).pathname;
    for (const dir of ['functions', 'shared']) {
      const files = readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).filter((file) =>
        file.endsWith('.ts'),
      );
      for (const file of files) {
        const text = readFileSync(join(root, dir, file), 'utf8');
        // Type-only imports (e.g. `import type { z } from 'zod'`) are erased and do not count.
        const imports = [...text.matchAll(/^import (?!type )[^;]*?from '([^']+)'/gms)].map(
          (match) => match[1],
        );
        for (const name of imports) {
          expect(name, `${dir}/${file}`).not.toMatch(/zod-openapi|ajv|infra\/|error-catalogue|openapi/);
        }
      }
    }
  });
});

describe('openapi.json at the repository root', () => {
  it('is what `npm run openapi` writes now', () => {
    const committed = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8'));
    expect(committed, 'openapi.json is stale: run `npm run openapi`').toEqual(json);
  });
});

describe('real answers over the local gateway', () => {
  let gateway: Gateway;
  let api: ApiClient;
  beforeAll(async () => {
    gateway = await startGateway({ port: 0 });
    api = apiClient(gateway.url);
  });
  afterAll(() => gateway.close());

  it('serves the same document at GET /api/openapi.json, and a docs page', async () => {
    const response = await fetch(`${gateway.url}/api/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual(json);

    const page = await fetch(`${gateway.url}/api/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('/api/openapi.json');

    const wrongMethod = await api.request('POST', '/api/openapi.json', { json: {} });
    expect(wrongMethod.status).toBe(405);
    expect(errorOf(wrongMethod).code).toBe('METHOD_NOT_ALLOWED');
  });

  it('answers the checkout flow, success and failure, as documented', async () => {
    const call = async (method: string, template: string, path: string, options = {}) => {
      const response = await api.request(method, path, options);
      expectDocumented(method, template, response);
      return response;
    };
    const product = '/api/products/{id}';
    const adminProduct = '/api/admin/products/{id}';
    const order = '/api/orders/{id}';
    const webhook = '/api/payments/webhook';

    expect((await call('GET', '/api/health', '/api/health')).status).toBe(200);

    // Products: create, update, read, missing, bad id, bad body, stock below what is held.
    expect(
      (
        await call('PUT', adminProduct, '/api/admin/products/oa-1', {
          json: { name: 'Doc', price: '12.50', stock: 5 },
        })
      ).status,
    ).toBe(201);
    const updated = await call('PUT', adminProduct, '/api/admin/products/oa-1', {
      json: { name: 'Doc', price: '12.50', stock: 6, stock_buckets: 2 },
    });
    expect(updated.status).toBe(200);
    const read = await call('GET', product, '/api/products/oa-1');
    expect(read.status).toBe(200);
    expect(read.headers.get('cache-control')).toBe('public, max-age=1');
    expect((await call('GET', product, '/api/products/oa-missing')).status).toBe(404);
    expect((await call('GET', product, '/api/products/bad!id')).status).toBe(422);
    expect(
      (
        await call('PUT', adminProduct, '/api/admin/products/oa-1', {
          json: { name: '', price: 1, stock: -1 },
        })
      ).status,
    ).toBe(422);
    expect(
      (
        await call('PUT', adminProduct, '/api/admin/products/oa-1', {
          raw: '{"name":',
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(400);

    // Holds: granted, keyed replay, key reuse, too many, invalid, unknown product, not JSON, too large.
    const hold = await call('POST', '/api/holds', '/api/holds', { json: { product_id: 'oa-1', qty: 2 } });
    expect(hold.status).toBe(201);
    const holdId = String(dataOf(hold).hold_id);
    const keyed = { 'idempotency-key': 'oa-key-1' };
    const first = await call('POST', '/api/holds', '/api/holds', {
      json: { product_id: 'oa-1', qty: 1 },
      headers: keyed,
    });
    expect(first.status).toBe(201);
    const replay = await call('POST', '/api/holds', '/api/holds', {
      json: { product_id: 'oa-1', qty: 1 },
      headers: keyed,
    });
    expect(dataOf(replay).hold_id).toBe(dataOf(first).hold_id);
    const reused = await call('POST', '/api/holds', '/api/holds', {
      json: { product_id: 'oa-1', qty: 2 },
      headers: keyed,
    });
    expect(errorOf(reused).code).toBe('IDEMPOTENCY_KEY_REUSED');
    const tooMany = await call('POST', '/api/holds', '/api/holds', { json: { product_id: 'oa-1', qty: 5 } });
    expect(tooMany.status).toBe(409);
    expect(errorOf(tooMany).code).toBe('INSUFFICIENT_STOCK');
    expect(
      (await call('POST', '/api/holds', '/api/holds', { json: { product_id: 'oa-1', qty: 0 } })).status,
    ).toBe(422);
    expect(
      (await call('POST', '/api/holds', '/api/holds', { json: { product_id: 'oa-missing', qty: 1 } })).status,
    ).toBe(404);
    expect(
      (
        await call('POST', '/api/holds', '/api/holds', {
          raw: '[1]',
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(400);
    const tooLarge = await call('POST', '/api/holds', '/api/holds', {
      json: { product_id: 'oa-1', qty: 1, pad: 'x'.repeat(20_000) },
    });
    expect(tooLarge.status).toBe(413);
    const belowCommitted = await call('PUT', adminProduct, '/api/admin/products/oa-1', {
      json: { name: 'Doc', price: '12.50', stock: 1 },
    });
    expect(errorOf(belowCommitted).code).toBe('STOCK_BELOW_COMMITTED');

    // Orders: created, repeated, unknown hold, invalid.
    const created = await call('POST', '/api/orders', '/api/orders', { json: { hold_id: holdId } });
    expect(created.status).toBe(201);
    expect((await call('POST', '/api/orders', '/api/orders', { json: { hold_id: holdId } })).status).toBe(
      200,
    );
    expect(
      (await call('POST', '/api/orders', '/api/orders', { json: { hold_id: 'oa-missing' } })).status,
    ).toBe(404);
    expect((await call('POST', '/api/orders', '/api/orders', { json: {} })).status).toBe(422);

    // Webhook: applied, parked until the order exists, the other outcome refused, invalid.
    const paid = await call('POST', webhook, webhook, {
      json: { idempotency_key: 'oa-pay-1', order_id: holdId, status: 'success' },
    });
    expect(dataOf(paid)).toEqual({ order_id: holdId, order_status: 'paid' });
    const parked = await call('POST', webhook, webhook, {
      json: { idempotency_key: 'oa-pay-2', order_id: 'oa-later', status: 'success' },
    });
    expect(parked.status).toBe(202);
    const finalized = await call('POST', webhook, webhook, {
      json: { idempotency_key: 'oa-pay-3', order_id: holdId, status: 'failure' },
    });
    expect(finalized.status).toBe(409);
    expect(errorOf(finalized).code).toBe('ORDER_ALREADY_FINALIZED');
    expect(
      (
        await call('POST', webhook, webhook, {
          json: { idempotency_key: '', order_id: holdId, status: 'maybe' },
        })
      ).status,
    ).toBe(422);

    // Orders: read (paid, so no payment_due_at; a pending one has it), missing.
    expect(dataOf(await call('GET', order, `/api/orders/${holdId}`))).toMatchObject({ status: 'paid' });
    const pending = await call('POST', '/api/orders', '/api/orders', {
      json: { hold_id: String(dataOf(first).hold_id) },
    });
    expect(dataOf(pending)).toHaveProperty('payment_due_at');
    expect((await call('GET', order, '/api/orders/oa-missing')).status).toBe(404);
  });
});
