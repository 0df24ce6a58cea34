// Least privilege: each function's role holds exactly what its code sends, and nothing holds a wildcard action.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Match } from 'aws-cdk-lib/assertions';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FunctionId } from '../../infra/api-stack.ts';
import { routes, sweeper } from '../../infra/routes.ts';
import { type BuiltStage, buildStage, permissionsOf, templateJson } from './fixture.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

const logs = ['logs:CreateLogStream on own log group', 'logs:PutLogEvents on own log group'];
const tracing = ['xray:PutTelemetryRecords on *', 'xray:PutTraceSegments on *'];
// Consistent GetItem by key; queries name an index, never the base table.
const read = ['dynamodb:GetItem on table'];
const write = [...read, 'dynamodb:PutItem on table', 'dynamodb:UpdateItem on table'];
// Powertools idempotency deletes its in-progress record when the handler fails; a lease is deleted when given back.
const idempotency = ['dynamodb:DeleteItem on table'];
const leases = ['dynamodb:DeleteItem on table'];
// The per-process stock view reads a product's buckets in one BatchGetItem.
const stockView = ['dynamodb:BatchGetItem on table'];
// Releasing a hold checks its order key (reclaim, sweep); parking a payment checks its hold.
const conditionChecks = ['dynamodb:ConditionCheckItem on table'];

const expected: Record<FunctionId, string[]> = {
  // Liveness only: touches no table, so it may not read one.
  health: [...logs, ...tracing],
  'get-product': [...read, ...stockView, ...logs, ...tracing],
  'get-order': [...read, ...logs, ...tracing],
  'put-product': [...write, ...stockView, ...logs, ...tracing],
  'create-order': [...write, ...logs, ...tracing],
  'create-hold': [
    ...write,
    ...idempotency,
    ...stockView,
    ...conditionChecks,
    'dynamodb:Query on index holdsOfProduct',
    ...logs,
    ...tracing,
  ],
  'payment-webhook': [
    ...write,
    ...idempotency,
    // A late payment reads the product's per-customer limit from the stock view.
    ...stockView,
    ...conditionChecks,
    'secretsmanager:GetSecretValue on webhook secret',
    ...logs,
    ...tracing,
  ],
  // The provider routes share the payment path, not Powertools' idempotency records (their event id is the key):
  // the webhook's table grants without DeleteItem, and each reads its own source's secret only.
  'stripe-webhook': [
    ...write,
    ...stockView,
    ...conditionChecks,
    'secretsmanager:GetSecretValue on stripe secret',
    ...logs,
    ...tracing,
  ],
  'adyen-webhook': [
    ...write,
    ...stockView,
    ...conditionChecks,
    'secretsmanager:GetSecretValue on adyen secret',
    ...logs,
    ...tracing,
  ],
  'expire-holds': [
    ...write,
    ...leases,
    ...conditionChecks,
    'dynamodb:Query on index byDeadline',
    'sqs:SendMessage on sweeper DLQ',
    'sqs:GetQueueAttributes on sweeper DLQ',
    'sqs:GetQueueUrl on sweeper DLQ',
    ...logs,
    ...tracing,
  ],
};

/** lib-dynamodb commands (and the client's own, should one appear) -> the IAM action each needs. */
const COMMAND_ACTIONS: Record<string, string | undefined> = {
  Get: 'dynamodb:GetItem',
  GetItem: 'dynamodb:GetItem',
  BatchGet: 'dynamodb:BatchGetItem',
  BatchGetItem: 'dynamodb:BatchGetItem',
  Put: 'dynamodb:PutItem',
  PutItem: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  UpdateItem: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  DeleteItem: 'dynamodb:DeleteItem',
  BatchWrite: 'dynamodb:BatchWriteItem',
  BatchWriteItem: 'dynamodb:BatchWriteItem',
  Scan: 'dynamodb:Scan',
  TransactGet: 'dynamodb:GetItem',
  TransactGetItems: 'dynamodb:GetItem',
};
/** TransactWriteItems has no action of its own: each item kind needs its single-item action. */
const TRANSACT_ITEM_ACTIONS: Record<string, string> = {
  ConditionCheck: 'dynamodb:ConditionCheckItem',
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
};
/** Powertools' DynamoDB persistence layer (idempotency records) sends these. */
const IDEMPOTENCY_STORE_ACTIONS = [
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
];

/**
 * What a function's code sends to DynamoDB, read from its bundle: esbuild keeps only the code its handler reaches
 * (tree shaking), with the packages left out, so the commands, transaction items and query indexes that remain are
 * the ones it can send. Over-approximates within one function body, never misses a call path.
 */
async function callsOf(entry: string): Promise<{ table: string[]; indexes: string[] }> {
  const result = await build({
    entryPoints: [path.join(repoRoot, entry)],
    absWorkingDir: repoRoot,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    packages: 'external',
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]?.text ?? '';
  const table = new Set<string>();
  const indexes = new Set<string>();
  for (const [, command = ''] of code.matchAll(/\bnew (\w+?)Command\d*\(/g)) {
    // A query needs Query on the index it names: read below, per module.
    if (command === 'Query') continue;
    if (command === 'TransactWrite') {
      for (const [, kind = ''] of code.matchAll(/\b(ConditionCheck|Put|Update|Delete):\s/g)) {
        table.add(TRANSACT_ITEM_ACTIONS[kind] ?? kind);
      }
    } else {
      table.add(COMMAND_ACTIONS[command] ?? `unmapped command ${command}`);
    }
  }
  // esbuild heads each module's code with a `// <path>` comment. A module that queries names its index once
  // (`table.indexes.<name>`), whatever helper builds the input: the index of each query is its module's.
  for (const section of code.split(/^(?=\/\/ \S+\.ts$)/m)) {
    if (!/\bnew QueryCommand\d*\(/.test(section)) continue;
    const named = new Set([...section.matchAll(/\btable\.indexes\.(\w+)/g)].map((match) => match[1] ?? ''));
    const [only, ...more] = [...named];
    if (!only) table.add(`dynamodb:Query (base table) in ${section.split('\n')[0]}`);
    else if (more.length > 0) indexes.add(`ambiguous ${[...named].join('/')} in ${section.split('\n')[0]}`);
    else indexes.add(only);
  }
  if (code.includes('"@aws-lambda-powertools/idempotency/dynamodb"')) {
    for (const action of IDEMPOTENCY_STORE_ACTIONS) table.add(action);
  }
  return { table: [...table].sort(), indexes: [...indexes].sort() };
}

interface PolicyStatementJson {
  Action: string | string[];
  Resource: unknown;
}

/** Every statement of every inline and managed-by-CDK policy in the template. */
function allStatements(built: BuiltStage): PolicyStatementJson[] {
  return [built.dataTemplate, built.apiTemplate].flatMap((template) =>
    Object.values(templateJson(template).Resources).flatMap((resource) => {
      if (resource.Type === 'AWS::IAM::Policy') {
        return (resource.Properties.PolicyDocument as { Statement: PolicyStatementJson[] }).Statement;
      }
      if (resource.Type === 'AWS::IAM::Role') {
        const policies = (resource.Properties.Policies ?? []) as {
          PolicyDocument: { Statement: PolicyStatementJson[] };
        }[];
        return policies.flatMap((policy) => policy.PolicyDocument.Statement);
      }
      return [];
    }),
  );
}

const actionsOf = (statement: PolicyStatementJson) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

describe('function permissions', () => {
  let built: BuiltStage;
  beforeAll(() => {
    built = buildStage({ stage: 'prod' });
  });

  it('GIVEN the route table WHEN the expectations below are read THEN they cover every function, no more', () => {
    expect(Object.keys(expected).sort()).toEqual([...routes.map((route) => route.id), sweeper.id].sort());
  });

  it.each(Object.entries(expected) as [FunctionId, string[]][])(
    'GIVEN %s WHEN its role is read THEN it holds exactly its permissions',
    (id, permissions) => {
      expect([...permissionsOf(built, id)].sort()).toEqual([...permissions].sort());
    },
  );

  it.each([...routes, sweeper].map((fn) => [fn.id, fn.entry] as const))(
    "GIVEN %s's bundled code WHEN its DynamoDB calls are read THEN its role grants each one, and nothing it never sends",
    async (id, entry) => {
      const calls = await callsOf(entry);
      const granted = [...permissionsOf(built, id)];
      const onTable = granted
        .filter((permission) => permission.endsWith(' on table'))
        .map((permission) => permission.replace(/ on table$/, ''));
      const onIndexes = granted.flatMap(
        (permission) => /^dynamodb:Query on index (\w+)$/.exec(permission)?.[1] ?? [],
      );
      expect(calls.table, `${id}: calls (left) vs table grants (right)`).toEqual(onTable.sort());
      expect(calls.indexes, `${id}: queried indexes vs index grants`).toEqual(onIndexes.sort());
    },
  );

  it('GIVEN two handlers whose calls are known WHEN their bundles are scanned THEN the scan finds exactly those (it is not blind)', async () => {
    // get-order reads one item; create-hold also reclaims (index query, condition checks, lease deletes).
    const getOrder = await callsOf('functions/get-order.ts');
    const createHold = await callsOf('functions/create-hold.ts');
    expect(getOrder).toEqual({ table: ['dynamodb:GetItem'], indexes: [] });
    expect(createHold.table).toEqual(
      expect.arrayContaining(['dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem']),
    );
    expect(createHold.indexes).toEqual(['holdsOfProduct']);
  });

  it('GIVEN a read route WHEN its role is read THEN it can only GetItem (and BatchGetItem for the stock view)', () => {
    const readRoutes = routes.filter((route) => route.access === 'read');
    expect(readRoutes.map((route) => route.id)).toContain('get-product');
    for (const route of readRoutes) {
      const dynamo = [...permissionsOf(built, route.id)].filter((permission) =>
        permission.startsWith('dynamodb:'),
      );
      const view = 'readsStockView' in route && route.readsStockView ? stockView : [];
      expect(dynamo.sort(), route.id).toEqual([...view, ...read].sort());
    }
  });

  it('GIVEN get-product WHEN its inline policy is matched THEN the table statement is reads only and no statement puts', () => {
    built.apiTemplate.hasResourceProperties('AWS::IAM::Role', {
      Description: Match.stringLikeRegexp('^get-product:'),
      Policies: [
        {
          PolicyName: 'access',
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Sid: 'Table',
                Effect: 'Allow',
                Action: ['dynamodb:BatchGetItem', 'dynamodb:GetItem'],
              }),
            ]),
          },
        },
      ],
    });
    built.apiTemplate.hasResourceProperties('AWS::IAM::Role', {
      Description: Match.stringLikeRegexp('^get-product:'),
      Policies: Match.not(
        Match.arrayWith([
          Match.objectLike({
            PolicyDocument: {
              Statement: Match.arrayWith([
                Match.objectLike({ Action: Match.arrayWith(['dynamodb:PutItem']) }),
              ]),
            },
          }),
        ]),
      ),
    });
  });

  it('GIVEN the signing secrets WHEN every role is read THEN each payment route reads its own one, and no other role any', () => {
    const owner: Record<string, string> = {
      'payment-webhook': 'webhook secret',
      'stripe-webhook': 'stripe secret',
      'adyen-webhook': 'adyen secret',
    };
    for (const id of built.api.functions.keys()) {
      const secrets = [...permissionsOf(built, id)].filter((permission) =>
        permission.startsWith('secretsmanager:'),
      );
      expect(secrets, id).toEqual(owner[id] ? [`secretsmanager:GetSecretValue on ${owner[id]}`] : []);
    }
  });

  it('GIVEN every policy in both stacks WHEN actions are read THEN none is a wildcard (no dynamodb:*, no *)', () => {
    const actions = allStatements(built).flatMap(actionsOf);
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((action) => action.includes('*'))).toEqual([]);
  });

  it('GIVEN every policy in both stacks WHEN resources are read THEN only the X-Ray actions use Resource "*"', () => {
    const onAnyResource = allStatements(built)
      .filter(
        (statement) =>
          statement.Resource === '*' ||
          (Array.isArray(statement.Resource) && statement.Resource.includes('*')),
      )
      .flatMap(actionsOf);
    expect([...new Set(onAnyResource)].sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  it('GIVEN the functions WHEN their roles are read THEN no role carries a managed policy', () => {
    const roles = Object.values(templateJson(built.apiTemplate).Resources).filter(
      (resource) => resource.Type === 'AWS::IAM::Role',
    );
    expect(roles).toHaveLength(routes.length + 1);
    for (const role of roles) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });
});
