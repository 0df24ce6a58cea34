// `npm run bench`: hold throughput on one hot product under the contention endpoint, handler vs raw DynamoDB cost,
// and sweep speed, against DynamoDB Local (started here unless DYNAMODB_ENDPOINT); medians of --runs.
// Sections: contended.ts, calm.ts, sweep.ts; the raw floors (raw.ts) are built by the aggregates' own builders.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { startContentionEndpoint } from '../../infra/local/contention.ts';
import { ensureTable, type LocalDynamo, startLocalDynamo } from '../../infra/local/dynamodb.ts';
import type { FunctionStats } from '../../infra/local/environments.ts';
import { CALM_WORKERS, contentionParams, type Options, parseCli, prepareEnvironment } from './cli.ts';

/** Per function: environments started (cold starts) and anything that did not return normally. */
function printEnvironmentStats(stats: Record<string, FunctionStats>): void {
  const line = Object.entries(stats)
    .map(
      ([id, s]) =>
        `${id}: ${s.peakEnvironments} environments (cap ${s.cap}), ${s.coldStarts} cold starts, ${s.invocations} invocations, ${s.throttles} throttled, ${s.timeouts} timed out, ${s.errors} errors`,
    )
    .join('; ');
  console.log(`
execution environments: ${line}`);
}

/** Ctrl-C or a kill still stops the DynamoDB Local this script started. */
function stopOnSignals(local: LocalDynamo): void {
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\nbench: ${signal}, stopping DynamoDB Local`);
    void local.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

async function bench(local: LocalDynamo, options: Options): Promise<void> {
  const { params, note } = contentionParams();
  if (note) console.log(note);
  // Every client goes through the endpoint; the contended section turns the mode on, the rest forwards.
  const contention = await startContentionEndpoint({ upstream: local.endpoint, params });
  contention.setParams(undefined);
  try {
    process.env.DYNAMODB_ENDPOINT = contention.endpoint;
    process.env.TABLE_NAME = `bench-${randomUUID().slice(0, 8)}`;
    await ensureTable(local.endpoint, process.env.TABLE_NAME);
    // The app's modules read the environment when they load: only now.
    const [{ runSuite }, { oneProcess }, { startEnvironments }] = await Promise.all([
      import('./suite.ts'),
      import('./app.ts'),
      import('./environments.ts'),
    ]);
    console.log(
      `DynamoDB Local at ${local.endpoint} behind the contention endpoint ${contention.endpoint}, table ${process.env.TABLE_NAME}; Node ${process.version}; ${options.runs} run(s)`,
    );
    const lambda = options.models.includes('lambda')
      ? await startEnvironments(options.environments, CALM_WORKERS, 'environments')
      : undefined;
    try {
      const callers = options.models.map((model) =>
        model === 'lambda' && lambda
          ? { caller: lambda.caller, workers: options.environments, barred: true }
          : { caller: oneProcess, workers: options.concurrency, barred: false },
      );
      await runSuite({
        contention,
        params,
        options,
        contended: callers,
        calm: lambda?.caller ?? oneProcess,
        past: new Date(Date.now() - 3_600_000),
      });
      if (lambda) printEnvironmentStats(lambda.runtime.stats());
    } finally {
      await lambda?.close();
    }
  } finally {
    await contention.close();
  }
}

async function main(): Promise<void> {
  const options = parseCli(process.argv.slice(2));
  prepareEnvironment();
  const started = performance.now();
  const local = await startLocalDynamo({ external: process.env.DYNAMODB_ENDPOINT });
  stopOnSignals(local);
  try {
    await bench(local, options);
  } finally {
    await local.stop();
  }
  console.log(`\ntotal ${Math.round((performance.now() - started) / 1000)} s`);
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  // Workers of a failed measurement may still be looping against the stopped database: do not wait for them.
  process.exit(1);
});
