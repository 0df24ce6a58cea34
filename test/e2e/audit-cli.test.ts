// `npm run audit`: --help, one-line errors, and finding the running `npm start` through its instance file.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { customerUnitsKey } from '../../shared/customers/items.ts';
import { db, tableName } from '../../shared/db/client.ts';
import { createHold } from '../../shared/holds/service.ts';
import { putProduct } from '../../shared/stock/service.ts';
import { collectOutput } from '../support/processes.ts';

const TSX = join(process.cwd(), 'node_modules/tsx/dist/cli.mjs');
const AUDIT = 'scripts/audit.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function stateDir(instance?: object): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'audit-cli-'));
  dirs.push(dir);
  if (instance) await writeFile(join(dir, 'instance.json'), JSON.stringify(instance));
  return dir;
}

/** Runs the audit with no DYNAMODB_ENDPOINT or TABLE_NAME in its environment (the test process has both). */
function audit(args: string[], localStateDir: string) {
  const { DYNAMODB_ENDPOINT: _e, TABLE_NAME: _t, ...env } = process.env;
  const child = spawn(process.execPath, [TSX, AUDIT, ...args], {
    env: { ...env, LOCAL_STATE_DIR: localStateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collectOutput(child);
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, ...output() })),
  );
}

const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');

describe('npm run audit', () => {
  it('--help prints the usage and exits 0', async () => {
    const result = await audit(['--help'], await stateDir());
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: npm run audit -- /);
    expect(result.stdout).toContain('--aws');
    expect(result.stderr).toBe('');
  });

  it('an unknown flag is one line and exit 2', async () => {
    const result = await audit(['--product', '1', '--frobnicate'], await stateDir());
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual([
      "audit: Unknown option '--frobnicate' (npm run audit -- --help shows the options)",
    ]);
  });

  it('with no endpoint and no running npm start: one line on how to point it, exit 2, no AWS call', async () => {
    const gone = await stateDir({ endpoint: 'http://127.0.0.1:9', table: 't', api: 'x', pid: 2 ** 22 + 7 });
    const result = await audit(['--product', '1'], gone);
    expect(result.code).toBe(2);
    const errors = lines(result.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('is not running');
    expect(errors[0]).toContain('--endpoint');
    expect(errors[0]).toContain('npm start');
  });

  it('an unreachable endpoint is one line, exit 2', async () => {
    const result = await audit(['--product', '1', '--endpoint', 'http://127.0.0.1:9'], await stateDir());
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual([
      'audit: cannot reach DynamoDB at http://127.0.0.1:9 (ECONNREFUSED): is npm start running? Point --endpoint at it',
    ]);
  });

  it('finds the running npm start through its instance file; a missing table and product are one line', async () => {
    const table = process.env.TABLE_NAME ?? '';
    await putProduct('1', { name: 'Audit me', price: '1.00', currency: 'USD', stock: 5 }, new Date());
    // This test process stands in for the running instance (its pid is alive).
    const dir = await stateDir({ endpoint: inject('dynamoEndpoint'), table, api: 'x', pid: process.pid });

    const found = await audit(['--product', '1'], dir);
    expect(found.stderr).toBe('');
    expect(found.code).toBe(0);
    expect(found.stdout).toContain(
      `Auditing table ${table} at ${inject('dynamoEndpoint')} (the npm start with pid ${process.pid})`,
    );
    expect(found.stdout).toContain('Ledger balances for 1 product(s)');

    const noTable = await audit(['--product', '1', '--table', 'no-such-table'], dir);
    expect(noTable.code).toBe(2);
    expect(lines(noTable.stderr)).toHaveLength(1);
    expect(noTable.stderr).toContain('audit: no table no-such-table at');

    const noProduct = await audit(['--product', '404'], dir);
    expect(noProduct.code).toBe(2);
    expect(lines(noProduct.stderr)).toEqual([`audit: no product 404 in table ${table}`]);
  });

  it('reports a customer counter that drifted (exit 1) and --repair sets it back (then exit 0)', async () => {
    const product = 'limited-audit';
    const body = { name: 'Limited', price: '1.00', currency: 'USD', stock: 5, max_per_customer: 2 };
    await putProduct(product, body, new Date());
    await createHold(product, 1, new Date(), 'alice');
    await db.send(
      new UpdateCommand({
        TableName: tableName,
        Key: customerUnitsKey('alice', product),
        UpdateExpression: 'SET units = :wrong',
        ExpressionAttributeValues: { ':wrong': 2 },
      }),
    );
    const dir = await stateDir({
      endpoint: inject('dynamoEndpoint'),
      table: tableName,
      api: 'x',
      pid: process.pid,
    });

    const found = await audit(['--product', product], dir);
    expect(found.code).toBe(1);
    expect(found.stdout).toContain('Per customer (allowance counters):');
    expect(found.stdout).toContain('customer alice product limited-audit: counter 2, holds and orders say 1');

    const repaired = await audit(['--product', product, '--repair'], dir);
    expect(repaired.stdout).toContain('customer alice product limited-audit: counter 2 -> 1');

    const after = await audit(['--product', product], dir);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('Ledger balances for 1 product(s)');
  });
});
