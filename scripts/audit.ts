// `npm run audit -- --product <id> | --all [--repair] [--endpoint <url> | --aws] [--table <name>]`: checks the ledger.
// Without --endpoint or --aws it audits the running `npm start` (found through .local/instance.json); it never falls
// through to real AWS by accident.

// The AWS SDK warns at every client it builds that its releases after January 2027 need Node 22+. Lambda runs Node 24
// and local use and CI run Node 20.19+, so here it is noise. @aws-sdk/core's emitWarningIfUnsupportedVersion reads
// this when a client is built; every SDK import below is dynamic, after this line.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { parseArgs } from 'node:util';
import { instanceFile, readInstance, runningInstance } from '../infra/local/instance.ts';

const USAGE = `usage: npm run audit -- (--product <id> | --all) [--repair] [--endpoint <url> | --aws] [--table <name>]

Checks the stock ledger (stock == available + active holds + pending orders + paid orders, per bucket and product).

  --product <id>     audit one product
  --all              audit every product
  --repair           fix stock and customer counter drift with conditional writes
  --endpoint <url>   a DynamoDB Local, e.g. http://127.0.0.1:8000 (default: the running \`npm start\`, found
                     through .local/instance.json; the DYNAMODB_ENDPOINT variable works too)
  --aws              the real table in AWS, with the usual credentials and region (AWS_PROFILE, AWS_REGION);
                     needs --table (or TABLE_NAME)
  --table <name>     the table (default: the running instance's, else TABLE_NAME, else flash-sale-local)
  -h, --help         this text

Exit codes: 0 the ledger balances, 1 violations found, 2 usage or connection problem, unknown product.`;

/** One line on stderr, exit 2: no stack trace for things a user can fix. */
function die(message: string): never {
  console.error(`audit: ${message}`);
  process.exit(2);
}

let values: {
  product?: string;
  all?: boolean;
  repair?: boolean;
  table?: string;
  endpoint?: string;
  aws?: boolean;
  help?: boolean;
};
try {
  ({ values } = parseArgs({
    options: {
      product: { type: 'string' },
      all: { type: 'boolean', default: false },
      repair: { type: 'boolean', default: false },
      table: { type: 'string' },
      endpoint: { type: 'string' },
      aws: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  // ERR_PARSE_ARGS_UNKNOWN_OPTION, ERR_PARSE_ARGS_INVALID_OPTION_VALUE, ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL
  die(`${(error as Error).message.split('\n')[0]} (npm run audit -- --help shows the options)`);
}

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!values.product && !values.all) die('say what to audit: --product <id> or --all (see --help)');
if (values.aws && values.endpoint) die('--aws and --endpoint exclude each other: pick one');
if (values.endpoint && !URL.canParse(values.endpoint)) die(`--endpoint ${values.endpoint} is not a URL`);

// Where to look: --endpoint, --aws, DYNAMODB_ENDPOINT, or the running `npm start`. Never AWS by default.
let endpoint: string | undefined;
let table = values.table;
let where: string;
if (values.endpoint) {
  endpoint = values.endpoint;
  where = endpoint;
} else if (values.aws) {
  delete process.env.DYNAMODB_ENDPOINT;
  table ??= process.env.TABLE_NAME;
  if (!table) die('--aws needs the table: --table <name> (the data stack prints it as TableName)');
  where = `AWS (${process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'region from your profile'})`;
} else if (process.env.DYNAMODB_ENDPOINT) {
  endpoint = process.env.DYNAMODB_ENDPOINT;
  where = `${endpoint} (DYNAMODB_ENDPOINT)`;
} else {
  const instance = runningInstance();
  if (!instance) {
    const stale = readInstance();
    die(
      `${stale ? `the npm start recorded in ${instanceFile()} (pid ${stale.pid}) is not running` : 'no running npm start found'}: start one (npm start), or pass --endpoint http://127.0.0.1:<port> for a DynamoDB Local, or --aws --table <name> for the real table`,
    );
  }
  endpoint = instance.endpoint;
  table ??= instance.table;
  where = `${endpoint} (the npm start with pid ${instance.pid})`;
}
table ??= process.env.TABLE_NAME ?? 'flash-sale-local';

// Config is read when the data modules load, so settle the environment first.
process.env.TABLE_NAME = table;
if (endpoint) process.env.DYNAMODB_ENDPOINT = endpoint;
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';

/** A one-line reason for a failed call: unreachable endpoint, missing table, credentials. */
function reason(error: unknown): string {
  const e = error as { name?: string; message?: string; code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ECONNRESET' || e.name === 'TimeoutError')
    return `cannot reach DynamoDB at ${where} (${code ?? e.name}): is npm start running? Point --endpoint at it`;
  if (e.name === 'ResourceNotFoundException') return `no table ${table} at ${where} (pass --table <name>)`;
  return `${e.name ?? 'Error'}: ${(e.message ?? String(error)).split('\n')[0]} (at ${where}, table ${table})`;
}

// One quick, unretried call first, so a wrong endpoint or table is one line now rather than a retried stack trace.
const { DynamoDBClient, DescribeTableCommand } = await import('@aws-sdk/client-dynamodb');
const probe = new DynamoDBClient({
  maxAttempts: 1,
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
  ...(endpoint
    ? {
        endpoint,
        region: process.env.AWS_REGION ?? 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      }
    : {}),
});
try {
  await probe.send(new DescribeTableCommand({ TableName: table }));
} catch (error) {
  die(reason(error));
} finally {
  probe.destroy();
}
console.log(`Auditing table ${table} at ${where}`);

const { checkLedger, repairCustomerDrift, repairDrift } = await import('../shared/audit/ledger.ts');
try {
  const report = await checkLedger(values.all ? undefined : values.product);

  if (values.product && report.products.length === 0) {
    die(`no product ${values.product} in table ${table}`);
  }
  console.log('Per bucket:');
  console.table(report.buckets);
  console.log('Per product (all buckets together):');
  console.table(report.products);
  if (report.customers.length > 0) {
    console.log('Per customer (allowance counters):');
    console.table(report.customers);
  }
  if (values.repair) {
    for (const row of report.buckets.filter((r) => r.drift !== 0)) {
      const fixed = await repairDrift(row);
      console.log(
        `${row.product_id}#${row.bucket}: ${fixed ? `available ${row.available} -> ${row.available + row.drift}` : 'not repaired (changed meanwhile, or oversold: needs a human)'}`,
      );
    }
    for (const row of report.customers.filter((r) => r.drift !== 0)) {
      const fixed = await repairCustomerDrift(row);
      console.log(
        `customer ${row.customer_id} product ${row.product_id}: ${fixed ? `counter ${row.counter} -> ${row.counter + row.drift}` : 'not repaired (changed meanwhile)'}`,
      );
    }
  }
  if (report.violations.length > 0) {
    console.log(`\n${report.violations.length} violation(s):\n- ${report.violations.join('\n- ')}`);
    process.exitCode = 1;
  } else {
    console.log(
      `\nLedger balances for ${report.products.length} product(s), ${report.buckets.length} stock bucket(s), ${report.customers.length} customer counter(s).`,
    );
  }
} catch (error) {
  die(reason(error));
}
