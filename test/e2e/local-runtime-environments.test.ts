// The local runtime's execution model: one environment per concurrent invocation up to the function's cap, cold
// starts, the throttle and timeout answers, and nothing shared between environments but DynamoDB.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { type FunctionDefinition, type Runtime, startRuntime } from '../../infra/local/environments.ts';
import { type Gateway, startGateway } from '../../infra/local/gateway.ts';
import { type RouteDefinition, routes } from '../../infra/routes.ts';
import type { ProbeAnswer } from '../support/environment-probe.ts';
import { apiClient, dataOf } from '../support/http.ts';

const probe = {
  id: 'probe',
  method: 'POST',
  path: '/probe',
  entry: 'test/support/environment-probe.ts',
  access: 'none',
  auth: 'none',
} as const satisfies RouteDefinition & FunctionDefinition;

const started: Array<{ close: () => Promise<void> }> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const thing of started.splice(0).reverse()) await thing.close();
});

async function runtimeOf(options: Parameters<typeof startRuntime>[0]): Promise<Runtime> {
  const runtime = await startRuntime(options);
  started.push(runtime);
  return runtime;
}

async function gatewayOf(
  runtime: Runtime,
  gatewayRoutes: readonly RouteDefinition[] = routes,
): Promise<Gateway> {
  const gateway = await startGateway({ port: 0, runtime, routes: gatewayRoutes });
  started.push(gateway);
  return gateway;
}

/** The environments' stdout, as text, and their JSON log lines. */
function logCollector() {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  return {
    logs: { stdout, stderr: new PassThrough() },
    lines: () =>
      text
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/**
 * A DynamoDB endpoint in front of the real one that holds every request until `open()`: the functions pointed at it
 * stay busy inside their first DynamoDB call for as long as the test wants.
 */
async function dynamoGate(upstream: string) {
  const held: Array<() => void> = [];
  const watchers: Array<{ count: number; resolve: () => void }> = [];
  let open = false;
  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const out = httpRequest(
      new URL(req.url ?? '/', upstream),
      { method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 500, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    out.end(body);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const send = () => forward(req, res, Buffer.concat(chunks));
      if (open) return send();
      held.push(send);
      for (const watcher of watchers) if (held.length >= watcher.count) watcher.resolve();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const gate = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held.length,
    /** Resolves once `count` requests are being held. */
    holding: (count: number) =>
      new Promise<void>((resolve) => {
        if (held.length >= count) resolve();
        else watchers.push({ count, resolve });
      }),
    open: () => {
      open = true;
      for (const send of held.splice(0)) send();
    },
    close: () =>
      new Promise<void>((resolve) => {
        gate.open();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  started.push(gate);
  return gate;
}

describe('the Lambda-model runtime behind the gateway', () => {
  it('starts a create-hold environment per concurrent first hold, answers GET product meanwhile and throttles past the cap', async () => {
    const gate = await dynamoGate(inject('dynamoEndpoint'));
    const { logs, lines } = logCollector();
    const runtime = await runtimeOf({
      // create-hold's first invocations wait at the gate until the slowest of 16 cold starts is in: on a loaded
      // machine that may take longer than the 10 s timeout, which this test is not about.
      functions: routes.map((route) =>
        route.id === 'create-hold' ? { ...route, timeoutMs: 120_000 } : route,
      ),
      caps: { 'create-hold': 16 },
      throttleWaitMs: 300,
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'INFO' },
      // Only create-hold waits at the gate; every other function reaches DynamoDB Local directly.
      functionEnv: { 'create-hold': { DYNAMODB_ENDPOINT: gate.url } },
      logs,
    });
    const gateway = await gatewayOf(runtime);
    const api = apiClient(gateway.url);
    const product = `p-${Date.now().toString(36)}`;
    expect(
      (await api.put(`/api/admin/products/${product}`, { name: 'P', price: '1.00', stock: 100 })).status,
    ).toBe(201);

    const holds = Array.from({ length: 16 }, () => api.post('/api/holds', { product_id: product, qty: 1 }));
    // Every one of the 16 environments is inside its first DynamoDB call, held there.
    await gate.holding(16);
    const view = await api.get(`/api/products/${product}`);
    const throttled = await fetch(`${gateway.url}/api/holds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ product_id: product, qty: 1 }),
    });
    const heldMeanwhile = gate.held();
    gate.open();
    const answers = await Promise.all(holds);

    expect(dataOf(view)).toMatchObject({ id: product, available: 100 });
    expect(heldMeanwhile).toBe(16);
    expect(throttled.status).toBe(503);
    expect(await throttled.json()).toEqual({ message: 'Service Unavailable' });
    expect(answers.map((answer) => answer.status)).toEqual(Array(16).fill(201));
    expect(runtime.stats()['create-hold']).toMatchObject({
      cap: 16,
      coldStarts: 16,
      peakEnvironments: 16,
      throttles: 1,
      invocations: 17,
    });
    const coldHolds = lines().filter(
      (line) =>
        line.message === 'hold_created' && line.function_name === 'create-hold' && line.cold_start === true,
    );
    expect(new Set(coldHolds.map((line) => line.function_request_id)).size).toBe(16);
  });

  it('answers a function past its timeout as API Gateway does, and replaces the killed environment', async () => {
    const runtime = await runtimeOf({ functions: [{ ...probe, timeoutMs: 500 }] });
    const gateway = await gatewayOf(runtime, [probe]);

    const late = await fetch(`${gateway.url}/probe`, {
      method: 'POST',
      body: JSON.stringify({ workMs: 5_000 }),
    });
    const next = await runtime.invoke('probe', { workMs: 0 });

    expect(late.status).toBe(500);
    expect(await late.json()).toEqual({ message: 'Internal Server Error' });
    expect(next).toMatchObject({ outcome: 'success', coldStart: true, environment: 'probe#2' });
    expect(runtime.stats().probe).toMatchObject({ timeouts: 1, coldStarts: 2, environments: 1 });
  });

  it('answers 500 INTERNAL_ERROR when a function fails its init, and tries a new environment next time', async () => {
    const runtime = await runtimeOf({ functions: [probe], functionEnv: { probe: { PROBE_FAIL_INIT: '1' } } });
    const gateway = await gatewayOf(runtime, [probe]);

    const first = await fetch(`${gateway.url}/probe`, { method: 'POST', body: '{}' });
    const second = await runtime.invoke('probe', {});

    expect(first.status).toBe(500);
    expect(await first.json()).toMatchObject({ success: false, error: { code: 'INTERNAL_ERROR' } });
    expect(second).toMatchObject({ outcome: 'error', phase: 'init', coldStart: true });
    expect(second.outcome === 'error' && second.error.message).toContain('PROBE_FAIL_INIT');
    expect(runtime.stats().probe).toMatchObject({ coldStarts: 2, errors: 2 });
  });
});

describe('execution environments', () => {
  it('serve one invocation at a time, each with its own module instance, never more than the cap', async () => {
    const runtime = await runtimeOf({ functions: [probe], caps: { probe: 3 } });

    const invocations = await Promise.all(
      Array.from({ length: 6 }, () => runtime.invoke('probe', { workMs: 300 })),
    );

    const answers = invocations.map((invocation) => {
      if (invocation.outcome !== 'success') throw new Error(JSON.stringify(invocation));
      return invocation.result as ProbeAnswer;
    });
    expect(answers.map((answer) => answer.concurrent)).toEqual(Array(6).fill(1));
    const instances = new Set(answers.map((answer) => answer.instance));
    expect(instances.size).toBe(3);
    for (const instance of instances) {
      expect(
        answers
          .filter((answer) => answer.instance === instance)
          .map((a) => a.served)
          .sort(),
      ).toEqual([1, 2]);
    }
    expect(
      invocations.filter((invocation) => invocation.outcome === 'success' && invocation.coldStart),
    ).toHaveLength(3);
    expect(runtime.stats().probe).toMatchObject({ cap: 3, peakEnvironments: 3, coldStarts: 3, throttles: 0 });
  });

  it('read the clock of the process that invokes them, moved or not', async () => {
    const runtime = await runtimeOf({ functions: [probe] });
    const real = await runtime.invoke('probe', {});
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 3_600_000);

    const moved = await runtime.invoke('probe', {});

    const nowOf = (invocation: typeof real) =>
      invocation.outcome === 'success' ? (invocation.result as ProbeAnswer).now : Number.NaN;
    expect(Math.abs(nowOf(real) - performance.timeOrigin - performance.now())).toBeLessThan(60_000);
    expect(Math.abs(nowOf(moved) - Date.now())).toBeLessThan(60_000);
  });
});
