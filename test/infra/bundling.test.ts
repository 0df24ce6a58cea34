// Real esbuild bundling (no Docker): every function's asset is a minified, tree-shaken ES module (index.mjs) with a
// source map, the AWS SDK inside it when it uses one, only the clients it uses, within its size budget, and a
// `handler` export that loads and answers.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FunctionId } from '../../infra/api-stack.ts';
import { routes, sweeper } from '../../infra/routes.ts';
import { type BuiltStage, buildStage, functionLogicalId, resourceOf } from './fixture.ts';

const functionIds: FunctionId[] = [...routes.map((route) => route.id), sweeper.id];

/** Bundle size budgets (the index.mjs file, not the map): cold start grows with the code a function loads. */
const BUDGET_KB = { health: 100, other: 800 };

const sdkPackages = Object.keys(
  (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      dependencies: object;
    }
  ).dependencies,
).filter((name) => name.startsWith('@aws-sdk/'));

/** Runs `script` as an ES module in a fresh Node process with only the environment the function gets in the cloud. */
function runNode(script: string, args: string[]) {
  return spawnSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', script, ...args], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      TABLE_NAME: 'checkout-table',
      AWS_REGION: 'eu-west-1',
      WEBHOOK_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:webhook-AbCdEf',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    },
  });
}

const healthEvent = (body?: string) => ({
  version: '2.0',
  routeKey: 'GET /api/health',
  rawPath: '/api/health',
  rawQueryString: '',
  headers: {},
  ...(body === undefined ? {} : { body }),
  isBase64Encoded: false,
  requestContext: {
    requestId: 'r-1',
    routeKey: 'GET /api/health',
    http: { method: 'GET', path: '/api/health', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 't' },
  },
});

/** Invokes the bundle's handler with `event` and returns its answer as it would go back to API Gateway. */
function invokeBundle(file: string, event: unknown) {
  const result = runNode(
    `const { handler } = await import(process.argv[1]);
     const context = { awsRequestId: 'r-1', functionName: 'health', functionVersion: '$LATEST',
       invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:health', memoryLimitInMB: '512',
       getRemainingTimeInMillis: () => 10000 };
     console.log(JSON.stringify(await handler(JSON.parse(process.argv[2]), context)));`,
    [pathToFileURL(file).href, JSON.stringify(event)],
  );
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as unknown;
}

describe('function bundles', () => {
  let built: BuiltStage;
  let assemblyDir: string;
  const bundleOf = (id: FunctionId) => {
    const metadata = resourceOf(built.apiTemplate, functionLogicalId(built, id)).Metadata ?? {};
    expect(metadata['aws:asset:is-bundled']).toBe(true);
    return path.join(assemblyDir, String(metadata['aws:asset:path']));
  };
  const codeOf = (id: FunctionId) => readFileSync(path.join(bundleOf(id), 'index.mjs'), 'utf8');

  beforeAll(() => {
    built = buildStage({ bundle: true });
    // The assembly lives in the OS temp dir: no package.json with "type": "module" above it, as in Lambda.
    assemblyDir = built.app.synth().directory;
  });

  it.each(functionIds)(
    'GIVEN %s WHEN bundled THEN index.mjs is a minified ES module with its source map and no local machinery',
    (id) => {
      const dir = bundleOf(id);
      expect(existsSync(path.join(dir, 'index.js')), 'no CommonJS bundle').toBe(false);
      expect(existsSync(path.join(dir, 'index.mjs.map'))).toBe(true);
      const code = codeOf(id);
      expect(code.trimEnd().endsWith('//# sourceMappingURL=index.mjs.map')).toBe(true);
      expect(code.split('\n').length).toBeLessThan(1000);
      // Nothing the runtime must provide: the SDK is inside (imported, required or loaded lazily, it would show).
      for (const sdk of sdkPackages) {
        for (const reference of [`from"${sdk}"`, `import("${sdk}")`, `require("${sdk}")`]) {
          expect(code, reference).not.toContain(reference);
        }
      }
      // Test and local machinery (infra/local) never ships: its middleware names and messages are absent.
      for (const local of ['faultInjection', 'contentionMode', 'Simulated socket timeout']) {
        expect(code, local).not.toContain(local);
      }
    },
  );

  it.each(functionIds)('GIVEN %s WHEN bundled THEN it stays within its size budget', (id) => {
    const kb = statSync(path.join(bundleOf(id), 'index.mjs')).size / 1024;
    const budget = id === 'health' ? BUDGET_KB.health : BUDGET_KB.other;
    expect(kb, `${id}: ${kb.toFixed(0)} KB`).toBeLessThanOrEqual(budget);
  });

  it.each(functionIds)('GIVEN %s WHEN bundled THEN it carries only the AWS clients it uses', (id) => {
    const code = codeOf(id);
    // health touches no dependency at all; every other function reads or writes the table.
    expect(code.includes('DynamoDB_20120810'), 'DynamoDB client').toBe(id !== 'health');
    // The payment routes read their signing secret from Secrets Manager; nothing else does.
    const signed = routes.some((route) => route.id === id && 'signingSecret' in route);
    expect(code.includes('GetSecretValue'), 'Secrets Manager client').toBe(signed);
  });

  it.each(functionIds)(
    'GIVEN %s WHEN bundled THEN it carries no payment provider SDK (node:crypto verifies)',
    (id) => {
      const code = codeOf(id);
      // stripe-node's and @adyen/api-library's endpoints and validator: tests sign with them, no bundle ships them.
      for (const marker of ['api.stripe.com', 'adyen.com', 'HmacValidator'])
        expect(code, marker).not.toContain(marker);
    },
  );

  it('GIVEN the health bundle WHEN bundled THEN it has no SDK, no zod, no Powertools and no configuration parsing', () => {
    const code = codeOf('health');
    for (const absent of ['smithy', 'ZodError', 'POWERTOOLS_', 'TABLE_NAME']) {
      expect(code, absent).not.toContain(absent);
    }
  });

  it('GIVEN every bundle WHEN imported as an ES module THEN it loads and exports handler', () => {
    const bundles = functionIds.map((id) => pathToFileURL(path.join(bundleOf(id), 'index.mjs')).href);
    const result = runNode(
      'for (const file of process.argv.slice(1)) console.log(typeof (await import(file)).handler);',
      bundles,
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual(functionIds.map(() => 'function'));
  });

  it('GIVEN the health bundle WHEN invoked with an HTTP API v2 event THEN it answers exactly what the shared stack answered', () => {
    const file = path.join(bundleOf('health'), 'index.mjs');
    const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

    expect(invokeBundle(file, healthEvent())).toEqual({
      statusCode: 200,
      headers,
      body: '{"success":true,"data":{"status":"ok"}}',
    });
    expect(invokeBundle(file, healthEvent('x'.repeat(16 * 1024 + 1)))).toEqual({
      statusCode: 413,
      headers,
      body: '{"success":false,"error":{"code":"PAYLOAD_TOO_LARGE","message":"Request body exceeds 16384 bytes"}}',
    });
  });
});
