// `npm start`: DynamoDB Local (or DYNAMODB_ENDPOINT), the table, demo data, the HTTP gateway and the sweeper timer.
import { z } from 'zod';
import { ensureTable, JavaMissing, type LocalDynamo, startLocalDynamo } from './dynamodb.ts';

const parsed = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
    EXPIRY_SWEEP_SECONDS: z.coerce.number().int().min(0).default(60),
    DYNAMODB_ENDPOINT: z.url().optional(),
    TABLE_NAME: z.string().min(3).default('flash-sale-local'),
  })
  .safeParse(process.env);
if (!parsed.success) {
  console.error(`Invalid settings: ${z.prettifyError(parsed.error)}`);
  process.exit(1);
}
const settings = parsed.data;

/** Things to undo on exit, newest first. */
const cleanups: Array<() => Promise<void>> = [];
let dynamo: LocalDynamo | undefined;
let stopping = false;

/** Runs the cleanups once, then exits; later calls (a repeated signal) wait for the first. */
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.error(`shutdown step failed: ${String(error)}`);
    }
  }
  process.exit(code);
}

function fail(message: string): Promise<void> {
  console.error(message);
  return shutdown(1);
}

function curlFlow(base: string, signed: boolean): string {
  const json = "-H 'content-type: application/json'";
  const payment = '{"idempotency_key":"pay-1","order_id":"<order_id>","status":"success"}';
  const webhook = signed
    ? [
        '# 4. the payment webhook, signed with the first of your WEBHOOK_SECRET values (export it in this shell too):',
        `t=$(date +%s); body='${payment}'`,
        `sig=$(printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac "\${WEBHOOK_SECRET%%,*}" | sed 's/^.* //')`,
        `curl -s -X POST ${base}/api/payments/webhook ${json} -H "X-Signature: t=$t,v1=$sig" -d "$body"`,
      ]
    : [
        '# 4. the payment webhook (WEBHOOK_SECRET is unset, so no signature is required):',
        `curl -s -X POST ${base}/api/payments/webhook ${json} -d '${payment}'`,
      ];
  return [
    '# 1. the product',
    `curl -s ${base}/api/products/1`,
    '# 2. hold two units (note data.hold_id)',
    `curl -s -X POST ${base}/api/holds ${json} -d '{"product_id":1,"qty":2}'`,
    '# 3. turn the hold into an order (the order id is the hold id)',
    `curl -s -X POST ${base}/api/orders ${json} -d '{"hold_id":"<hold_id>"}'`,
    ...webhook,
    '# 5. the order is now paid',
    `curl -s ${base}/api/orders/<order_id>`,
  ].join('\n');
}

async function main(): Promise<void> {
  // `on`, not `once`: Ctrl-C reaches us both from the terminal and relayed by tsx, and with no listener left the
  // second copy would kill the process before the cleanups finish.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (!stopping) console.log(`\n${signal}: stopping`);
      void shutdown(0);
    });
  }
  // If anything exits the process without the cleanups, still kill the DynamoDB Local child (kill is synchronous).
  process.once('exit', () => void dynamo?.stop());

  dynamo = await startLocalDynamo({ external: settings.DYNAMODB_ENDPOINT });
  cleanups.push(() => dynamo?.stop() ?? Promise.resolve());
  // Set before any handler or domain module is imported: shared/config.ts reads the environment once, at import.
  process.env.DYNAMODB_ENDPOINT = dynamo.endpoint;
  process.env.TABLE_NAME = settings.TABLE_NAME;
  // Every "Lambda" shares one process and 50 sockets here, and waiting for a socket counts against the connect
  // timeout: give a local burst room instead of answering 503 (a real Lambda keeps the 2 s default).
  process.env.DYNAMODB_CONNECT_TIMEOUT_MS ??= '15000';
  await ensureTable(dynamo.endpoint, settings.TABLE_NAME);

  const { config } = await import('#shared/config.ts');
  // Fault injection (FAULT_INJECTION) and the cloud's contention (CONTENTION_MODE) sit on the one client.
  const { installLocalLayers } = await import('./dynamo-layers.ts');
  const layers = installLocalLayers();
  const contention = layers.contention?.params;
  const { seed } = await import('./seed.ts');
  const seeded = await seed();

  const { startGateway } = await import('./gateway.ts');
  const gateway = await startGateway({ port: settings.PORT, host: process.env.HOST ?? '127.0.0.1' });
  cleanups.push(() => gateway.close());

  const { startSweeper } = await import('./sweeper.ts');
  cleanups.push(startSweeper(settings.EXPIRY_SWEEP_SECONDS));

  const base = gateway.url.replace('http://127.0.0.1', 'localhost');
  console.log(
    [
      '',
      `Flash-sale checkout API listening on ${gateway.url}`,
      `  DynamoDB ${settings.DYNAMODB_ENDPOINT ? 'at' : 'Local started at'} ${dynamo.endpoint}, table ${settings.TABLE_NAME}`,
      `  product 1 ${seeded ? 'seeded' : 'already present'}; hold TTL ${config.HOLD_TTL_SECONDS}s, max ${config.MAX_QTY_PER_HOLD} per hold`,
      `  expiry sweep ${settings.EXPIRY_SWEEP_SECONDS > 0 ? `every ${settings.EXPIRY_SWEEP_SECONDS}s` : 'off'}; webhook signatures ${config.WEBHOOK_SECRET ? 'required' : 'not checked'}`,
      `  contention mode ${contention ? `on (occupancy ${contention.occupancyMs} ms, ${contention.writeUnitsPerSecond} write / ${contention.readUnitsPerSecond} read units/s per partition)` : 'off'}; fault injection ${process.env.FAULT_INJECTION ?? 'off'}`,
      '',
      curlFlow(base, Boolean(config.WEBHOOK_SECRET)),
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  if (error instanceof JavaMissing) return fail(error.message);
  if (error instanceof Error && 'code' in error && error.code === 'EADDRINUSE') {
    return fail(
      `Port ${settings.PORT} is already in use: stop what listens there or run with another, e.g. PORT=${settings.PORT + 1} npm start`,
    );
  }
  if (error instanceof Error && error.message.startsWith('Invalid configuration')) return fail(error.message);
  console.error(error);
  return shutdown(1);
});
