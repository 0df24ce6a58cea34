// `npm run bench`: figures for the hot paths against a real DynamoDB Local (started here unless DYNAMODB_ENDPOINT).
// Prints latency percentiles and throughput; no assertion, no pass/fail: numbers for the README and for regressions.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ensureTable, startLocalDynamo } from '../infra/local/dynamodb.ts';

const { values } = parseArgs({
  options: {
    buyers: { type: 'string', default: '2000' },
    stock: { type: 'string', default: '100' },
    expired: { type: 'string', default: '500' },
  },
});
const buyers = Number(values.buyers);
const stock = Number(values.stock);
const expired = Number(values.expired);

const dynamo = await startLocalDynamo({ external: process.env.DYNAMODB_ENDPOINT });
process.env.DYNAMODB_ENDPOINT = dynamo.endpoint;
process.env.TABLE_NAME = `bench-${randomUUID().slice(0, 8)}`;
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
await ensureTable(dynamo.endpoint, process.env.TABLE_NAME);

const { putProduct, getProduct } = await import('../shared/domain/products.ts');
const { createHold } = await import('../shared/domain/holds.ts');
const { sweep } = await import('../shared/domain/sweeper.ts');

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
function summary(label: string, latencies: number[], wallMs: number) {
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(
    `${label.padEnd(34)} n=${String(latencies.length).padStart(5)}  p50=${percentile(sorted, 50).toFixed(1)}ms  p95=${percentile(sorted, 95).toFixed(1)}ms  p99=${percentile(sorted, 99).toFixed(1)}ms  max=${(sorted.at(-1) ?? 0).toFixed(1)}ms  throughput=${((latencies.length / wallMs) * 1000).toFixed(0)}/s`,
  );
}

async function timed<T>(operation: () => Promise<T>): Promise<{ ms: number; ok: boolean }> {
  const start = performance.now();
  try {
    await operation();
    return { ms: performance.now() - start, ok: true };
  } catch {
    return { ms: performance.now() - start, ok: false };
  }
}

try {
  const now = new Date();
  console.log(`DynamoDB Local at ${dynamo.endpoint}; Node ${process.version}\n`);

  // 1. Burst: `buyers` concurrent holds of 1 unit for `stock` units.
  await putProduct('burst', { name: 'Burst', price: '49.99', currency: 'USD', stock }, now);
  const burstStart = performance.now();
  const burst = await Promise.all(
    Array.from({ length: buyers }, () => timed(() => createHold('burst', 1, now))),
  );
  const burstMs = performance.now() - burstStart;
  summary(
    'burst: all hold requests',
    burst.map((r) => r.ms),
    burstMs,
  );
  summary(
    'burst: granted holds',
    burst.filter((r) => r.ok).map((r) => r.ms),
    burstMs,
  );
  const granted = burst.filter((r) => r.ok).length;
  console.log(
    `  granted=${granted} refused=${buyers - granted} available=${(await getProduct('burst')).available}\n`,
  );

  // 2. Uncontended holds: one at a time, the latency a single buyer sees.
  await putProduct('calm', { name: 'Calm', price: '9.99', currency: 'USD', stock: 100_000 }, now);
  const calm: number[] = [];
  const calmStart = performance.now();
  for (let i = 0; i < 200; i++) calm.push((await timed(() => createHold('calm', 1, now))).ms);
  summary('sequential holds (no contention)', calm, performance.now() - calmStart);

  // 3. Sweep: release `expired` expired holds in one sweep.
  await putProduct('sweep', { name: 'Sweep', price: '1.00', currency: 'USD', stock: expired }, now);
  await Promise.all(Array.from({ length: expired }, () => createHold('sweep', 1, now)));
  const later = new Date(now.getTime() + 10 * 60 * 1000);
  const sweepStart = performance.now();
  const report = await sweep(later);
  const sweepMs = performance.now() - sweepStart;
  console.log(
    `\nsweep: released ${report.holds_released} expired holds (every expired hold in the table) (and ${report.orders_expired} orders) in ${sweepMs.toFixed(0)} ms (${((report.holds_released / sweepMs) * 1000).toFixed(0)}/s)`,
  );
} finally {
  await dynamo.stop();
}
