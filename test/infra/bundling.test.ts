// Real esbuild bundling (no Docker): every function's asset is a minified CommonJS bundle with a source map,
// the AWS SDK inside it, and a `handler` export that loads and answers.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FunctionId } from '../../infra/api-stack.ts';
import { routes, sweeper } from '../../infra/routes.ts';
import { type BuiltStage, buildStage, functionLogicalId, resourceOf } from './fixture.ts';

const functionIds: FunctionId[] = [...routes.map((route) => route.id), sweeper.id];

const sdkPackages = Object.keys(
  (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      dependencies: object;
    }
  ).dependencies,
).filter((name) => name.startsWith('@aws-sdk/'));

/** Runs `script` in a fresh Node process with only the environment the function gets in the cloud. */
function runNode(script: string, args: string[]) {
  return spawnSync(process.execPath, ['--no-warnings', '-e', script, ...args], {
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

describe('function bundles', () => {
  let built: BuiltStage;
  let assemblyDir: string;
  const bundleOf = (id: FunctionId) => {
    const metadata = resourceOf(built.apiTemplate, functionLogicalId(built, id)).Metadata ?? {};
    expect(metadata['aws:asset:is-bundled']).toBe(true);
    return path.join(assemblyDir, String(metadata['aws:asset:path']));
  };

  beforeAll(() => {
    built = buildStage({ bundle: true });
    // The assembly lives in the OS temp dir: no package.json with "type": "module" above it, as in Lambda.
    assemblyDir = built.app.synth().directory;
  });

  it.each(functionIds)(
    'GIVEN %s WHEN bundled THEN index.js is minified, source-mapped and carries the SDK',
    (id) => {
      const dir = bundleOf(id);
      expect(existsSync(path.join(dir, 'index.js.map'))).toBe(true);
      const code = readFileSync(path.join(dir, 'index.js'), 'utf8');
      expect(code.trimEnd().endsWith('//# sourceMappingURL=index.js.map')).toBe(true);
      expect(code.split('\n').length).toBeLessThan(1000);
      expect(code).toContain('DynamoDB_20120810');
      for (const sdk of sdkPackages) expect(code, sdk).not.toContain(`require("${sdk}")`);
      // Test and local machinery (infra/local) never ships: its middleware names and messages are absent.
      for (const local of ['faultInjection', 'contentionMode', 'Simulated socket timeout']) {
        expect(code, local).not.toContain(local);
      }
    },
  );

  it('GIVEN every bundle WHEN required as CommonJS THEN it loads without top-level await and exports handler', () => {
    const bundles = functionIds.map((id) => path.join(bundleOf(id), 'index.js'));
    const result = runNode(
      'for (const file of process.argv.slice(1)) console.log(typeof require(file).handler);',
      bundles,
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual(functionIds.map(() => 'function'));
  });

  it('GIVEN the health bundle WHEN invoked with an HTTP API v2 event THEN it answers 200 ok', () => {
    const result = runNode(
      `const { handler } = require(process.argv[1]);
       const event = { version: '2.0', routeKey: 'GET /api/health', rawPath: '/api/health', rawQueryString: '',
         headers: {}, isBase64Encoded: false,
         requestContext: { requestId: 'r-1', routeKey: 'GET /api/health',
           http: { method: 'GET', path: '/api/health', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 't' } } };
       const context = { awsRequestId: 'r-1', functionName: 'health', functionVersion: '$LATEST',
         invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:health', memoryLimitInMB: '512',
         getRemainingTimeInMillis: () => 10000 };
       handler(event, context).then((response) => console.log(JSON.stringify(response)));`,
      [path.join(bundleOf('health'), 'index.js')],
    );
    expect(result.stderr).toBe('');
    const response = JSON.parse(result.stdout) as { statusCode: number; body: string };
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ data: { status: 'ok' } });
  });
});
