// `npm run contention -- --upstream <url>`: the contention endpoint on its own, in front of any DynamoDB Local, for
// clients `npm start` does not launch (SAM's containers, a script on another machine) until Ctrl-C.
import { parseArgs } from 'node:util';
import {
  CLOUD_SCALED,
  type ContentionParams,
  parseContentionSpec,
  STATS_PATH,
  startContentionEndpoint,
} from '../infra/local/contention.ts';

const USAGE = `usage: npm run contention -- --upstream <url> [--port <n>] [--host <address>]

Runs the contention endpoint (docs/design/contention-mode.md) in front of the DynamoDB Local at <url>; point any
DynamoDB client at the address it prints. CONTENTION_MODE picks the parameters (default scaled).

  --upstream <url>   DynamoDB Local, e.g. http://127.0.0.1:8000 (docker-compose.local.yml)
  --port <n>         where to listen (default 8001; 0 picks a free port)
  --host <address>   the interface (default 127.0.0.1; 0.0.0.0 for SAM's containers)
  -h, --help         this text

Exit codes: 0 stopped by a signal, 2 usage problem or the port is taken.`;

function die(message: string): never {
  console.error(`contention: ${message}`);
  process.exit(2);
}

let values: { upstream?: string; port?: string; host?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      upstream: { type: 'string' },
      port: { type: 'string', default: '8001' },
      host: { type: 'string', default: '127.0.0.1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  die(`${(error as Error).message.split('\n')[0]} (npm run contention -- --help shows the options)`);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!values.upstream || !URL.canParse(values.upstream))
  die('--upstream <url> of a DynamoDB Local is required');
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) die(`--port ${values.port} is not a port`);

let params: ContentionParams | undefined;
try {
  params = process.env.CONTENTION_MODE ? parseContentionSpec(process.env.CONTENTION_MODE) : CLOUD_SCALED;
} catch (error) {
  die((error as Error).message);
}
if (!params) die(`CONTENTION_MODE=${process.env.CONTENTION_MODE} turns the mode off: nothing to run`);

const contention = await startContentionEndpoint({
  upstream: values.upstream,
  params,
  port,
  host: values.host,
}).catch((error: NodeJS.ErrnoException) =>
  die(error.code === 'EADDRINUSE' ? `port ${port} is already in use` : error.message),
);
console.log(
  `contention endpoint ${contention.endpoint} in front of ${values.upstream}: occupancy ${params.occupancyMs} ms, ` +
    `${params.writeUnitsPerSecond} write / ${params.readUnitsPerSecond} read units/s per partition; ` +
    `counters: curl ${contention.endpoint}${STATS_PATH}`,
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    const { forwarded, transactionConflicts, writeConflicts, throttles } = contention.stats();
    console.log(
      `${signal}: stopping after ${forwarded} requests forwarded, ${transactionConflicts} transaction conflicts, ` +
        `${writeConflicts} write conflicts, ${throttles} throttles`,
    );
    void contention.close().then(() => process.exit(0));
  });
}
