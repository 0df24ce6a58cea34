// `npm run audit -- --product <id> | --all [--repair] [--table <name>] [--endpoint <url>]`: checks the ledger.
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    product: { type: 'string' },
    all: { type: 'boolean', default: false },
    repair: { type: 'boolean', default: false },
    table: { type: 'string' },
    endpoint: { type: 'string' },
  },
});

if (!values.product && !values.all) {
  console.error(
    'usage: npm run audit -- --product <id> | --all [--repair] [--table <name>] [--endpoint <url>]',
  );
  process.exit(2);
}
// Config is read when the data modules load, so settle the environment first.
if (values.table) process.env.TABLE_NAME = values.table;
if (values.endpoint) process.env.DYNAMODB_ENDPOINT = values.endpoint;
process.env.TABLE_NAME ??= 'flash-sale-local';
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';

const { checkLedger, repairDrift } = await import('../shared/audit/ledger.ts');
const report = await checkLedger(values.all ? undefined : values.product);

if (values.product && report.products.length === 0) {
  console.error(`No product ${values.product} in table ${process.env.TABLE_NAME}.`);
  process.exit(2);
}
console.log('Per bucket:');
console.table(report.buckets);
console.log('Per product (all buckets together):');
console.table(report.products);
if (values.repair) {
  for (const row of report.buckets.filter((r) => r.drift !== 0)) {
    const fixed = await repairDrift(row);
    console.log(
      `${row.product_id}#${row.bucket}: ${fixed ? `available ${row.available} -> ${row.available + row.drift}` : 'not repaired (changed meanwhile, or oversold: needs a human)'}`,
    );
  }
}
if (report.violations.length > 0) {
  console.log(`\n${report.violations.length} violation(s):\n- ${report.violations.join('\n- ')}`);
  process.exitCode = 1;
} else {
  console.log(
    `\nLedger balances for ${report.products.length} product(s), ${report.buckets.length} stock bucket(s).`,
  );
}
